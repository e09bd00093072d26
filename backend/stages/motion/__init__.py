"""Motion stage: the 2D in-between motion carried onto the 3D shape, per keyframe segment.

``run_motion(shape, mesh, motion2d, view, keyframes, settings, progress, engine)``
looks the engine up by name in ``ENGINES``:

* ``lift`` (weight-free): rigidity-regularised lift of the 2D motion, keyframes
  first, in-betweens from the blend of their segment's keyframes (``lift``).
* ``deformation`` (model-style optimisation, In-2-4D): per-segment deformation
  fields fitted to the in-between frames through Gaussian-splatting renders
  (gsplat on CUDA, a torch renderer elsewhere), starting from the lift
  (``deformation_engine``).
"""

from __future__ import annotations

from ...settings import GenerateSettings
from ...types import Motion2D, Motion3D, Shape3D, SilhouetteMesh
from .lift import lift_motion


def _lift(shape, mesh, motion2d, view, keyframes, settings, progress) -> Motion3D:
    return lift_motion(shape, mesh, motion2d, view, keyframes, progress)


def _deformation(shape, mesh, motion2d, view, keyframes, settings, progress) -> Motion3D:
    from .deformation_engine import fit_deformation

    init = lift_motion(shape, mesh, motion2d, view, keyframes, progress.span(0.0, 0.1))
    return fit_deformation(shape, mesh, motion2d, view, keyframes, progress.span(0.1, 1.0), init=init,
                           device=settings.device, seed=settings.seed)


#: Engine name -> function(shape, mesh, motion2d, view, keyframes, settings, progress) -> Motion3D.
ENGINES = {"lift": _lift, "deformation": _deformation}


def run_motion(shape: Shape3D, mesh: SilhouetteMesh, motion2d: Motion2D, view, keyframes: list[int],
               settings: GenerateSettings, progress, engine: str = "lift") -> Motion3D:
    """Carry the 2D motion into 3D with the named engine.

    Returns:
        ``Motion3D``: vertices float64 [T, V3, 3] in world metres; frame 0 is the rest shape.

    Raises:
        ValueError: unknown engine (the message lists the valid names).
        backend.errors.Cancelled: the job was cancelled.
    """
    try:
        fn = ENGINES[engine]
    except KeyError:
        raise ValueError(f"unknown motion engine {engine!r}; valid engines: {', '.join(ENGINES)}") from None
    return fn(shape, mesh, motion2d, view, keyframes, settings, progress)


__all__ = ["ENGINES", "lift_motion", "run_motion"]
