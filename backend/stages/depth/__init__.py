"""Depth stage (single-image mode): a layered depth of the image seen through the input camera.

``scene_depth(layers, image_size, settings, progress, engine)`` looks the
engine up in ``ENGINES`` (scenes):

* ``popup`` (weight-free): ground plane + backdrop + inflated foreground
  layers ("Tour into the Picture", "Automatic Photo Pop-up"; ``popup``);
* ``depth`` (model): Depth Anything V2, scaled so the nearest layer sits at a
  set distance, split at depth discontinuities (``monocular``).

``object_depth(shape, mesh, view, layers)`` turns an object's closed surface
(built by the two-image geometry engines, which the pipeline runs: "popup"
-> inflation, "depth" -> Depth Anything V2 front) into the same
``LayeredDepth``: the visible front and the hidden back of every object pixel.
"""

from __future__ import annotations

import numpy as np

from ...types import ImageLayers, InputView, LayeredDepth, Shape3D, SilhouetteMesh
from .object_surface import surface_depths
from .popup import estimate_horizon, popup_depth


def _popup(layers, image_size, settings, progress) -> LayeredDepth:
    return popup_depth(layers, image_size, settings.inflation, settings.horizon)


def _depth(layers, image_size, settings, progress) -> LayeredDepth:
    from ...models.depth_anything import MonocularDepth
    from .monocular import monocular_depth

    model = MonocularDepth.load(device=settings.device)
    if progress is not None:
        progress.update(0.3, "depth model loaded")
    disparity = model.predict(layers.fg.rgb)
    return monocular_depth(layers, image_size, disparity)


#: Engine name -> function(layers, image_size, settings, progress) -> LayeredDepth (scenes).
ENGINES = {"popup": _popup, "depth": _depth}

#: Depth engine -> the two-image geometry engine that builds an object's surface.
OBJECT_GEOMETRY = {"popup": "inflate", "depth": "depth"}


def scene_depth(layers: ImageLayers, image_size: tuple[int, int], settings, progress=None,
                engine: str = "popup") -> LayeredDepth:
    """Layered depth of a scene with the named engine.

    Args:
        layers: ``ImageLayers`` with subject "scene".
        image_size: (width, height) of the input image.
        settings: ``GenerateSettings`` (``inflation``, ``horizon``, ``device``).
        progress: optional ``Progress`` span.
        engine: a key of ``ENGINES``.

    Raises:
        ValueError: unknown engine (the message lists the valid names).
        backend.errors.ModelUnavailableError: the model engine's weights are missing.
    """
    try:
        fn = ENGINES[engine]
    except KeyError:
        raise ValueError(f"unknown depth engine {engine!r}; valid engines: {', '.join(ENGINES)}") from None
    return fn(layers, image_size, settings, progress)


def object_depth(shape: Shape3D, mesh: SilhouetteMesh, view: InputView, layers: ImageLayers,
                 method: str) -> tuple[LayeredDepth, dict]:
    """Layered depth of an object from its closed surface.

    Args:
        shape: the closed ``Shape3D`` (world metres) built on ``mesh``.
        mesh: the object's 2D silhouette mesh.
        view: the input view of ``shape``.
        layers: ``ImageLayers`` with subject "object".
        method: the engine that built ``shape``, recorded.

    Returns:
        (``LayeredDepth`` whose ``occluder`` is the object and ``back_depth``
        its back, the per-pixel surface triangles of ``surface_depths``).
    """
    mask = layers.labels > 0
    surf = surface_depths(shape, view, mask)
    front = surf["front_depth"]
    near, far = float(np.nanmin(front)), float(np.nanmax(surf["back_depth"]))
    ld = LayeredDepth(view=view, depth=front, occluder=mask.copy(), back_depth=surf["back_depth"], background=None,
                      pad=(0, 0), near=near, far=far, centre=np.zeros(3), horizon_v=None, method=method,
                      shape=shape, mesh=mesh, labels=layers.labels.astype(np.int32))
    return ld, surf


__all__ = ["ENGINES", "OBJECT_GEOMETRY", "estimate_horizon", "object_depth", "popup_depth", "scene_depth"]
