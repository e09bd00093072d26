"""Holes stage (single-image mode): the hidden layers a moving camera reveals, filled in 3D.

Anchor: Shih, Su, Kopf and Huang, "3D Photography using Context-aware Layered
Depth Inpainting" (CVPR 2020): behind every depth discontinuity the image is
extended by a background layer whose colour and depth are inpainted from the
surrounding background; here with OpenCV's Telea inpainting (``cv2.inpaint``,
Telea 2004) instead of learned inpainting networks.

``hidden_grids(rgb, layers, ldepth, surface)`` returns the ``PixelGrid``s of
the filled-in surfaces (all marked ``filled = 1``):

* objects: the back of the closed surface under every opaque object pixel
  (matte >= ``BACK_MIN_ALPHA``; the soft outline has no thickness), coloured
  from the pixel (the unseen side mirrors the seen one, as in two-image mode);
* scenes: the background behind the occluders (the foreground layers and the
  near side of every depth discontinuity) at the background's depth, colour
  inpainted; and the padding around the image (half resolution) from the
  background canvas, colour mirrored at the image border and blurred, so a
  camera turning 15-30 degrees does not look past the scene's edge.
"""

from __future__ import annotations

import cv2
import numpy as np

from ...types import ImageLayers, LayeredDepth, PixelGrid, pixel_centres

#: Inpainting radius as a fraction of the longer working side.
INPAINT_RADIUS = 0.02
#: Cell size (working pixels) of the padding grid.
PAD_STEP = 2
#: An object pixel gets a Gaussian on the back only where its matte is at least this opaque.
BACK_MIN_ALPHA = 0.9
#: Blur (pixels) of the mirrored colours in the padding.
PAD_BLUR = 2.0


def inpaint_background(rgb: np.ndarray, occluder: np.ndarray) -> np.ndarray:
    """float32 [H, W, 3] the image with the occluders (grown by 2 px) inpainted from the background (Telea)."""
    h, w = occluder.shape
    hole = cv2.dilate(np.asarray(occluder, np.uint8), np.ones((5, 5), np.uint8))
    if not hole.any():
        return np.asarray(rgb, np.float32).copy()
    img8 = (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
    radius = max(3, int(INPAINT_RADIUS * max(w, h)))
    return cv2.inpaint(img8, hole, radius, cv2.INPAINT_TELEA).astype(np.float32) / 255.0


def hidden_grids(rgb: np.ndarray, layers: ImageLayers, ldepth: LayeredDepth, surface: dict | None = None
                 ) -> list[PixelGrid]:
    """The filled-in layers as grids of surface samples (module docstring).

    Args:
        rgb: float32 [H, W, 3] the image at the working resolution.
        layers: the ``ImageLayers``.
        ldepth: the ``LayeredDepth`` (its ``back_depth``, ``background``, ``pad``).
        surface: objects: ``backend.stages.depth.object_surface.surface_depths``' dict.

    Returns:
        list of ``PixelGrid`` with ``filled = 1``.
    """
    h, w = ldepth.depth.shape
    uv = pixel_centres(w, h)
    labels = ldepth.labels if ldepth.labels is not None else layers.labels
    if layers.subject == "object":
        # the outline's soft pixels need no back: the surface has no thickness there, and a second
        # Gaussian behind a half-transparent edge would make the edge more opaque than the image's matte
        mask = ldepth.occluder & (layers.fg.alpha >= BACK_MIN_ALPHA)
        return [PixelGrid(uv=uv, depth=ldepth.back_depth, valid=mask, rgb=np.asarray(rgb, np.float32), layer=labels,
                          filled=1, face=None if surface is None else surface["back_face"],
                          bary=None if surface is None else surface["back_bary"], alpha=layers.fg.alpha)]
    filled_rgb = inpaint_background(rgb, ldepth.occluder)
    grids = []
    if ldepth.occluder.any():
        grids.append(PixelGrid(uv=uv, depth=ldepth.back_depth, valid=ldepth.occluder.copy(), rgb=filled_rgb,
                               layer=np.zeros((h, w), np.int32), filled=1))
    if ldepth.background is not None and (ldepth.pad[0] or ldepth.pad[1]):
        px, py = ldepth.pad
        canvas = cv2.copyMakeBorder(filled_rgb, py, py, px, px, cv2.BORDER_REFLECT_101)
        canvas = cv2.GaussianBlur(canvas, (0, 0), PAD_BLUR)
        hp, wp = canvas.shape[:2]
        gw, gh = wp // PAD_STEP, hp // PAD_STEP
        crop = (slice(0, gh * PAD_STEP), slice(0, gw * PAD_STEP))
        col = cv2.resize(canvas[crop], (gw, gh), interpolation=cv2.INTER_AREA)
        dep = cv2.resize(ldepth.background[crop], (gw, gh), interpolation=cv2.INTER_AREA)
        guv = pixel_centres(gw, gh, PAD_STEP, (-px, -py))
        # cells overlapping the image's border ring too, so no seam opens between the image and its padding
        outside = (guv[..., 0] < 1) | (guv[..., 0] > w - 1) | (guv[..., 1] < 1) | (guv[..., 1] > h - 1)
        grids.append(PixelGrid(uv=guv, depth=dep.astype(np.float32), valid=outside & np.isfinite(dep), rgb=col,
                               layer=np.zeros((gh, gw), np.int32), filled=1))
    return grids


__all__ = ["PAD_STEP", "hidden_grids", "inpaint_background"]
