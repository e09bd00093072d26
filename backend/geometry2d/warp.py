"""Image warps along a deforming 2D triangle mesh (piecewise-affine texture mapping).

The deformed mesh is rasterized with ``backend.render.rasterize`` (face ids and
barycentrics per pixel); any per-vertex attribute -- typically the rest
positions, i.e. where each output pixel comes from -- is interpolated to a
per-pixel map and the source image is sampled with ``cv2.remap``. For large
images the raster can be taken at a reduced scale and the (piecewise-affine,
hence smooth) maps upsampled, which costs a quarter of the time at half scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..render.rasterize import rasterize


@dataclass
class WarpMaps:
    """Per-pixel maps of a deformed mesh at the output resolution.

    Attributes:
        coverage: float32 [H, W] 1 inside the deformed mesh, 0 outside (soft at the
            outline when the raster was taken at reduced scale).
        attributes: float32 [H, W, C] per-vertex attributes interpolated over the
            deformed mesh (undefined where ``coverage`` is 0).
        face_id: int32 [h, w] the raster's face ids at the raster scale (-1 outside).
        scale: raster scale relative to the output (1.0 = full resolution).
    """

    coverage: np.ndarray
    attributes: np.ndarray
    face_id: np.ndarray
    scale: float


def warp_maps(deformed: np.ndarray, faces: np.ndarray, attributes: np.ndarray, width: int, height: int,
              scale: float = 1.0, depth: np.ndarray | None = None) -> WarpMaps:
    """Rasterize a deformed mesh and interpolate per-vertex attributes over it.

    Args:
        deformed: float [V, 2] deformed vertex positions (pixels at the output size).
        faces: int [F, 3].
        attributes: float [V, C] values to interpolate (e.g. rest positions).
        width, height: output size in pixels.
        scale: raster scale in (0, 1]; below 1 the maps are upsampled bilinearly.
        depth: optional float [V] per-vertex depth (smallest wins where parts overlap).

    Returns:
        ``WarpMaps``.
    """
    attributes = np.asarray(attributes, dtype=np.float32)
    if attributes.ndim == 1:
        attributes = attributes[:, None]
    if scale >= 1.0:
        r = rasterize(deformed, faces, width, height, depth=depth)
        return WarpMaps(r.mask.astype(np.float32), r.interpolate(faces, attributes), r.face_id, 1.0)
    w_s, h_s = max(1, int(round(width * scale))), max(1, int(round(height * scale)))
    sx, sy = w_s / width, h_s / height
    r = rasterize(np.asarray(deformed) * np.array([sx, sy]), faces, w_s, h_s, depth=depth)
    covered = r.mask.astype(np.float32)
    # Normalized convolution: upsample (map * coverage) and coverage, divide -- near the outline
    # only covered neighbours contribute, so the maps stay right up to the edge.
    num = cv2.resize(r.interpolate(faces, attributes) * covered[..., None], (width, height),
                     interpolation=cv2.INTER_LINEAR).reshape(height, width, -1)
    cov = cv2.resize(covered, (width, height), interpolation=cv2.INTER_LINEAR)
    maps = num / np.maximum(cov, 1e-6)[..., None]
    return WarpMaps(cov, maps, r.face_id, float(scale))


def sample(image: np.ndarray, uv: np.ndarray, border_value: float = 0.0) -> np.ndarray:
    """Bilinear lookup of ``image`` at pixel positions.

    Args:
        image: float32 [H, W] or [H, W, C].
        uv: float [..., 2] positions (u, v) with pixel centres at +0.5 (``backend.types``).
        border_value: value outside the image.

    Returns:
        float32 array shaped ``uv.shape[:-1]`` (+ [C]).
    """
    uv = np.asarray(uv, dtype=np.float32)
    shape = uv.shape[:-1]
    flat = uv.reshape(-1, 1, 2)
    out = cv2.remap(np.ascontiguousarray(image, dtype=np.float32), flat[..., 0] - 0.5, flat[..., 1] - 0.5,
                    cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border_value)
    return out.reshape(shape + image.shape[2:])


def remap_image(image: np.ndarray, uv_map: np.ndarray) -> np.ndarray:
    """Sample ``image`` [H, W, C] at a per-pixel map of positions [h, w, 2] -> float32 [h, w, C] (edge replicated)."""
    m = np.asarray(uv_map, dtype=np.float32)
    return cv2.remap(np.ascontiguousarray(image, dtype=np.float32), m[..., 0] - 0.5, m[..., 1] - 0.5,
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def clean_background(rgb: np.ndarray, mask: np.ndarray, work_side: int = 128) -> np.ndarray:
    """The image with the object painted out (Telea inpainting at low resolution).

    Args:
        rgb: float32 [H, W, 3] sRGB 0..1.
        mask: bool [H, W] object.
        work_side: inpainting runs with the longer side at about this size (speed).

    Returns:
        float32 [H, W, 3]: ``rgb`` outside the (slightly grown) mask, inpainted inside.
    """
    h, w = mask.shape
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8))
    s = min(1.0, work_side / max(h, w))
    small = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(grown, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
    small_mask = cv2.dilate(small_mask, np.ones((3, 3), np.uint8))
    filled = cv2.inpaint((np.clip(small, 0, 1) * 255).astype(np.uint8), small_mask, 3, cv2.INPAINT_TELEA)
    filled = cv2.resize(filled.astype(np.float32) / 255.0, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.where(grown[..., None] > 0, filled, rgb).astype(np.float32)
