"""In-betweening stage (2D): the start silhouette mesh moved onto the end image over T frames.

``run_inbetween(mesh, start, end, frame_count, settings, progress, engine)``
looks the engine up by name in ``ENGINES``:

* ``arap`` (weight-free, CPU): ARAP registration of the start mesh onto the end
  image from feature matches, optical flow and the silhouettes, then
  as-rigid-as-possible shape interpolation and textured in-between images
  (see ``arap_engine``).

* ``video`` (model): first/last-frame video diffusion (Wan2.1 FLF2V in
  diffusers), then the start mesh tracked through the generated frames
  (see ``video_engine``); torch and diffusers load only when it is chosen.
"""

from __future__ import annotations

from typing import Callable

from ...progress import Progress
from ...settings import GenerateSettings
from ...types import Foreground, Motion2D, SilhouetteMesh
from . import arap_engine

InbetweenEngine = Callable[[SilhouetteMesh, Foreground, Foreground, int, GenerateSettings, Progress], Motion2D]

def _video_engine(mesh, start, end, frame_count, settings, progress) -> Motion2D:
    from .video_engine import run_video_inbetween

    return run_video_inbetween(mesh, start, end, frame_count, settings, progress, device=settings.device)


#: Engine name -> function(mesh, start, end, frame_count, settings, progress) -> Motion2D.
ENGINES: dict[str, InbetweenEngine] = {
    "arap": arap_engine.run,
    "video": _video_engine,
}


def run_inbetween(mesh: SilhouetteMesh, start: Foreground, end: Foreground, frame_count: int,
                  settings: GenerateSettings, progress: Progress, engine: str = "arap") -> Motion2D:
    """Move the start mesh onto the end image over ``frame_count`` frames.

    Args:
        mesh: the start object's silhouette mesh (``backend.geometry2d.build_silhouette_mesh``).
        start, end: ``Foreground`` of the start and end images at the working resolution.
        frame_count: T >= 2.
        settings: the job settings (quality preset, seed).
        progress: reports the stage's fraction; raises ``Cancelled`` (propagated) on cancel.
        engine: a key of ``ENGINES``.

    Returns:
        ``Motion2D``: trajectories float64 [T, V, 2] (frame 0 equals ``mesh.vertices``,
        frame T-1 the registered end positions), frames uint8 [T, H, W, 3],
        diagnostics (``end_iou``, ``feature_matches``, timings, ...).

    Raises:
        ValueError: unknown engine (the message lists the valid names) or frame_count < 2.
    """
    try:
        fn = ENGINES[engine]
    except KeyError:
        raise ValueError(f"unknown in-between engine {engine!r}; valid engines: {', '.join(sorted(ENGINES))}") from None
    if int(frame_count) < 2:
        raise ValueError(f"frame_count must be at least 2, got {frame_count}")
    return fn(mesh, start, end, int(frame_count), settings, progress)


__all__ = ["ENGINES", "run_inbetween"]
