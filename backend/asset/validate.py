"""Checks that an asset (manifest + arrays) obeys shared/design/asset-format.md.

Every failure raises ``AssetError`` with a sentence that names the file or
field and what is wrong, so the add-on can show it as is.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np

from .camera import Camera
from .model import FORMAT, FORMAT_VERSION, MODES, AnimatedMesh, Asset, Gaussians

REQUIRED_KEYS = (
    "format",
    "format_version",
    "mode",
    "fps",
    "frame_count",
    "keyframes",
    "gaussian_count",
    "camera",
    "inputs",
    "settings",
    "engines",
    "generator",
    "timings_s",
)

QUAT_TOLERANCE = 1e-3

CHUNK_ELEMENTS = 1 << 22
"""Values per slice when scanning per-frame arrays (16 MiB of float32)."""


class AssetError(ValueError):
    """An asset directory or in-memory asset breaks the format contract."""


def check_manifest_header(manifest: dict) -> None:
    """Refuse a manifest that is not a Tween4D asset or is from a newer version.

    Raises:
        AssetError: unknown ``format`` or ``format_version`` newer than this reader.
    """
    if not isinstance(manifest, dict):
        raise AssetError("asset.json must hold a JSON object")
    fmt = manifest.get("format")
    if fmt != FORMAT:
        raise AssetError(f"asset.json: format is {fmt!r}, expected {FORMAT!r}; this is not a Tween4D asset")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise AssetError(f"asset.json: format_version {version!r} is not a positive integer")
    if version > FORMAT_VERSION:
        raise AssetError(
            f"asset.json: format_version {version} is newer than this Tween4D reads "
            f"({FORMAT_VERSION}); update the Tween4D extension to open it"
        )


def validate_manifest(manifest: dict) -> None:
    """Check the manifest's required keys and their types.

    Raises:
        AssetError: a key is missing or malformed.
    """
    check_manifest_header(manifest)
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise AssetError(f"asset.json is missing {', '.join(missing)}")
    if manifest["mode"] not in MODES:
        raise AssetError(f"asset.json: mode {manifest['mode']!r} is not one of {MODES}")
    fps = manifest["fps"]
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) or not fps > 0:
        raise AssetError(f"asset.json: fps must be a finite positive number, got {fps!r}")
    t = manifest["frame_count"]
    if not isinstance(t, int) or t < 1:
        raise AssetError(f"asset.json: frame_count must be a positive integer, got {t!r}")
    keys = manifest["keyframes"]
    if not isinstance(keys, list) or not all(isinstance(k, int) and 0 <= k < t for k in keys):
        raise AssetError("asset.json: keyframes must be a list of frame indices inside the frame range")
    if keys != sorted(set(keys)):
        raise AssetError("asset.json: keyframes must be sorted and unique")
    n = manifest["gaussian_count"]
    if not isinstance(n, int) or n < 1:
        raise AssetError(f"asset.json: gaussian_count must be a positive integer, got {n!r}")
    try:
        Camera.from_dict(manifest["camera"])
    except (ValueError, TypeError) as exc:
        raise AssetError(f"asset.json: {exc}") from exc
    inputs = manifest["inputs"]
    if not isinstance(inputs, list) or not all(isinstance(i, dict) and "file" in i and "sha256" in i for i in inputs):
        raise AssetError("asset.json: inputs must list {file, sha256} entries")
    for key in ("settings", "engines", "generator", "timings_s"):
        if not isinstance(manifest[key], dict):
            raise AssetError(f"asset.json: {key} must be an object")


def _check_shape(name: str, arr, shape: tuple, dtype_kind: str = "f") -> np.ndarray:
    if arr is None:
        raise AssetError(f"{name} is missing")
    a = np.asanyarray(arr)
    if a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
        want = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        raise AssetError(f"{name} has shape {list(a.shape)}, expected {want}")
    if a.dtype.kind != dtype_kind:
        raise AssetError(f"{name} has dtype {a.dtype}, expected {'float' if dtype_kind == 'f' else 'int'}")
    return a


def _chunks(a: np.ndarray, check: Optional[Callable[[], None]]):
    """Slices of ``a`` along its first axis of about ``CHUNK_ELEMENTS`` values each; ``check`` runs before each."""
    step = max(1, CHUNK_ELEMENTS // max(1, a[:1].size))
    for lo in range(0, max(1, a.shape[0]), step):
        if check is not None:
            check()
        yield a[lo:lo + step]


def _check_array(name: str, arr, shape: tuple, dtype_kind: str = "f", check=None) -> np.ndarray:
    a = _check_shape(name, arr, shape, dtype_kind)
    if dtype_kind == "f":
        for part in _chunks(a, check):
            if not np.all(np.isfinite(part)):
                raise AssetError(f"{name} contains NaN or infinite values")
    return a


def validate_gaussians(g: Gaussians, frame_count: int, gaussian_count: int,
                       check: Optional[Callable[[], None]] = None) -> None:
    """Check shapes, ranges and unit quaternions of the Gaussians.

    Per-frame arrays are scanned in slices of whole frames (``CHUNK_ELEMENTS``
    values), so a large memory-mapped asset is never copied whole, and
    ``check`` (e.g. a cancel check) runs between slices.

    Raises:
        AssetError: any mismatch with the manifest's counts or the format.
        Whatever ``check`` raises.
    """
    t, n = frame_count, gaussian_count
    _check_array("gaussians.pc2 (means)", g.means, (t, n, 3), check=check)
    colors = _check_array("colors", g.colors, (n, 3))
    op = _check_array("opacities", g.opacities, (n,))
    scales = _check_array("scales", g.scales, (t, n, 3) if np.ndim(g.scales) == 3 else (n, 3), check=check)
    rotations = _check_array("rotations", g.rotations, (t, n, 4) if np.ndim(g.rotations) == 3 else (n, 4),
                             check=check)
    if colors.size and (colors.min() < -1e-6 or colors.max() > 1 + 1e-6):
        raise AssetError("colors must be sRGB values in 0..1")
    if op.size and (op.min() < -1e-6 or op.max() > 1 + 1e-6):
        raise AssetError("opacities must be in 0..1")
    for part in _chunks(scales, check):
        if part.size and part.min() <= 0:
            raise AssetError("scales must be positive standard deviations in metres")
    for part in _chunks(rotations, check):
        q = np.asarray(part, dtype=np.float64)
        norms = np.sqrt(np.einsum("...i,...i->...", q, q))
        if norms.size and np.abs(norms - 1).max() > QUAT_TOLERANCE:
            worst = norms.flat[np.abs(norms - 1).argmax()]
            raise AssetError(f"rotations must be unit quaternions (worst norm {worst:.4f})")
    if g.sh_rest is not None:
        _check_array("sh_rest", g.sh_rest, (n, None, 3))
    if g.source_pixel is not None:
        _check_array("source_pixel", g.source_pixel, (n, 2), dtype_kind="i")


def validate_mesh(mesh: AnimatedMesh, frame_count: int, check: Optional[Callable[[], None]] = None) -> None:
    """Check the optional animated mesh.

    Raises:
        AssetError: shape mismatches, out-of-range face indices or UVs.
    """
    verts = _check_array("mesh.pc2 (vertices)", mesh.vertices, (frame_count, None, 3), check=check)
    v = verts.shape[1]
    _check_array("mesh faces", mesh.faces, (None, 3), dtype_kind="i")
    faces = np.asarray(mesh.faces)
    if faces.size and (faces.min() < 0 or faces.max() >= v):
        raise AssetError(f"mesh faces index vertices outside 0..{v - 1}")
    _check_array("mesh uv", mesh.uv, (v, 2))
    if mesh.vertex_colors is not None:
        _check_array("mesh vertex_colors", mesh.vertex_colors, (v, 3))


def validate_asset(asset: Asset, check: Optional[Callable[[], None]] = None) -> None:
    """Validate the whole asset: manifest, Gaussians and the optional mesh.

    Args:
        asset: the asset to check.
        check: optional callable run between slices of the large arrays (a cancel check).

    Raises:
        AssetError: the first problem found. Whatever ``check`` raises.
    """
    m = asset.manifest
    validate_manifest(m)
    validate_gaussians(asset.gaussians, m["frame_count"], m["gaussian_count"], check=check)
    if asset.mesh is not None:
        validate_mesh(asset.mesh, m["frame_count"], check=check)
