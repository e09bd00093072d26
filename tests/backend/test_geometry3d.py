"""Input camera and silhouette inflation: placement, exact reprojection, closed round surfaces.

Also holds the small synthetic-input helpers the lift, Gaussian and preview
tests import (masks triangulated with Triangle directly, so these tests do not
depend on the 2D mesher).
"""

import cv2
import numpy as np
import pytest
import triangle

from backend.errors import ForegroundError
from backend.geometry3d.mesh_ops import boundary_vertex_mask, euler_characteristic, is_closed_manifold
from backend.stages.geometry import build_shape, input_view, surface_pixel_weights
from backend.stages.geometry.refine import refine_for_inflation
from backend.types import Foreground, SilhouetteMesh

# ----------------------------------------------------------------------------- helpers (shared)

def mask_mesh(mask: np.ndarray, edge_px: float) -> SilhouetteMesh:
    """Triangulate a mask's outer outlines (pixel-edge polygon, CCW in (u, -v))."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    pts, segs, n = [], [], 0
    for c in contours:
        p = cv2.approxPolyDP(c, 0.7, True).reshape(-1, 2).astype(float) + 0.5
        out = []
        for a, b in zip(p, np.roll(p, -1, axis=0)):
            k = max(1, int(np.ceil(np.linalg.norm(b - a) / edge_px)))
            out.append(a + (np.arange(k)[:, None] / k) * (b - a))
        p = np.concatenate(out)
        idx = np.arange(len(p)) + n
        pts.append(p)
        segs.append(np.stack([idx, np.roll(idx, -1)], axis=1))
        n += len(p)
    r = triangle.triangulate({"vertices": np.concatenate(pts), "segments": np.concatenate(segs)},
                             f"pq30a{0.433 * edge_px ** 2:.3f}Q")
    v, f = r["vertices"], r["triangles"].astype(np.int64)
    area = (v[f[:, 1], 0] - v[f[:, 0], 0]) * (v[f[:, 2], 1] - v[f[:, 0], 1]) - \
           (v[f[:, 1], 1] - v[f[:, 0], 1]) * (v[f[:, 2], 0] - v[f[:, 0], 0])
    f = np.where((area > 0)[:, None], f[:, ::-1], f)  # CCW in (u, -v) = negative area in (u, v)
    boundary = np.nonzero(boundary_vertex_mask(f, len(v)))[0]
    return SilhouetteMesh(v.astype(np.float64), f.astype(np.int32), boundary.astype(np.int32))


def ellipse_mask(w: int, h: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return ((xx + 0.5 - cx) / rx) ** 2 + ((yy + 0.5 - cy) / ry) ** 2 < 1.0


def gradient_foreground(mask: np.ndarray) -> Foreground:
    """A foreground whose colour encodes the pixel position (red = column, green = row) on white."""
    h, w = mask.shape
    yy, xx = np.mgrid[:h, :w]
    rgb = np.dstack([(xx + 0.5) / w, (yy + 0.5) / h, np.full((h, w), 0.3)]).astype(np.float32)
    rgb[~mask] = 1.0
    return Foreground(rgb=rgb, alpha=mask.astype(np.float32), mask=mask, method="test")


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Divergence-theorem volume: positive for an outward-oriented closed surface."""
    a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


# ----------------------------------------------------------------------------- camera

def test_input_view_puts_the_bbox_on_a_one_metre_plane_at_the_origin():
    mask = np.zeros((120, 200), bool)
    mask[30:90, 110:190] = True  # 80 x 60 px, off-centre
    view = input_view(mask, (400, 240))
    cam = view.camera_work
    assert cam.fx == pytest.approx(85.0 / 36.0 * 200)
    assert (cam.cx, cam.cy) == (100.0, 60.0)
    pos = cam.position
    assert pos[1] == pytest.approx(-view.plane_depth)
    assert view.plane_depth == pytest.approx(cam.fx / 80.0)
    corners = view.to_world(np.array([[110.0, 30.0], [190.0, 90.0]]), 0.0)
    np.testing.assert_allclose(corners[1] - corners[0], [1.0, 0.0, -0.75], atol=1e-9)  # v down = world -Z
    np.testing.assert_allclose(view.to_world(np.array([150.0, 60.0]), 0.0), [0, 0, 0], atol=1e-9)
    # Looking along +Y: image right = +X, image up = +Z.
    np.testing.assert_allclose(np.asarray(cam.matrix_world)[:3, 2], [0, -1, 0], atol=1e-12)


def test_lifted_points_reproject_exactly_in_both_resolutions():
    mask = ellipse_mask(90, 60, 40, 30, 30, 20)
    view = input_view(mask, (270, 180))
    rng = np.random.default_rng(1)
    uv = rng.uniform([0, 0], [90, 60], (200, 2))
    offset = rng.uniform(-0.4, 0.4, 200)
    p = view.to_world(uv, offset)
    np.testing.assert_allclose(p[:, 1], offset, atol=1e-12)
    got, depth = view.camera_work.project(p)
    np.testing.assert_allclose(got, uv, atol=1e-9)
    np.testing.assert_allclose(depth, view.plane_depth + offset, atol=1e-12)
    got_image, _ = view.camera_image.project(p)
    np.testing.assert_allclose(got_image, uv * 3.0, atol=1e-9)
    assert (view.camera_image.width, view.camera_image.height) == (270, 180)


def test_empty_mask_is_a_foreground_error():
    with pytest.raises(ForegroundError):
        input_view(np.zeros((10, 10), bool), (10, 10))


# ----------------------------------------------------------------------------- inflation

def test_inflated_shape_is_closed_outward_and_reprojects():
    mask = ellipse_mask(120, 90, 60, 45, 45, 30)
    mesh = mask_mesh(mask, 6.0)
    view = input_view(mask, (120, 90))
    shape = build_shape(mesh, gradient_foreground(mask), view, inflation=0.7)
    assert is_closed_manifold(shape.faces)
    assert euler_characteristic(shape.faces) == 2
    assert signed_volume(shape.vertices, shape.faces) > 0
    n_front = len(mesh.vertices)
    uv, _ = view.camera_work.project(shape.vertices[:n_front])
    np.testing.assert_allclose(uv, mesh.vertices, atol=1e-9)
    # Front toward the camera (y < 0), back behind, rim on the plane.
    assert np.all(shape.vertices[shape.side == 1, 1] < 0)
    assert np.all(shape.vertices[shape.side == -1, 1] > 0)
    np.testing.assert_allclose(shape.vertices[shape.side == 0, 1], 0.0, atol=1e-12)
    assert set(np.unique(shape.side)) == {-1, 0, 1}
    # Back vertices mirror the front ones on the same source vertex and pixel.
    front_of = {int(s): i for i, s in enumerate(shape.source_vertex[:n_front])}
    for i in np.nonzero(shape.side == -1)[0][:50]:
        j = front_of[int(shape.source_vertex[i])]
        assert shape.vertices[i, 1] == pytest.approx(-shape.vertices[j, 1])
        np.testing.assert_allclose(shape.uv[i], shape.uv[j])


def test_strip_cross_section_is_a_circle_of_half_its_width():
    mask = np.zeros((80, 200), bool)
    mask[20:60, 10:190] = True  # 40 px wide strip
    mesh = mask_mesh(mask, 3.0)
    view = input_view(mask, (200, 80))
    shape = build_shape(mesh, gradient_foreground(mask), view, inflation=1.0)
    uv, _ = view.camera_work.project(shape.vertices)
    front = (shape.side == 1) & (np.abs(uv[:, 0] - 100) < 30)
    x = uv[front, 1] - 20.0
    h_px = -shape.vertices[front, 1] / view.metres_per_pixel
    expected = np.sqrt(x * (40.0 - x))  # circle of radius 20 px through the strip edges
    assert np.abs(h_px - expected).max() < 0.08 * 20
    assert h_px.max() == pytest.approx(20.0, rel=0.05)


def test_inflation_scales_the_thickness():
    mask = ellipse_mask(80, 80, 40, 40, 30, 30)
    mesh = mask_mesh(mask, 5.0)
    view = input_view(mask, (80, 80))
    fg = gradient_foreground(mask)
    thin = build_shape(mesh, fg, view, inflation=0.35).vertices[:, 1]
    thick = build_shape(mesh, fg, view, inflation=0.7).vertices[:, 1]
    np.testing.assert_allclose(thick, 2.0 * thin, atol=1e-12)
    with pytest.raises(ValueError):
        build_shape(mesh, fg, view, inflation=-1.0)


def test_parts_one_triangle_wide_are_split_and_stay_closed():
    # A blob with a 2-px-wide antenna: its triangles join rim vertex to rim vertex.
    mask = ellipse_mask(100, 100, 50, 65, 30, 25)
    mask[8:45, 49:51] = True
    mesh = mask_mesh(mask, 5.0)
    refined = refine_for_inflation(mesh)
    assert len(refined.vertices) > len(mesh.vertices)  # chords were split
    assert not refined.rim[refined.faces].all(axis=1).any()  # every face has an interior vertex
    view = input_view(mask, (100, 100))
    shape = build_shape(mesh, gradient_foreground(mask), view)
    assert is_closed_manifold(shape.faces)
    assert euler_characteristic(shape.faces) == 2
    w = surface_pixel_weights(shape, mesh)
    np.testing.assert_allclose(np.asarray(w.sum(axis=1)).ravel(), 1.0)
    uv, _ = view.camera_work.project(shape.vertices)
    np.testing.assert_allclose(uv, w @ mesh.vertices, atol=1e-9)
    with pytest.raises(ValueError):
        surface_pixel_weights(shape, mask_mesh(ellipse_mask(100, 100, 50, 50, 30, 30), 5.0))


def test_ring_has_genus_one():
    mask = ellipse_mask(100, 100, 50, 50, 40, 40) & ~ellipse_mask(100, 100, 50, 50, 15, 15)
    contours, hierarchy = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    pts, segs, n = [], [], 0
    for c in contours:
        p = c.reshape(-1, 2)[::3].astype(float) + 0.5
        idx = np.arange(len(p)) + n
        pts.append(p)
        segs.append(np.stack([idx, np.roll(idx, -1)], axis=1))
        n += len(p)
    r = triangle.triangulate({"vertices": np.concatenate(pts), "segments": np.concatenate(segs),
                              "holes": [[50.0, 50.0]]}, "pq30a20Q")
    v, f = r["vertices"], r["triangles"]
    area = (v[f[:, 1], 0] - v[f[:, 0], 0]) * (v[f[:, 2], 1] - v[f[:, 0], 1]) - \
           (v[f[:, 1], 1] - v[f[:, 0], 1]) * (v[f[:, 2], 0] - v[f[:, 0], 0])
    f = np.where((area > 0)[:, None], f[:, ::-1], f)
    mesh = SilhouetteMesh(v, f.astype(np.int32), np.nonzero(boundary_vertex_mask(f, len(v)))[0].astype(np.int32))
    shape = build_shape(mesh, gradient_foreground(mask), input_view(mask, (100, 100)))
    assert is_closed_manifold(shape.faces)
    assert euler_characteristic(shape.faces) == 0  # a torus
    assert signed_volume(shape.vertices, shape.faces) > 0


def test_texture_is_the_start_image_with_colours_bled_past_the_outline():
    mask = ellipse_mask(60, 60, 30, 30, 20, 20)
    fg = gradient_foreground(mask)
    mesh = mask_mesh(mask, 4.0)
    view = input_view(mask, (60, 60))
    shape = build_shape(mesh, fg, view)
    assert shape.texture.dtype == np.uint8 and shape.texture.shape == (60, 60, 3)
    inner = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    expected = np.round(fg.rgb * 255)
    assert np.abs(shape.texture[inner].astype(float) - expected[inner]).max() <= 1.0
    ring = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & ~mask
    assert shape.texture[ring][:, 2].mean() < 120  # the object's blue (0.3), not the white background
    # UVs: the vertex's pixel over the image size, v flipped (origin bottom-left).
    n_front = len(mesh.vertices)
    np.testing.assert_allclose(shape.uv[:n_front, 0], mesh.vertices[:, 0] / 60, atol=1e-6)
    np.testing.assert_allclose(shape.uv[:n_front, 1], 1.0 - mesh.vertices[:, 1] / 60, atol=1e-6)
