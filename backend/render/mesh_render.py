"""Textured, z-buffered software rendering of the animated mesh (previews).

Rasterization is the shared ``backend.render.rasterize`` with per-vertex
camera depth and back-face culling; texture coordinates are interpolated
perspective-correctly (u/z, v/z and 1/z are affine in screen space) and the
texture is sampled bilinearly with ``cv2.remap``.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..asset import Camera
from ..types import Motion3D, Shape3D
from .rasterize import rasterize


def render_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """(width, height) actually rendered: ``size`` scaled down so its longer side is at most ``max_side``."""
    w, h = int(size[0]), int(size[1])
    if max_side and max(w, h) > max_side:
        s = max_side / max(w, h)
        w, h = max(1, round(w * s)), max(1, round(h * s))
    return w, h


def render_mesh_frames(shape: Shape3D, motion: Motion3D, camera: Camera, texture: np.ndarray | None = None,
                       size: tuple[int, int] | None = None, background=(1.0, 1.0, 1.0),
                       max_side: int | None = 512, frames=None, check=None) -> np.ndarray:
    """Render the textured mesh over time from one camera.

    Args:
        shape: faces (outward-facing), uv (0..1, origin bottom-left) and, if
            ``texture`` is None, its texture.
        motion: vertices float [T, V, 3] world metres.
        camera: the viewing camera; its intrinsics are rescaled to the output size.
        texture: uint8 [H, W, 3] texture image (row 0 at the top), or None.
        size: (width, height) of the output; default the camera's size.
        background: sRGB 0..1 colour of empty pixels.
        max_side: the output is scaled down so its longer side is at most this
            (previews); None keeps ``size``.
        frames: optional iterable of frame indices to render (default all).
        check: optional callable run before each frame (a cancel check); what it raises propagates.

    Returns:
        uint8 [T', H, W, 3] sRGB images, T' = number of rendered frames.
    """
    tex = np.asarray(shape.texture if texture is None else texture)
    if tex.dtype != np.uint8:
        tex = np.clip(np.round(tex.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    tex = tex[..., :3]
    w, h = render_size(size or (camera.width, camera.height), max_side)
    cam = camera.for_size(w, h)
    verts = np.asarray(motion.vertices, dtype=np.float64)
    faces = np.asarray(shape.faces, dtype=np.int64)
    uv_tex = np.asarray(shape.uv, dtype=np.float64)
    tex_px = np.stack([uv_tex[:, 0] * tex.shape[1] - 0.5, (1.0 - uv_tex[:, 1]) * tex.shape[0] - 0.5], axis=1)
    bg = np.clip(np.round(np.asarray(background, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
    indices = list(range(len(verts))) if frames is None else [int(t) for t in frames]
    out = np.empty((len(indices), h, w, 3), np.uint8)
    for k, t in enumerate(indices):
        if check is not None:
            check()
        uv, depth = cam.project(verts[t])
        visible_faces = faces[(depth[faces] > 1e-6).all(axis=1)]
        raster = rasterize(uv, visible_faces, w, h, depth=depth, cull_backfaces=True)
        img = np.empty((h, w, 3), np.uint8)
        img[:] = bg
        m = raster.mask
        if m.any():
            tri = visible_faces[raster.face_id[m]]
            inv_z = 1.0 / depth[tri]  # [P, 3]
            wts = raster.bary[m] * inv_z
            wts /= wts.sum(axis=1, keepdims=True)
            p = (tex_px[tri] * wts[:, :, None]).sum(axis=1).astype(np.float32)
            n = len(p)
            cols = 1024
            rows = -(-n // cols)
            mx = np.zeros(rows * cols, np.float32)
            my = np.zeros(rows * cols, np.float32)
            mx[:n], my[:n] = p[:, 0], p[:, 1]
            sampled = cv2.remap(tex, mx.reshape(rows, cols), my.reshape(rows, cols), cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
            img[m] = sampled.reshape(-1, 3)[:n]
        out[k] = img
    return out
