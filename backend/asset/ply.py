"""Standard 3D Gaussian Splatting PLY (Kerbl et al., SIGGRAPH 2023, reference code's ``save_ply``).

Binary little-endian vertex element with properties
``x y z nx ny nz f_dc_0..2 [f_rest_0..] opacity scale_0..2 rot_0..3``:
``f_dc = (colour - 0.5) / SH_C0``, ``opacity`` = logit, ``scale_*`` = log of
the standard deviation, ``rot`` = quaternion (w, x, y, z). ``f_rest`` is
channel-major (all red coefficients, then green, then blue), as the reference
code stores it. Read by SuperSplat, nerfstudio and the Blender splat add-ons.
"""

from __future__ import annotations

import os

import numpy as np

from .model import SH_C0


def gaussians_to_ply_bytes(
    means: np.ndarray,
    colors: np.ndarray,
    opacities: np.ndarray,
    scales: np.ndarray,
    rotations: np.ndarray,
    sh_rest: np.ndarray | None = None,
) -> bytes:
    """Pack one frame of Gaussians as a 3DGS PLY file.

    Args:
        means: [N, 3] metres. colors: [N, 3] sRGB 0..1. opacities: [N] 0..1.
        scales: [N, 3] standard deviations in metres (> 0).
        rotations: [N, 4] unit quaternions (w, x, y, z).
        sh_rest: optional [N, K, 3] higher SH coefficients.

    Returns:
        The file's bytes.
    """
    n = int(np.asarray(means).shape[0])
    k = 0 if sh_rest is None else int(sh_rest.shape[1])
    names = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    names += [f"f_rest_{i}" for i in range(3 * k)]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    data = np.zeros((n, len(names)), dtype="<f4")
    data[:, 0:3] = means
    data[:, 6:9] = (np.asarray(colors, np.float64) - 0.5) / SH_C0
    col = 9
    if k:
        # channel-major: [N, K, 3] -> [N, 3, K] -> [N, 3K]
        data[:, col : col + 3 * k] = np.transpose(sh_rest, (0, 2, 1)).reshape(n, 3 * k)
        col += 3 * k
    op = np.clip(np.asarray(opacities, np.float64), 1e-6, 1 - 1e-6)
    data[:, col] = np.log(op / (1 - op))
    data[:, col + 1 : col + 4] = np.log(np.asarray(scales, np.float64))
    data[:, col + 4 : col + 8] = rotations
    header = "ply\nformat binary_little_endian 1.0\n" f"element vertex {n}\n"
    header += "".join(f"property float {p}\n" for p in names) + "end_header\n"
    return header.encode("ascii") + data.tobytes()


def write_ply(path: str | os.PathLike, **frame) -> None:
    """Write one frame (keyword arguments of ``gaussians_to_ply_bytes``) to ``path``."""
    with open(path, "wb") as fh:
        fh.write(gaussians_to_ply_bytes(**frame))


def read_ply(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a binary little-endian float-only PLY written by ``write_ply``.

    Returns:
        property name -> float32 [N] column.

    Raises:
        ValueError: not a binary little-endian PLY with float properties.
    """
    with open(path, "rb") as fh:
        raw = fh.read()
    end = raw.find(b"end_header\n")
    if not raw.startswith(b"ply\n") or end < 0:
        raise ValueError(f"{path}: not a PLY file")
    header = raw[:end].decode("ascii").splitlines()
    if "format binary_little_endian 1.0" not in header:
        raise ValueError(f"{path}: only binary little-endian PLY is supported")
    n = next(int(line.split()[2]) for line in header if line.startswith("element vertex"))
    props = [line.split()[2] for line in header if line.startswith("property float")]
    body = np.frombuffer(raw, dtype="<f4", offset=end + len(b"end_header\n"), count=n * len(props))
    table = body.reshape(n, len(props))
    return {name: table[:, i] for i, name in enumerate(props)}
