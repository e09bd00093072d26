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
  inpainted; and the padding around the image from the background canvas
  (half resolution near the image, quarter resolution farther out), colour
  mirrored at the image border and blurred, so a camera turning 15-45 degrees
  does not look past the scene's edge.
"""

from __future__ import annotations

import cv2
import numpy as np

from ...types import ImageLayers, LayeredDepth, PixelGrid, pixel_centres

#: Inpainting radius as a fraction of the longer working side.
INPAINT_RADIUS = 0.02
#: Cell sizes (working pixels) of the padding's near ring (out to ``INNER_PAD`` of the image's width and
#: height on each side) and of its far ring (out to the depth stage's padding).
PAD_STEPS = (2, 4)
INNER_PAD = (0.5, 0.25)
#: An object pixel gets a Gaussian on the back only where its matte is at least this opaque.
BACK_MIN_ALPHA = 0.9
#: Blur (pixels) of the mirrored colours in the padding.
PAD_BLUR = 2.0


def mirror_fill(rgb: np.ndarray, hole: np.ndarray, smooth: np.ndarray) -> np.ndarray:
    """Texture for holes: each row's hole span takes the background mirrored in from both sides, cross-faded.

    A vertical occluder usually hides more of the texture beside it (a wall, the ground's grain), so the
    pixels on the left of a span, mirrored, continue it from the left, those on the right from the right,
    blended linearly across the span. Where a mirrored source is itself in a hole or outside the image, the
    smooth inpainting ``smooth`` is used; the texture's low frequencies follow ``smooth`` everywhere
    (its local mean replaces the mirrored one), so a mirrored patch never brings a wrong brightness.

    Args:
        rgb: float32 [H, W, 3]; hole: bool [H, W]; smooth: float32 [H, W, 3] (e.g. Telea's inpainting).

    Returns:
        float32 [H, W, 3] with the holes filled.
    """
    h, w = hole.shape
    out = smooth.copy()
    tex = np.zeros_like(smooth)
    wsum = np.zeros((h, w), np.float32)
    for r in range(h):
        row = hole[r]
        if not row.any():
            continue
        edges = np.diff(np.concatenate([[0], row.astype(np.int8), [0]]))
        for a, b in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
            n = b - a
            k = np.arange(n)
            t = (k + 0.5) / n  # 0 at the left end, 1 at the right end
            for src, wt in ((a - 1 - k, 1.0 - t), (b + (n - 1 - k), t)):
                ok = (src >= 0) & (src < w)
                ok[ok] &= ~hole[r, src[ok]]
                cols = a + k[ok]
                tex[r, cols] += wt[ok, None] * rgb[r, src[ok]]
                wsum[r, cols] += wt[ok]
    have = hole & (wsum > 1e-3)
    tex[have] /= wsum[have, None]
    # keep the mirrored detail, take the brightness from the smooth fill
    detail = tex - cv2.GaussianBlur(np.where(have[..., None], tex, smooth), (0, 0), 3.0)
    out[have] = np.clip(smooth[have] + detail[have], 0.0, 1.0)
    return out


def inpaint_background(rgb: np.ndarray, occluder: np.ndarray) -> np.ndarray:
    """float32 [H, W, 3] the image with the occluders (grown by 2 px) filled from the background.

    Telea's inpainting (``cv2.inpaint``) gives the smooth colour; ``mirror_fill`` adds the texture.
    """
    h, w = occluder.shape
    hole = cv2.dilate(np.asarray(occluder, np.uint8), np.ones((5, 5), np.uint8))
    if not hole.any():
        return np.asarray(rgb, np.float32).copy()
    img8 = (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
    radius = max(3, int(INPAINT_RADIUS * max(w, h)))
    smooth = cv2.inpaint(img8, hole, radius, cv2.INPAINT_TELEA).astype(np.float32) / 255.0
    return mirror_fill(np.asarray(rgb, np.float32), hole.astype(bool), smooth)


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
        inner_u, inner_v = INNER_PAD[0] * w, INNER_PAD[1] * h
        for step in PAD_STEPS:
            hp, wp = canvas.shape[:2]
            gw, gh = wp // step, hp // step
            crop = (slice(0, gh * step), slice(0, gw * step))
            col = cv2.resize(canvas[crop], (gw, gh), interpolation=cv2.INTER_AREA)
            dep = cv2.resize(ldepth.background[crop], (gw, gh), interpolation=cv2.INTER_AREA)
            guv = pixel_centres(gw, gh, step, (-px, -py))
            u, v = guv[..., 0], guv[..., 1]
            if step == PAD_STEPS[0]:
                # the near ring; cells overlapping the image's border too, so no seam opens at the image's edge
                valid = (u < 1) | (u > w - 1) | (v < 1) | (v > h - 1)
                valid &= (u > -inner_u) & (u < w + inner_u) & (v > -inner_v) & (v < h + inner_v)
            else:  # the far ring, overlapping the near one by a cell
                valid = ((u < -inner_u + step) | (u > w + inner_u - step) | (v < -inner_v + step)
                         | (v > h + inner_v - step))
            grids.append(PixelGrid(uv=guv, depth=dep.astype(np.float32), valid=valid & np.isfinite(dep), rgb=col,
                                   layer=np.zeros((gh, gw), np.int32), filled=1, step=float(step)))
    return grids


__all__ = ["INNER_PAD", "PAD_STEPS", "hidden_grids", "inpaint_background", "mirror_fill"]
