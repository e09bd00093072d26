"""Keyframe stage: which frames the 3D stages solve for directly.

``select_keyframes(motion, mesh, settings, engine)`` looks the engine up by
name in ``ENGINES``:

* ``motion`` (weight-free): motion-magnitude hierarchy on the 2D mesh
  trajectories (see ``motion_hierarchy``).

* ``features`` (model): DINOv2 feature-similarity hierarchy on the in-between
  images, In-2-4D's own criterion (see ``feature_engine``).
"""

from __future__ import annotations

from typing import Callable

from ...settings import GenerateSettings
from ...types import Motion2D, SilhouetteMesh
from .motion_hierarchy import motion_keyframes

KeyframeEngine = Callable[[Motion2D, SilhouetteMesh, GenerateSettings], list]

#: Largest vertex motion between neighbouring keyframes, as a fraction of the object's size.
MOTION_THRESHOLD = 0.12


def _motion_engine(motion: Motion2D, mesh: SilhouetteMesh, settings: GenerateSettings) -> list[int]:
    return motion_keyframes(motion.trajectories, MOTION_THRESHOLD)


def _features_engine(motion: Motion2D, mesh: SilhouetteMesh, settings: GenerateSettings) -> list[int]:
    from .feature_engine import select_keyframes_by_features

    return select_keyframes_by_features(motion, mesh, settings, device=settings.device)


#: Engine name -> function(motion, mesh, settings) -> sorted frame indices.
ENGINES: dict[str, KeyframeEngine] = {
    "motion": _motion_engine,
    "features": _features_engine,
}


def select_keyframes(motion: Motion2D, mesh: SilhouetteMesh, settings: GenerateSettings,
                     engine: str = "motion") -> list[int]:
    """Pick keyframes of a 2D motion.

    Args:
        motion: the in-between result (trajectories [T, V, 2]).
        mesh: the start silhouette mesh.
        settings: job settings.
        engine: a key of ``ENGINES``.

    Returns:
        Sorted unique frame indices including 0 and T-1.

    Raises:
        ValueError: unknown engine (the message lists the valid names).
    """
    try:
        fn = ENGINES[engine]
    except KeyError:
        raise ValueError(f"unknown keyframe engine {engine!r}; valid engines: {', '.join(sorted(ENGINES))}") from None
    keys = sorted({int(k) for k in fn(motion, mesh, settings)} | {0, len(motion.trajectories) - 1})
    return keys


__all__ = ["ENGINES", "MOTION_THRESHOLD", "select_keyframes"]
