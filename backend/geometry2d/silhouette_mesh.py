"""Triangulated silhouette mesh of a foreground mask.

Method: the mask's outlines (``cv2.findContours`` with ``RETR_CCOMP``: outer
contours and the holes inside them) are simplified with the Douglas-Peucker
algorithm (``cv2.approxPolyDP``), pushed half a pixel outward so the polygon
runs along the outer edges of the boundary pixels rather than through their
centres, subdivided to the target edge length, and triangulated by Shewchuk's
Triangle (constrained conforming Delaunay with quality refinement, switches
``p``, ``q``, ``a``; https://www.cs.cmu.edu/~quake/triangle.switch.html) with
one hole point per hole.
"""

from __future__ import annotations

import cv2
import numpy as np
import triangle

from ..errors import ForegroundError
from ..types import SilhouetteMesh
from .mesh_ops import signed_areas

_MIN_COMPONENT_PX = 24  # connected parts smaller than this (in pixels) are specks
_MIN_HOLE_PX = 6


def _polygon_area(p: np.ndarray) -> float:
    """Shoelace area in (u, v), positive when counter-clockwise in image axes (v down)."""
    x, y = p[:, 0], p[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def _offset_outline(p: np.ndarray, offset: float, outward_sign: float) -> np.ndarray:
    """Move a closed polyline along its vertex normals by ``offset`` pixels.

    ``outward_sign`` flips the normal so that the move goes away from the object.
    The miter length is capped at twice the offset so sharp corners do not spike.
    """
    prev_, next_ = np.roll(p, 1, axis=0), np.roll(p, -1, axis=0)
    t_in = p - prev_
    t_out = next_ - p
    t_in /= np.maximum(np.linalg.norm(t_in, axis=1, keepdims=True), 1e-9)
    t_out /= np.maximum(np.linalg.norm(t_out, axis=1, keepdims=True), 1e-9)
    n_in = np.stack([t_in[:, 1], -t_in[:, 0]], axis=1)
    n_out = np.stack([t_out[:, 1], -t_out[:, 0]], axis=1)
    n = n_in + n_out
    nl = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(nl > 1e-6, n / np.maximum(nl, 1e-9), n_in)
    cos_half = np.clip(np.sum(n * n_in, axis=1, keepdims=True), 0.5, 1.0)
    return p + outward_sign * n * (offset / cos_half)


def _subdivide(p: np.ndarray, edge_px: float) -> np.ndarray:
    """Insert points on a closed polyline so that no edge is longer than ``edge_px``."""
    nxt = np.roll(p, -1, axis=0)
    seg = np.linalg.norm(nxt - p, axis=1)
    parts = np.maximum(1, np.ceil(seg / edge_px).astype(int))
    out = []
    for a, b, k in zip(p, nxt, parts):
        t = np.arange(k)[:, None] / k
        out.append(a + t * (b - a))
    return np.concatenate(out, axis=0)


def _hole_point(contour: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """A pixel centre deep inside a hole (off the mask, within the hole contour), or None."""
    x, y, w, h = cv2.boundingRect(contour)
    inner = np.zeros((h, w), np.uint8)
    cv2.drawContours(inner, [contour - np.array([x, y])], -1, 1, thickness=-1)
    region = inner.astype(bool) & ~mask[y:y + h, x:x + w]
    if not region.any():
        return None
    dist = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 3)
    r, c = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return np.array([c + x + 0.5, r + y + 0.5])


def build_silhouette_mesh(mask: np.ndarray, edge_px: float, simplify_px: float = 0.7) -> SilhouetteMesh:
    """Triangulate the foreground of a mask.

    Args:
        mask: bool [H, W], the object (``Foreground.mask``).
        edge_px: target edge length in pixels (``QualityPreset.mesh_edge_px``);
            boundary edges are at most this long and interior triangles at most
            the area of an equilateral triangle with this edge.
        simplify_px: Douglas-Peucker tolerance of the outline in pixels.

    Returns:
        A ``SilhouetteMesh``: float64 vertices [V, 2] in pixel coordinates (u, v)
        (pixel centres at +0.5), int32 faces [F, 3] counter-clockwise in (u, -v),
        int32 boundary vertex indices. Connected parts smaller than 24 pixels and
        holes smaller than 6 pixels are ignored; several parts are allowed.

    Raises:
        ForegroundError: the mask holds no part large enough to mesh.
    """
    mask = np.asarray(mask, dtype=bool)
    if edge_px <= 0:
        raise ValueError(f"edge_px must be positive, got {edge_px}")
    m8 = mask.astype(np.uint8)
    contours, hierarchy = cv2.findContours(m8, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    if hierarchy is None or len(contours) == 0:
        raise ForegroundError("The object mask is empty, so there is nothing to animate.",
                              "Use an image whose object stands out from the background, or give it an alpha channel.")
    hierarchy = hierarchy[0]
    points: list[np.ndarray] = []
    segments: list[np.ndarray] = []
    holes: list[np.ndarray] = []
    count = 0
    for i, c in enumerate(contours):
        is_hole = hierarchy[i][3] >= 0
        region_px = cv2.contourArea(c) + 0.5 * cv2.arcLength(c, True) + 1.0  # pixel count of the filled contour
        min_px = max(_MIN_HOLE_PX, 0.25 * edge_px * edge_px) if is_hole else _MIN_COMPONENT_PX
        if region_px < min_px or len(c) < 3:
            continue
        simple = cv2.approxPolyDP(c, simplify_px, True).reshape(-1, 2).astype(np.float64) + 0.5
        if len(simple) < 3:
            simple = c.reshape(-1, 2).astype(np.float64) + 0.5
            if len(simple) < 3:
                continue
        area = _polygon_area(simple)
        if abs(area) < 1e-6:
            continue  # a one-pixel-wide sliver encloses no area
        # In image axes (v down) a positive shoelace area means clockwise on screen; the
        # outward normal (t_y, -t_x) of _offset_outline points outside for that orientation.
        outward = 1.0 if area > 0 else -1.0
        if is_hole:
            outward = -outward  # away from the object = into the hole
        poly = _offset_outline(simple, 0.5, outward)
        poly = _subdivide(poly, edge_px)
        if is_hole:
            hp = _hole_point(c, mask)
            # A hole point that misses its polygon would let Triangle eat the object instead.
            if hp is None or cv2.pointPolygonTest(poly.astype(np.float32), (float(hp[0]), float(hp[1])), True) < 0.05:
                continue  # too thin to mesh as a hole: leave it filled
            holes.append(hp)
        n = len(poly)
        idx = np.arange(n) + count
        points.append(poly)
        segments.append(np.stack([idx, np.roll(idx, -1)], axis=1))
        count += n
    if count == 0:
        raise ForegroundError("The object is too small to animate (only a few pixels were found).",
                              "Use a larger image of the object or crop closer to it.")
    pslg = {"vertices": np.concatenate(points), "segments": np.concatenate(segments)}
    if holes:
        pslg["holes"] = np.asarray(holes)
    max_area = 0.433 * edge_px * edge_px
    result = triangle.triangulate(pslg, f"pq30a{max_area:.3f}Q")
    vertices = np.asarray(result["vertices"], dtype=np.float64)
    faces = np.asarray(result.get("triangles", np.zeros((0, 3))), dtype=np.int64)
    if len(faces) == 0:
        raise ForegroundError("The object outline could not be triangulated.",
                              "Check the foreground mask; a cleaner cut-out (alpha channel) helps.")
    markers = np.asarray(result.get("vertex_markers", np.zeros((len(vertices), 1)))).ravel()
    # Drop vertices no face uses (e.g. duplicate input points) and re-index.
    used = np.zeros(len(vertices), bool)
    used[faces.ravel()] = True
    remap = np.cumsum(used) - 1
    vertices, markers, faces = vertices[used], markers[used], remap[faces]
    area = signed_areas(vertices, faces)
    faces = np.where((area < 0)[:, None], faces[:, ::-1], faces)
    boundary = np.nonzero(markers != 0)[0]
    return SilhouetteMesh(vertices=vertices, faces=faces.astype(np.int32), boundary=boundary.astype(np.int32))
