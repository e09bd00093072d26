"""Render an asset's Gaussians through cameras (CPU or GPU), for previews, tests and benchmarks.

A thin wrapper over ``backend.render.splatting.render_gaussians`` (gsplat on
CUDA, the pure-torch renderer elsewhere) without gradients, plus the
uncovered fraction of a view (pixels whose accumulated opacity stays under
one half).
"""

from __future__ import annotations

import numpy as np

from ..asset import Camera


def render_view(means: np.ndarray, colors: np.ndarray, opacities: np.ndarray, scales: np.ndarray,
                rotations: np.ndarray, camera: Camera, background=(1.0, 1.0, 1.0), device: str = "cpu"
                ) -> tuple[np.ndarray, np.ndarray]:
    """One frame of Gaussians seen through ``camera``.

    Args:
        means: float [N, 3] world metres; colors: float [N, 3] sRGB 0..1;
        opacities: float [N]; scales: float [N, 3] metres; rotations: float [N, 4] (w, x, y, z).
        camera: the view (its width x height).
        background: sRGB colour behind the Gaussians.
        device: torch device.

    Returns:
        (rgb float32 [H, W, 3] 0..1, alpha float32 [H, W]).
    """
    import torch

    from .splatting import render_gaussians

    def t(x):
        return torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32, device=device)

    with torch.no_grad():
        rgb, alpha = render_gaussians(t(means), t(opacities), t(colors), camera, quats=t(rotations), scales=t(scales),
                                      background=t(np.asarray(background, np.float32)))
    return np.clip(rgb.cpu().numpy(), 0, 1), alpha[..., 0].cpu().numpy()


def uncovered_fraction(alpha: np.ndarray, threshold: float = 0.5) -> float:
    """Fraction of pixels whose accumulated opacity ``alpha`` [H, W] is under ``threshold``."""
    return float(np.mean(np.asarray(alpha) < threshold))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two images in 0..1 (any equal shapes)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


__all__ = ["psnr", "render_view", "uncovered_fraction"]
