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

import importlib.util

import torch
from torch import Tensor

from ..errors import ModelUnavailableError


def gsplat_available() -> bool:
    """Whether the gsplat package is installed (does not import it)."""
    return importlib.util.find_spec("gsplat") is not None


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
