"""Depth engine "depth" (model) for scenes: Depth Anything V2, scaled metric, split into layers.

1. Depth Anything V2 (``backend.models.depth_anything``) predicts relative
   inverse depth d = a / z + b (affine-invariant). Two anchors fix a and b:
   the nearest layer (the 95th disparity percentile over the foreground
   layers, or over the image without them) sits ``NEAR_M`` metres away and
   the far end (1st percentile) ``FAR_RATIO`` times that.
2. Layers at depth discontinuities, as the layered depth images of Shih et
   al., "3D Photography using Context-aware Layered Depth Inpainting" (CVPR
   2020, Sec. 3.1): a pixel is in front of a discontinuity when its depth is
   under ``1 - JUMP`` of the farthest depth within ``WINDOW`` of the image
   size; those pixels (and the foreground layers) are occluders, split into
   connected layers.
3. The background behind the occluders: log-depth inpainted from the
   surrounding background (OpenCV's Telea inpainting); the canvas padded
   around the image repeats the border depth.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy import ndimage

from ...asset import Camera
from ...types import ImageLayers, InputView, LayeredDepth
from .popup import PAD_FRACTION, scene_centre_depth, scene_focal

NEAR_M = 3.0
FAR_RATIO = 8.0
JUMP = 0.15
WINDOW = 0.08


def metric_depth(disparity: np.ndarray, reference: np.ndarray, near: float = NEAR_M,
                 far_ratio: float = FAR_RATIO) -> np.ndarray:
    """Metric depth from affine-invariant disparity with two anchors (module docstring, step 1).

    Args:
        disparity: float [H, W] relative inverse depth (larger = nearer).
        reference: bool [H, W] pixels of the nearest layer (all pixels when empty).
        near: metres of the reference's near end.
        far_ratio: far end / near end.

    Returns:
        float32 [H, W] metres along the viewing axis, in [near / 2, 1.5 far_ratio near].
    """
    d = np.asarray(disparity, np.float64)
    ref = d[reference] if np.asarray(reference).any() else d.ravel()
    d_near = float(np.percentile(ref, 95))
    d_far = float(np.percentile(d, 1))
    if d_near - d_far < 1e-9:
        return np.full(d.shape, near, np.float32)
    zf = far_ratio * near
    a = (d_near - d_far) / (1.0 / near - 1.0 / zf)
    b = d_near - a / near
    z = a / np.maximum(d - b, a / (1.5 * zf))
    return np.clip(z, 0.5 * near, 1.5 * zf).astype(np.float32)


def depth_layers(depth: np.ndarray, foreground: np.ndarray, jump: float = JUMP,
                 window: float = WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """Occluders and layers of a depth map (module docstring, step 2).

    Returns:
        (occluder bool [H, W], labels int32 [H, W]: 0 background, 1..K connected occluding layers).
    """
    size = max(3, int(round(window * max(depth.shape))))
    far = ndimage.maximum_filter(depth, size=size)
    occ = (depth < (1.0 - jump) * far) | np.asarray(foreground, bool)
    occ = cv2.morphologyEx(occ.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)
    _, labels = cv2.connectedComponents(occ.astype(np.uint8), connectivity=8)
    return occ, labels.astype(np.int32)


def monocular_depth(layers: ImageLayers, image_size: tuple[int, int], disparity: np.ndarray) -> LayeredDepth:
    """Layered depth of a scene from a monocular disparity map.

    Args:
        layers: the scene's ``ImageLayers``.
        image_size: (width, height) of the input image.
        disparity: float [H, W] Depth Anything V2's output at the working size.

    Returns:
        ``LayeredDepth`` (``method`` "depth"; level camera, no ground plane).
    """
    w, h = layers.size
    fg = layers.labels > 0
    depth = metric_depth(disparity, fg)
    occ, labels = depth_layers(depth, fg)
    log_z = np.log(depth).astype(np.float32)
    hole = cv2.dilate(occ.astype(np.uint8), np.ones((5, 5), np.uint8))
    radius = max(3, int(0.02 * max(w, h)))
    back_full = np.exp(cv2.inpaint(log_z, hole, radius, cv2.INPAINT_TELEA)).astype(np.float32)
    back_full = np.where(hole > 0, np.maximum(back_full, depth), depth)
    px, py = 4 * int(math.ceil(PAD_FRACTION[0] * w / 4)), 4 * int(math.ceil(PAD_FRACTION[1] * h / 4))
    background = cv2.copyMakeBorder(back_full, py, py, px, px, cv2.BORDER_REPLICATE)

    f = scene_focal(w, h)
    centre_depth = scene_centre_depth(depth, labels > 0)
    cam = Camera.looking_along_y(w, h, f, (0.0, -centre_depth, 0.0))
    view = InputView(camera_work=cam, camera_image=cam.for_size(int(image_size[0]), int(image_size[1])),
                     plane_depth=centre_depth, bbox=(0.0, 0.0, float(w), float(h)))
    return LayeredDepth(view=view, depth=depth, occluder=occ, back_depth=np.where(occ, back_full, np.nan).astype(np.float32),
                        background=background.astype(np.float32), pad=(px, py), near=float(depth.min()),
                        far=float(depth.max()), centre=np.zeros(3), horizon_v=None, method="depth", labels=labels)


__all__ = ["FAR_RATIO", "NEAR_M", "depth_layers", "metric_depth", "monocular_depth"]
