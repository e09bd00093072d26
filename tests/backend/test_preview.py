"""Splat coverage, textured mesh rendering from the input view, and the side-by-side preview video."""

import numpy as np
import pytest
from PIL import Image
from test_geometry3d import ellipse_mask, gradient_foreground, mask_mesh

from backend.asset import Camera
from backend.geometry3d.quaternions import quats_from_axis_angle
from backend.render import preview
from backend.render.mesh_render import render_mesh_frames
from backend.render.preview import compose_frames, write_preview
from backend.render.splat import coverage_mask
from backend.stages.geometry import build_shape, input_view
from backend.types import Motion3D


def camera(size=64, focal=100.0):
    return Camera.looking_along_y(size, size, focal, (0.0, -2.0, 0.0))


def test_coverage_of_one_round_gaussian_is_a_disc_of_the_projected_radius():
    cam = camera()
    mean = np.array([[0.0, 0.0, 0.0]])  # 2 m in front: projects to the centre (32, 32)
    scales = np.array([[0.1, 0.1, 0.01]])  # 0.1 m -> 5 px standard deviation at f = 100 px, 2 m
    disc = coverage_mask(mean, scales, cam, sigma=1.5)
    r = 1.5 * 0.1 * 100 / 2.0
    yy, xx = np.mgrid[:64, :64]
    expected = (xx + 0.5 - 32) ** 2 + (yy + 0.5 - 32) ** 2 <= r * r
    assert abs(int(disc.sum()) - int(expected.sum())) <= 0.12 * expected.sum()
    assert disc[32, 32] and not disc[32, 32 + int(r) + 2]
    # A disc facing the camera (its normal, local z, along world -Y) gives the same footprint as an ellipse.
    facing = quats_from_axis_angle(np.array([[np.pi / 2, 0.0, 0.0]]))  # local z -> world -Y
    ellipse = coverage_mask(mean, scales, cam, sigma=1.5, rotations=facing)
    assert (ellipse & expected).sum() / (ellipse | expected).sum() > 0.9


def test_edge_on_and_back_facing_gaussians():
    cam = camera()
    mean = np.array([[0.0, 0.0, 0.0]])
    scales = np.array([[0.1, 0.1, 0.005]])
    edge_on = quats_from_axis_angle(np.array([[0.0, 0.0, 0.0]]))  # normal along world +Z: seen edge-on
    thin = coverage_mask(mean, scales, cam, rotations=edge_on)
    assert thin.sum() < 0.25 * coverage_mask(mean, scales, cam).sum()
    away = quats_from_axis_angle(np.array([[-np.pi / 2, 0.0, 0.0]]))  # normal along +Y, away from the camera
    assert coverage_mask(mean, scales, cam, rotations=away).any()
    assert not coverage_mask(mean, scales, cam, rotations=away, front_only=True).any()
    with pytest.raises(ValueError):
        coverage_mask(mean, scales, cam, front_only=True)
    behind = coverage_mask(np.array([[0.0, -3.0, 0.0]]), scales, cam)
    assert not behind.any()


@pytest.fixture(scope="module")
def shape_scene():
    mask = ellipse_mask(80, 60, 40, 30, 30, 20)
    mesh = mask_mesh(mask, 5.0)
    view = input_view(mask, (160, 120))
    fg = gradient_foreground(mask)
    shape = build_shape(mesh, fg, view)
    return mask, fg, view, shape


def test_mesh_render_from_the_input_view_reproduces_the_start_image(shape_scene):
    mask, fg, view, shape = shape_scene
    shifted = shape.vertices + np.array([0.3, 0.0, 0.0])
    motion = Motion3D(np.stack([shape.vertices, shifted]))
    frames = render_mesh_frames(shape, motion, view.camera_work, shape.texture, (80, 60), background=(0, 0, 1))
    assert frames.shape == (2, 60, 80, 3) and frames.dtype == np.uint8
    inner = ellipse_mask(80, 60, 40, 30, 28, 18)
    diff = np.abs(frames[0].astype(float) - np.round(fg.rgb * 255))[inner]
    assert diff.mean() < 3.0
    assert np.all(frames[0][~ellipse_mask(80, 60, 40, 30, 32, 22)] == [0, 0, 255])
    # The second frame moved right: its coverage moved with it.
    cols0 = np.nonzero((frames[0] != [0, 0, 255]).any(-1).any(0))[0]
    cols1 = np.nonzero((frames[1] != [0, 0, 255]).any(-1).any(0))[0]
    assert cols1.mean() > cols0.mean() + 10


def test_mesh_render_from_behind_shows_the_closed_back(shape_scene):
    mask, fg, view, shape = shape_scene
    cam = view.camera_work
    m = np.array(cam.matrix_world)
    turn = np.diag([-1.0, -1.0, 1.0])  # 180 degrees about Z
    back_cam = Camera(cam.width, cam.height, cam.fx, cam.fy, cam.cx, cam.cy,
                      np.block([[turn @ m[:3, :3], (turn @ m[:3, 3])[:, None]], [np.zeros((1, 3)), np.ones((1, 1))]]))
    img = render_mesh_frames(shape, Motion3D(shape.vertices[None]), back_cam, background=(0, 0, 1))[0]
    covered = (img != [0, 0, 255]).any(-1)
    assert covered[np.fliplr(ellipse_mask(80, 60, 40, 30, 28, 18))].all()  # mirrored silhouette, no holes


def test_large_renders_are_scaled_down_for_previews(shape_scene):
    mask, fg, view, shape = shape_scene
    out = render_mesh_frames(shape, Motion3D(shape.vertices[None]), view.camera_work, size=(800, 600), max_side=200)
    assert out.shape == (1, 150, 200, 3)


def test_preview_video_is_side_by_side_with_even_size(tmp_path):
    start = np.full((30, 41, 3), 0.2, np.float32)
    end = np.zeros((30, 41, 4), np.uint8)
    rendered = np.full((6, 31, 41, 3), 128, np.uint8)
    frames = compose_frames(start, end, rendered)
    assert frames.shape[0] == 6 and frames.shape[1] % 2 == 0 and frames.shape[2] % 2 == 0
    assert frames.shape[2] >= 3 * 41
    written = write_preview(tmp_path / "preview.mp4", start, end, rendered, fps=12)
    assert written.exists() and written.parent == tmp_path
    if written.suffix == ".mp4":
        import imageio.v2 as iio

        with iio.get_reader(written) as reader:
            got = [f for f in reader]
        assert len(got) == 6 and got[0].shape == frames.shape[1:]


def test_preview_falls_back_to_gif_without_ffmpeg(tmp_path, monkeypatch):
    monkeypatch.setattr(preview, "_ffmpeg_available", lambda: False)
    rendered = np.random.default_rng(0).integers(0, 255, (4, 20, 24, 3), dtype=np.uint8)
    written = write_preview(tmp_path / "preview.mp4", np.ones((20, 24, 3)), np.ones((20, 24, 3)), rendered, fps=10)
    assert written.suffix == ".gif"
    with Image.open(written) as im:
        assert im.n_frames == 4
    with pytest.raises(ValueError):
        write_preview(tmp_path / "x.mp4", np.ones((4, 4, 3)), np.ones((4, 4, 3)), rendered, fps=0)
