"""The shared rasterizer covers exactly the pixel centres inside triangles and z-buffers correctly."""

import numpy as np

from backend.render.rasterize import rasterize


def test_coverage_matches_area_and_interpolates_positions():
    uv = np.array([[10, 10], [50, 12], [30, 60], [70, 70.0]])
    faces = np.array([[0, 2, 1], [1, 2, 3]])
    r = rasterize(uv, faces, 80, 80)
    area = 0.5 * abs(np.cross(uv[1] - uv[0], uv[2] - uv[0])) + 0.5 * abs(np.cross(uv[2] - uv[1], uv[3] - uv[1]))
    assert abs(int(r.mask.sum()) - area) < 0.05 * area
    rows, cols = np.nonzero(r.mask)
    got = r.interpolate(faces, uv)[r.mask]
    np.testing.assert_allclose(got, np.stack([cols + 0.5, rows + 0.5], 1), atol=1e-3)


def test_nearest_surface_wins_and_backfaces_cull():
    uv = np.array([[0, 0], [0, 10], [10, 10], [10, 0]] * 2, float)
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    near_first = rasterize(uv, faces, 10, 10, depth=np.array([1] * 4 + [2] * 4, float))
    near_second = rasterize(uv, faces, 10, 10, depth=np.array([2] * 4 + [1] * 4, float))
    assert set(np.unique(near_first.face_id)) == {0, 1}
    assert set(np.unique(near_second.face_id)) == {2, 3}
    # [0,1,2] is counter-clockwise in (u, -v): front-facing; reversed it is culled.
    assert rasterize(uv[:4], faces[:2], 10, 10, cull_backfaces=True).mask.all()
    assert not rasterize(uv[:4], faces[:2][:, ::-1], 10, 10, cull_backfaces=True).mask.any()
