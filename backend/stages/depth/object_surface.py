"""Per-pixel front and back depth of an object's closed 2.5D surface (the two-image geometry).

The object mode builds its ``Shape3D`` with the two-image geometry engines
(inflation, or Depth Anything V2's front); this module reads, for every
pixel of the silhouette, the triangle of the front sheet and of the back
sheet under it (z-buffered rasterisation through the input camera) and the
depth of both, so the points stage can put one Gaussian on each.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ...render.rasterize import rasterize
from ...types import InputView, Shape3D


def _sheet(shape: Shape3D, view: InputView, faces: np.ndarray, farthest: bool):
    w, h = view.size
    uv, z = view.camera_work.project(shape.vertices)
    raster = rasterize(uv, shape.faces[faces], w, h, -z if farthest else z)
    face = np.where(raster.face_id >= 0, faces[np.maximum(raster.face_id, 0)], -1).astype(np.int32)
    return face, raster.bary.astype(np.float64)


def _fill_from_nearest(face: np.ndarray, bary: np.ndarray, need: np.ndarray):
    """Pixels in ``need`` without a face take the face (and clamped barycentrics) of the nearest covered pixel."""
    missing = need & (face < 0)
    if missing.any() and (face >= 0).any():
        _, (ri, ci) = ndimage.distance_transform_edt(face < 0, return_indices=True)
        face = np.where(missing, face[ri, ci], face)
        bary = np.where(missing[..., None], bary[ri, ci], bary)
    return face, bary


def surface_depths(shape: Shape3D, view: InputView, mask: np.ndarray):
    """Front and back triangles and depths of ``shape`` under every object pixel.

    Args:
        shape: the object's closed surface (``Shape3D.side``: +1 front, -1 back, 0 rim).
        view: the input view (working resolution).
        mask: bool [H, W] the object's pixels.

    Returns:
        dict with ``front_face``/``back_face`` int32 [H, W] (-1 outside the
        mask), ``front_bary``/``back_bary`` float64 [H, W, 3], and
        ``front_depth``/``back_depth`` float32 [H, W] metres along the viewing
        axis of the surface point under each pixel centre (NaN outside the mask).
    """
    mask = np.asarray(mask, bool)
    back_faces = np.nonzero((shape.side[shape.faces] == -1).any(axis=1))[0]
    front_faces = np.setdiff1d(np.arange(len(shape.faces)), back_faces)
    out = {}
    for name, faces, farthest in (("front", front_faces, False), ("back", back_faces, True)):
        face, bary = _sheet(shape, view, faces, farthest)
        face, bary = _fill_from_nearest(face, bary, mask)
        face = np.where(mask, face, -1).astype(np.int32)
        points = np.einsum("hwk,hwkc->hwc", bary, shape.vertices[shape.faces[np.maximum(face, 0)]])
        _, z = view.camera_work.project(points)
        out[f"{name}_face"] = face
        out[f"{name}_bary"] = bary
        out[f"{name}_depth"] = np.where(mask, z, np.nan).astype(np.float32)
    # the back never lies in front of the front
    out["back_depth"] = np.maximum(out["back_depth"], out["front_depth"])
    return out


__all__ = ["surface_depths"]
