"""The weight-free in-between engine: ARAP registration + ARAP interpolation + morphing.

1. ``register_mesh``: the start mesh's end positions (features, flow, silhouette; ARAP).
2. ``ArapInterpolator``: vertex trajectories between the two poses (Alexa et al. 2000).
3. ``render_inbetween_frames``: textured in-between images (start warped forward, end
   warped backward, cross-dissolved).
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from ...geometry2d.arap_interpolation import ArapInterpolator
from ...geometry2d.arap_registration import register_mesh
from ...geometry2d.inbetween_frames import render_inbetween_frames
from ...progress import Progress
from ...settings import GenerateSettings
from ...types import Foreground, Motion2D, SilhouetteMesh

# Share of the stage's progress bar per step.
_REGISTER, _INTERPOLATE = 0.6, 0.1


class _SubProgress:
    """Maps a sub-task's 0..1 onto [lo, hi] of the stage's progress (and passes cancellation through)."""

    def __init__(self, progress: Progress, lo: float, hi: float):
        self.progress, self.lo, self.hi = progress, lo, hi

    def update(self, fraction: float, message: str = "", force: bool = False) -> None:
        self.progress.update(self.lo + (self.hi - self.lo) * min(max(fraction, 0.0), 1.0), message, force)


def _same_size(start: Foreground, end: Foreground) -> Foreground:
    """The end foreground at the start's size (``prepare_pair`` normally guarantees it already)."""
    if end.mask.shape == start.mask.shape:
        return end
    h, w = start.mask.shape
    rgb = cv2.resize(end.rgb, (w, h), interpolation=cv2.INTER_LINEAR)
    alpha = cv2.resize(end.alpha, (w, h), interpolation=cv2.INTER_LINEAR)
    mask = cv2.resize(end.mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    return Foreground(rgb=rgb, alpha=alpha, mask=mask, method=end.method)


def run(mesh: SilhouetteMesh, start: Foreground, end: Foreground, frame_count: int, settings: GenerateSettings,
        progress: Progress) -> Motion2D:
    """ARAP in-betweening; see ``backend.stages.inbetween.run_inbetween`` for arguments and result."""
    end = _same_size(start, end)
    timings = {}
    t0 = time.perf_counter()
    reg = register_mesh(mesh, start, end, iterations=settings.preset.registration_iterations,
                        progress=_SubProgress(progress, 0.0, _REGISTER), seed=settings.seed)
    timings["registration"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    times = np.linspace(0.0, 1.0, frame_count)
    interp = ArapInterpolator(mesh.vertices, reg.positions, mesh.faces)
    trajectories = np.empty((frame_count, len(mesh.vertices), 2))
    for i, t in enumerate(times):
        trajectories[i] = interp.positions(t)
        progress.update(_REGISTER + _INTERPOLATE * (i + 1) / frame_count, "interpolating")
    trajectories[0] = mesh.vertices
    trajectories[-1] = reg.positions
    timings["interpolation"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    lo = _REGISTER + _INTERPOLATE
    frames = render_inbetween_frames(
        start.rgb, start.alpha, start.mask, end.rgb, end.alpha, end.mask,
        mesh.vertices, reg.positions, mesh.faces, trajectories, times,
        on_frame=lambda i: progress.update(lo + (1.0 - lo) * (i + 1) / frame_count, "rendering in-between frames"))
    timings["frames"] = time.perf_counter() - t0

    diagnostics = dict(reg.diagnostics)
    diagnostics["engine"] = "arap"
    diagnostics["stage_timings_s"] = {k: round(v, 4) for k, v in timings.items()}
    return Motion2D(trajectories=trajectories, frames=frames, diagnostics=diagnostics)
