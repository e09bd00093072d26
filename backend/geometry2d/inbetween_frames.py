"""In-between images from a deforming mesh ("flow for texture").

Frame t shows the start texture carried forward along the mesh and the end
texture carried backward (sampled at the registered end positions of the same
material points), cross-dissolved by t -- the classic morphing recipe of
Beier & Neely, "Feature-Based Image Metamorphosis" (SIGGRAPH 1992), with the
mesh as the warp. The background is the start and end background (object
painted out) cross-dissolved the same way.
"""

from __future__ import annotations

from typing import Callable, Optional

import cv2
import numpy as np

from .warp import clean_background, warp_maps

#: The per-frame raster is taken with its longer side at most this many pixels and upsampled (speed).
RASTER_SIDE = 256


def _to_u8(image: np.ndarray) -> np.ndarray:
    return np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)


def render_inbetween_frames(start_rgb: np.ndarray, start_alpha: np.ndarray, start_mask: np.ndarray,
                            end_rgb: np.ndarray, end_alpha: np.ndarray, end_mask: np.ndarray,
                            rest: np.ndarray, end_positions: np.ndarray, faces: np.ndarray,
                            trajectories: np.ndarray, times: np.ndarray, depth: Optional[np.ndarray] = None,
                            on_frame: Optional[Callable[[int], None]] = None) -> np.ndarray:
    """Render the in-between images of a mesh moving from the start to the end image.

    Args:
        start_rgb, end_rgb: float32 [H, W, 3] sRGB 0..1 (same size).
        start_alpha, end_alpha: float32 [H, W] soft mattes 0..1.
        start_mask, end_mask: bool [H, W] object masks.
        rest: float [V, 2] mesh vertices on the start image (pixels).
        end_positions: float [V, 2] registered vertices on the end image (pixels).
        faces: int [F, 3].
        trajectories: float [T, V, 2] vertex positions per frame.
        times: float [T] blend weight of the end image per frame (0..1).
        depth: optional float [V] per-vertex depth; the smaller is drawn on top where
            parts of the mesh overlap.
        on_frame: called with the frame index after each frame (progress, cancel).

    Returns:
        uint8 [T, H, W, 3] sRGB frames. Only the object's bounding box is warped per
        frame; its raster is taken at most ``RASTER_SIDE`` pixels wide and upsampled.
    """
    h, w = start_mask.shape
    bg0 = _to_u8(clean_background(start_rgb, start_mask))
    bg1 = _to_u8(clean_background(end_rgb, end_mask))
    start_rgba = _to_u8(np.dstack([start_rgb, start_alpha]))
    end_rgba = _to_u8(np.dstack([end_rgb, end_alpha]))
    attrs = np.concatenate([rest, end_positions], axis=1) - 0.5  # cv2.remap puts pixel centres at integers
    frames = np.empty((len(times), h, w, 3), np.uint8)
    for i, (x, t) in enumerate(zip(trajectories, times)):
        t = float(t)
        frame = cv2.addWeighted(bg0, 1.0 - t, bg1, t, 0.0)
        lo = np.maximum(np.floor(x.min(axis=0)).astype(int) - 1, 0)
        hi = np.minimum(np.ceil(x.max(axis=0)).astype(int) + 1, [w, h])
        bw, bh = int(hi[0] - lo[0]), int(hi[1] - lo[1])
        if bw > 0 and bh > 0:
            scale = min(1.0, RASTER_SIDE / max(bw, bh))
            maps = warp_maps(x - lo, faces, attrs, bw, bh, scale=scale, depth=depth)
            m = maps.attributes
            a = cv2.remap(start_rgba, *cv2.convertMaps(m[..., 0], m[..., 1], cv2.CV_16SC2), cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            b = cv2.remap(end_rgba, *cv2.convertMaps(m[..., 2], m[..., 3], cv2.CV_16SC2), cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            obj = cv2.addWeighted(a, 1.0 - t, b, t, 0.0)
            alpha = (obj[..., 3].astype(np.float32) * (1.0 / 255.0)) * maps.coverage
            roi = frame[lo[1]:hi[1], lo[0]:hi[0]]
            roi[...] = cv2.blendLinear(np.ascontiguousarray(obj[..., :3]), roi, alpha, 1.0 - alpha)
        frames[i] = frame
        if on_frame is not None:
            on_frame(i)
    return frames


def overlay_mesh(image: np.ndarray, vertices: np.ndarray, faces: np.ndarray, color=(255, 0, 0),
                 upscale: int = 2) -> np.ndarray:
    """Draw a triangle mesh over an image, for inspection.

    Args:
        image: uint8 [H, W, 3] (any channel order; ``color`` is in the same order).
        vertices: float [V, 2] pixel positions (u, v).
        faces: int [F, 3].
        upscale: the image is enlarged by this factor first so thin lines stay readable.

    Returns:
        uint8 [H * upscale, W * upscale, 3].
    """
    big = cv2.resize(image, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_NEAREST)
    pts = np.round(np.asarray(vertices) * upscale * 16).astype(np.int32)  # 4 bits of sub-pixel precision
    cv2.polylines(big, [p for p in pts[np.asarray(faces)]], True, color, 1, cv2.LINE_AA, shift=4)
    return big
