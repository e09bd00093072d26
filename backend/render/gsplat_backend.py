"""Gaussian splatting on CUDA with gsplat's fused rasterizer.

``gsplat.rasterization`` (gsplat >= 1.0, ``gsplat/rendering.py``) takes
means [N, 3], quats [N, 4] (w, x, y, z, need not be unit), scales [N, 3]
(standard deviations), opacities [N], colors [N, D], world-to-camera
``viewmats`` [C, 4, 4] in OpenCV axes (x right, y down, z forward),
intrinsics ``Ks`` [C, 3, 3], and optionally full ``covars`` [N, 3, 3] instead
of quats/scales; it returns colors [C, H, W, D], alphas [C, H, W, 1] and a
dict of intermediates. Its kernels only run on CUDA (the package imports on a
CPU-only machine, but rasterizing there fails); ``backend.render.torch_splat``
is the pure-torch counterpart with the same conventions and numbers.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import shutil
from pathlib import Path

import torch
from torch import Tensor

from ..errors import ModelUnavailableError

log = logging.getLogger(__name__)


def gsplat_available() -> bool:
    """Whether the gsplat package is installed (does not import it)."""
    return importlib.util.find_spec("gsplat") is not None


def cuda_toolkit_nvcc() -> str | None:
    """Path of the CUDA compiler that a JIT build would use, or None.

    The places ``torch.utils.cpp_extension`` looks (its ``CUDA_HOME`` search): ``$CUDA_HOME`` /
    ``$CUDA_PATH``, ``nvcc`` on PATH, ``/usr/local/cuda``.
    """
    for home in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH")):
        if home and (Path(home) / "bin" / "nvcc").is_file():
            return str(Path(home) / "bin" / "nvcc")
    found = shutil.which("nvcc")
    if found:
        return found
    default = Path("/usr/local/cuda/bin/nvcc")
    return str(default) if default.is_file() else None


@functools.lru_cache(maxsize=1)
def gsplat_cuda_status() -> tuple[bool, str]:
    """Whether gsplat's CUDA kernels can run in this process, and why (without importing or building them).

    gsplat 1.x from PyPI ships sources: its kernels come from a prebuilt ``gsplat.csrc``
    extension when one is installed, else they are compiled with ``nvcc`` at first use
    (``gsplat/cuda/_backend.py``). Without the package or a CUDA toolkit they cannot run.

    Returns:
        (usable, reason): usable is True when the extension is prebuilt or can be built.
    """
    if not gsplat_available():
        return False, "gsplat is not installed"
    if importlib.util.find_spec("gsplat.csrc") is not None:
        return True, "gsplat's prebuilt CUDA extension"
    nvcc = cuda_toolkit_nvcc()
    if nvcc:
        return True, f"gsplat's CUDA extension, compiled at first use with {nvcc}"
    return False, "gsplat's CUDA extension is not built and cannot be built here (no nvcc; CUDA_HOME unset)"


_fallback_logged: set[str] = set()


def log_fallback(reason: str) -> None:
    """Log, once per process and reason, that CUDA splatting uses the pure-torch renderer."""
    if reason not in _fallback_logged:
        _fallback_logged.add(reason)
        log.warning("Gaussian splatting on CUDA uses the built-in torch renderer (slower, same images): %s.", reason)


def rasterize_gaussians_gsplat(means: Tensor, quats: Tensor | None, scales: Tensor | None, opacities: Tensor,
                               colors: Tensor, viewmat: Tensor, K: Tensor, width: int, height: int, *,
                               covars: Tensor | None = None, background: Tensor | None = None,
                               near_plane: float = 0.01, far_plane: float = 1e10,
                               eps2d: float = 0.3) -> tuple[Tensor, Tensor]:
    """Render 3D Gaussians into one camera with ``gsplat.rasterization`` (CUDA tensors).

    Args and returns as ``backend.render.torch_splat.rasterize_gaussians``:
    colors [H, W, D] (background composited when given), alphas [H, W, 1].
    Everything is cast to float32 (gsplat's kernels are float32 only).

    Raises:
        ModelUnavailableError: gsplat is not installed.
        ValueError: the tensors are not on a CUDA device, or neither
            quats/scales nor covars are given.
    """
    if not gsplat_available():
        raise ModelUnavailableError("The gsplat package (CUDA Gaussian splatting) is not installed.",
                                    "Run 'python install_deps.py --extra models' on a machine with an NVIDIA GPU, "
                                    "or use device 'cpu'.",
                                    code="model.gsplat_missing")
    if means.device.type != "cuda":
        raise ValueError(f"gsplat rasterizes on CUDA only; the Gaussians are on {means.device}")
    import gsplat

    f32 = dict(dtype=torch.float32, device=means.device)
    if covars is None:
        if quats is None or scales is None:
            raise ValueError("give quats and scales, or covars")
        quats_in, scales_in, covars_in = quats.to(**f32), scales.to(**f32), None
    else:
        quats_in, scales_in, covars_in = None, None, covars.to(**f32)
    bg = None if background is None else background.to(**f32).reshape(1, -1)
    render, alpha, _ = gsplat.rasterization(
        means.to(**f32), quats_in, scales_in, opacities.to(**f32), colors.to(**f32),
        viewmat.to(**f32)[None], K.to(**f32)[None], int(width), int(height),
        near_plane=near_plane, far_plane=far_plane, eps2d=eps2d, packed=False, backgrounds=bg,
        covars=covars_in, rasterize_mode="classic",
    )
    return render[0], alpha[0]


def rasterize_gaussians_gsplat_batch(means: Tensor, covars: Tensor, opacities: Tensor, colors: Tensor,
                                     viewmat: Tensor, K: Tensor, width: int, height: int, *,
                                     near_plane: float = 0.01, far_plane: float = 1e10,
                                     eps2d: float = 0.3) -> tuple[Tensor, Tensor]:
    """B states of N Gaussians through one camera in one ``gsplat.rasterization`` call (CUDA tensors).

    gsplat >= 1.5 takes leading batch dimensions: means [B, N, 3], covars [B, N, 3, 3],
    opacities [B, N], colors [B, N, D], viewmats [B, 1, 4, 4], Ks [B, 1, 3, 3] and returns
    [B, 1, H, W, D] (``gsplat/rendering.py``, ``rasterization``).

    Args:
        means: [B, N, 3]; covars: [B, N, 3, 3]; opacities: [N]; colors: [N, D];
        viewmat: [4, 4] OpenCV world-to-camera; K: [3, 3]; width, height: pixels.

    Returns:
        (colors [B, H, W, D], alphas [B, H, W, 1]).

    Raises:
        ModelUnavailableError: gsplat is not installed.
        ValueError: the tensors are not on a CUDA device.
    """
    if not gsplat_available():
        raise ModelUnavailableError("The gsplat package (CUDA Gaussian splatting) is not installed.",
                                    "Run 'python install_deps.py --extra models' on a machine with an NVIDIA GPU, "
                                    "or use device 'cpu'.",
                                    code="model.gsplat_missing")
    if means.device.type != "cuda":
        raise ValueError(f"gsplat rasterizes on CUDA only; the Gaussians are on {means.device}")
    import gsplat

    f32 = dict(dtype=torch.float32, device=means.device)
    b = means.shape[0]
    render, alpha, _ = gsplat.rasterization(
        means.to(**f32).contiguous(), None, None, opacities.to(**f32).expand(b, -1).contiguous(),
        colors.to(**f32).expand(b, -1, -1).contiguous(), viewmat.to(**f32).expand(b, 1, 4, 4).contiguous(),
        K.to(**f32).expand(b, 1, 3, 3).contiguous(), int(width), int(height),
        near_plane=near_plane, far_plane=far_plane, eps2d=eps2d, packed=False, covars=covars.to(**f32).contiguous(),
        rasterize_mode="classic",
    )
    return render[:, 0], alpha[:, 0]
