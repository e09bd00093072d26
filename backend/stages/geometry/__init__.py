"""Geometry stage: the input camera and the closed, textured 2.5D shape of the start state.

``build_geometry(mesh, fg, view, settings, progress, engine)`` looks the engine
up by name in ``ENGINES``:

* ``inflate`` (weight-free): Poisson inflation of the silhouette (``inflate``).
* ``depth`` (model): the front follows Depth Anything V2's monocular depth, the
  back the inflation (``depth_engine``); torch loads only when it is chosen.
"""

from __future__ import annotations

from ...settings import GenerateSettings
from ...types import Foreground, InputView, Shape3D, SilhouetteMesh
from .camera_setup import input_view
from .inflate import build_shape, surface_pixel_weights


def _inflate(mesh, fg, view, settings, progress) -> Shape3D:
    return build_shape(mesh, fg, view, settings.inflation)


def _depth(mesh, fg, view, settings, progress) -> Shape3D:
    from .depth_engine import build_shape_from_depth

    return build_shape_from_depth(mesh, fg, view, settings.inflation, device=settings.device, progress=progress)


#: Engine name -> function(mesh, fg, view, settings, progress) -> Shape3D.
ENGINES = {"inflate": _inflate, "depth": _depth}


def build_geometry(mesh: SilhouetteMesh, fg: Foreground, view: InputView, settings: GenerateSettings,
                   progress=None, engine: str = "inflate") -> Shape3D:
    """Build the 3D shape of the start state with the named engine.

    Returns:
        ``Shape3D`` (world metres, closed, outward faces, UVs into the start image).

    Raises:
        ValueError: unknown engine (the message lists the valid names).
        backend.errors.ModelUnavailableError: a model engine's weights are missing.
    """
    try:
        fn = ENGINES[engine]
    except KeyError:
        raise ValueError(f"unknown geometry engine {engine!r}; valid engines: {', '.join(ENGINES)}") from None
    return fn(mesh, fg, view, settings, progress)


__all__ = ["ENGINES", "build_geometry", "build_shape", "input_view", "surface_pixel_weights"]
