"""Gaussian splatting entry point: camera conversion and the renderer chosen by device.

``render_gaussians`` renders with gsplat's CUDA rasterizer when the tensors
live on a CUDA device and gsplat is installed, and with the pure-torch
renderer (``torch_splat``) otherwise; both take the same inputs and give the
same images.

Our ``backend.asset.Camera`` stores a Blender camera-to-world matrix (the
camera looks down its local -Z, local +Y is image up). Splatting renderers
want the OpenCV world-to-camera matrix (x right, y down, z forward): the two
camera frames differ by a half turn about the camera's x axis, so

    viewmat = inverse(matrix_world @ diag(1, -1, -1, 1)),

and the intrinsics matrix is [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] in our
pixel convention (pixel centres at +0.5, as gsplat's).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..asset import Camera
from .gsplat_backend import (
    gsplat_cuda_status,
    log_fallback,
    rasterize_gaussians_gsplat,
    rasterize_gaussians_gsplat_batch,
)
from .torch_splat import rasterize_gaussians

_BLENDER_TO_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])
_BROKEN: set[str] = set()  # renderers that failed to load in this process


def opencv_viewmat(camera: Camera) -> np.ndarray:
    """float64 [4, 4] world-to-camera matrix in OpenCV axes (x right, y down, z forward) of a Blender-convention camera.

    A world point P maps to camera coordinates (x, y, z) = (viewmat @ [P, 1])[:3]
    with z > 0 in front and pixel (u, v) = (fx x / z + cx, fy y / z + cy), the
    same pixel as ``camera.project(P)``.
    """
    c2w = np.asarray(camera.matrix_world, dtype=np.float64) @ _BLENDER_TO_OPENCV
    rot, pos = c2w[:3, :3], c2w[:3, 3]
    view = np.eye(4)
    view[:3, :3] = rot.T  # the rotation part is orthonormal (rigid camera)
    view[:3, 3] = -rot.T @ pos
    return view


def intrinsics_matrix(camera: Camera) -> np.ndarray:
    """float64 [3, 3] pinhole intrinsics K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] (pixels)."""
    return np.array([[camera.fx, 0.0, camera.cx], [0.0, camera.fy, camera.cy], [0.0, 0.0, 1.0]])


def renderer_for(device: torch.device | str) -> str:
    """"gsplat" for a CUDA device where gsplat's kernels are built or can be built, else "torch".

    On CUDA without usable gsplat kernels (package missing, extension not built and no
    ``nvcc`` to build it) it logs one line saying the torch renderer is used instead.
    """
    if torch.device(device).type != "cuda":
        return "torch"
    usable, reason = gsplat_cuda_status()
    if not usable:
        log_fallback(reason)
        return "torch"
    return "gsplat"


def effective_renderer(name: str) -> str:
    """The renderer that ``render_gaussians(renderer=name)`` actually uses now (after any fallback)."""
    return "torch" if name == "gsplat" and "gsplat" in _BROKEN else name


def render_gaussians(means: Tensor, opacities: Tensor, colors: Tensor, camera: Camera, *,
                     quats: Tensor | None = None, scales: Tensor | None = None, covars: Tensor | None = None,
                     background: Tensor | None = None, renderer: str | None = None,
                     strict: bool = False) -> tuple[Tensor, Tensor]:
    """Render 3D Gaussians through a ``Camera`` (its width x height) on the Gaussians' device.

    Args:
        means: [N, 3] world metres (Blender frame).
        opacities: [N] 0..1.
        colors: [N, D] features, usually sRGB 0..1.
        camera: the view (intrinsics for its own image size).
        quats, scales: [N, 4] (w, x, y, z) and [N, 3] standard deviations, or
        covars: [N, 3, 3] world covariances instead.
        background: optional [D] colour behind the Gaussians.
        renderer: "gsplat" | "torch" | None (None: ``renderer_for(means.device)``).
        strict: raise when gsplat fails to build or load instead of falling back to the
            torch renderer (with one log line) for the rest of the process.

    Returns:
        (colors [H, W, D], alphas [H, W, 1]), differentiable with respect to
        every Gaussian attribute.

    Raises:
        ValueError: unknown renderer name, bad shapes, or "gsplat" off CUDA.
        ModelUnavailableError: "gsplat" asked for but not installed.
    """
    name = renderer or renderer_for(means.device)
    name = effective_renderer(name)
    view = torch.as_tensor(opencv_viewmat(camera), dtype=means.dtype, device=means.device)
    K = torch.as_tensor(intrinsics_matrix(camera), dtype=means.dtype, device=means.device)
    args = (means, quats, scales, opacities, colors, view, K, int(camera.width), int(camera.height))
    if name == "gsplat":
        try:
            return rasterize_gaussians_gsplat(*args, covars=covars, background=background)
        except (ImportError, OSError, RuntimeError, AttributeError) as exc:
            if strict or isinstance(exc, torch.OutOfMemoryError):
                raise
            # The first use compiles gsplat's kernels; a failed build falls back for the rest of the process.
            _BROKEN.add("gsplat")
            log_fallback(f"building or loading gsplat's CUDA extension failed ({exc.__class__.__name__}: {exc})")
            name = "torch"
    if name == "torch":
        return rasterize_gaussians(*args, covars=covars, background=background)
    raise ValueError(f"unknown splatting renderer {name!r}; choose 'gsplat' or 'torch'")


def render_gaussians_batch(means: Tensor, opacities: Tensor, colors: Tensor, camera: Camera, *,
                           covars: Tensor, renderer: str | None = None) -> tuple[Tensor, Tensor]:
    """Render B states of the same Gaussians (one per frame) through one camera.

    gsplat renders the whole batch in one ``rasterization`` call (its leading batch
    dimensions, gsplat >= 1.5); the torch renderer loops over the states.

    Args:
        means: [B, N, 3] world metres per state.
        opacities: [N] 0..1 (shared).
        colors: [N, D] (shared).
        camera: the view.
        covars: [B, N, 3, 3] world covariances per state.
        renderer: as in ``render_gaussians``.

    Returns:
        (colors [B, H, W, D], alphas [B, H, W, 1]), differentiable.
    """
    name = effective_renderer(renderer or renderer_for(means.device))
    if name == "gsplat":
        view = torch.as_tensor(opencv_viewmat(camera), dtype=means.dtype, device=means.device)
        K = torch.as_tensor(intrinsics_matrix(camera), dtype=means.dtype, device=means.device)
        try:
            return rasterize_gaussians_gsplat_batch(means, covars, opacities, colors, view, K,
                                                    int(camera.width), int(camera.height))
        except (ImportError, OSError, RuntimeError, AttributeError) as exc:
            if isinstance(exc, torch.OutOfMemoryError):
                raise
            _BROKEN.add("gsplat")
            log_fallback(f"building or loading gsplat's CUDA extension failed ({exc.__class__.__name__}: {exc})")
    outs = [render_gaussians(means[b], opacities, colors, camera, covars=covars[b], renderer="torch")
            for b in range(len(means))]
    return torch.stack([o[0] for o in outs]), torch.stack([o[1] for o in outs])
