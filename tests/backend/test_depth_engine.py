"""Geometry model engine "depth": Depth Anything preprocessing, the relief fit, a closed Shape3D from a tiny model."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from tiny_models import build_tiny_depth_anything

from backend.errors import ModelUnavailableError
from backend.geometry2d import build_silhouette_mesh
from backend.geometry3d.mesh_ops import euler_characteristic, is_closed_manifold
from backend.inputs import load_image, prepare_pair
from backend.stages.foreground import extract_foreground
from backend.stages.geometry import build_shape, input_view
from backend.stages.geometry.depth_engine import (
    EDGE_RING_PX,
    DepthPreprocessing,
    MonocularDepth,
    build_shape_from_depth,
    front_height_from_disparity,
    object_crop_box,
    object_disparity,
)
from backend.stages.geometry.inflate import poisson_height
from backend.stages.geometry.refine import refine_for_inflation


@pytest.fixture(scope="module")
def tiny_depth(tmp_path_factory):
    return build_tiny_depth_anything(tmp_path_factory.mktemp("tiny_depth"), image_size=56)


@pytest.fixture(scope="module")
def mill(examples_dir):
    """The bundled windmill pair's start image at a 128-pixel working size: foreground, mesh, view."""
    start, end = load_image(examples_dir / "mill" / "start.png"), load_image(examples_dir / "mill" / "end.png")
    rgba, _ = prepare_pair(start, end, 128)
    fg = extract_foreground(start, rgba, "auto")
    mesh = build_silhouette_mesh(fg.mask, 8.0)
    return fg, mesh, input_view(fg.mask, start.size)


def disc_mesh(size=64, radius=26):
    yy, xx = np.mgrid[0:size, 0:size]
    mask = (xx + 0.5 - size / 2) ** 2 + (yy + 0.5 - size / 2) ** 2 <= radius ** 2
    return refine_for_inflation(build_silhouette_mesh(mask, 4.0))


@pytest.mark.parametrize("height,width", [(200, 300), (517, 90), (64, 64), (1000, 700)])
def test_preprocessing_matches_the_transformers_dpt_processor(height, width):
    from transformers.models.dpt.image_processing_pil_dpt import DPTImageProcessorPil

    ours = DepthPreprocessing()
    reference = DPTImageProcessorPil(do_resize=True, size={"height": 518, "width": 518}, keep_aspect_ratio=True,
                                     ensure_multiple_of=14, resample=3, do_rescale=True, rescale_factor=1 / 255,
                                     do_normalize=True, image_mean=list(ours.mean), image_std=list(ours.std))
    img = (np.random.default_rng(height).random((height, width, 3)) * 255).astype(np.uint8)
    expected = reference(images=img, return_tensors="np")["pixel_values"]
    got = ours(img)
    assert got.shape == expected.shape and got.shape[2] % 14 == 0 and got.shape[3] % 14 == 0
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_preprocessing_reads_the_model_folder(tiny_depth):
    pre = DepthPreprocessing.from_folder(tiny_depth)
    assert (pre.height, pre.width, pre.multiple) == (56, 56, 14)
    assert pre.output_size(100, 150) == (56, 84)


def test_relief_ignores_a_tilt_and_follows_the_bump():
    refined = disc_mesh()
    u, v = refined.vertices[:, 0], refined.vertices[:, 1]
    h_inf = 0.7 * poisson_height(refined)
    bump = np.exp(-((u - 22) ** 2 + (v - 32) ** 2) / (2 * 6.0 ** 2))
    plain, fit = front_height_from_disparity(refined, bump, h_inf, smooth=0.0)
    tilted, fit_t = front_height_from_disparity(refined, 3.0 * bump + 0.05 * u - 0.02 * v + 7.0, h_inf, smooth=0.0)
    assert not fit.fallback and fit.scale > 0
    assert np.all(plain[refined.rim] == 0) and np.all(plain >= 0)
    # A linear tilt is harmonic (linear precision of the cotangent Laplacian): removed exactly; scale absorbs 3x.
    np.testing.assert_allclose(tilted, plain, atol=1e-6 * plain.max())
    top = np.argmax(plain)
    assert abs(u[top] - 22) < 6 and abs(v[top] - 32) < 6, "the highest front point sits on the predicted bump"
    # Least squares against the inflation: the scale keeps heights of the inflation's size.
    inner = ~refined.rim
    assert 0.2 < plain[inner].mean() / h_inf[inner].mean() < 5


def test_smoothing_reduces_noise_and_flat_depth_falls_back():
    refined = disc_mesh()
    h_inf = 0.7 * poisson_height(refined)
    noise = np.random.default_rng(1).normal(size=len(refined.vertices))
    rough, _ = front_height_from_disparity(refined, h_inf + 5 * noise, h_inf, smooth=0.0)
    smooth, _ = front_height_from_disparity(refined, h_inf + 5 * noise, h_inf, smooth=1.5)
    inner = ~refined.rim
    assert np.abs(smooth - h_inf)[inner].mean() < np.abs(rough - h_inf)[inner].mean()
    flat, fit = front_height_from_disparity(refined, np.full(len(refined.vertices), 0.3), h_inf)
    assert fit.fallback and np.allclose(flat, h_inf)
    inverted, fit = front_height_from_disparity(refined, -h_inf, h_inf)
    assert fit.fallback and fit.correlation < 0 and np.allclose(inverted, h_inf)


def test_depth_shape_is_closed_and_matches_the_inflation_layout(tiny_depth, mill):
    fg, mesh, view = mill
    inflated = build_shape(mesh, fg, view, 0.7)
    shape = build_shape_from_depth(mesh, fg, view, 0.7, device="cpu", model_path=tiny_depth)
    assert shape.vertices.shape == inflated.vertices.shape and np.isfinite(shape.vertices).all()
    np.testing.assert_array_equal(shape.faces, inflated.faces)
    np.testing.assert_array_equal(shape.side, inflated.side)
    np.testing.assert_array_equal(shape.source_vertex, inflated.source_vertex)
    np.testing.assert_array_equal(shape.uv, inflated.uv)
    assert is_closed_manifold(shape.faces) and euler_characteristic(shape.faces) % 2 == 0
    front = shape.side >= 0
    assert not np.allclose(shape.vertices[front], inflated.vertices[front]), "the front follows the model"
    np.testing.assert_array_equal(shape.vertices[~front], inflated.vertices[~front])  # back: the inflation
    refined = refine_for_inflation(mesh)
    uv, depth = view.camera_work.project(shape.vertices[front])
    np.testing.assert_allclose(uv, refined.vertices, atol=1e-9)  # every front vertex on its pixel
    assert np.all(depth > 0)
    assert np.all(shape.vertices[shape.side == 0, 1] == 0) and np.all(shape.vertices[shape.side == 1, 1] <= 0)
    again = build_shape_from_depth(mesh, fg, view, 0.7, device="cpu", model_path=tiny_depth)
    np.testing.assert_array_equal(again.vertices, shape.vertices)


def test_model_prediction_and_object_disparity(tiny_depth, mill):
    fg, _, _ = mill
    model = MonocularDepth.load("cpu", tiny_depth)
    img = fg.rgb[10:70, 5:100]
    pred = model.predict(img)
    assert pred.shape == img.shape[:2] and pred.dtype == np.float32 and np.isfinite(pred).all()
    disp = object_disparity(model, fg.rgb, fg.mask)
    assert disp.shape == fg.mask.shape and np.isfinite(disp).all()
    x0, y0, x1, y1 = object_crop_box(fg.mask)
    assert x0 <= np.nonzero(fg.mask.any(0))[0][0] and x1 >= np.nonzero(fg.mask.any(0))[0][-1] + 1
    inner = cv2.erode(fg.mask.astype(np.uint8), np.ones((2 * EDGE_RING_PX + 1,) * 2, np.uint8)).astype(bool)
    inside = disp[inner]
    assert np.percentile(inside, 95) - np.percentile(inside, 5) == pytest.approx(1.0, abs=0.05)


def test_missing_weights_raise_a_clear_error(mill, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("TWEEN4D_MODEL_DEPTH", raising=False)
    fg, mesh, view = mill
    with pytest.raises(ModelUnavailableError) as exc:
        build_shape_from_depth(mesh, fg, view, 0.7, device="cpu", cache_dir=tmp_path)
    assert "depth-anything/Depth-Anything-V2-Small-hf" in exc.value.message
    assert "python -m backend models download depth" in exc.value.hint


class OracleDepth(MonocularDepth):
    """A 'model' that returns the exact disparity of a known surface (affinely distorted, as a real one may be)."""

    def __init__(self, disparity: np.ndarray):
        self.disparity = disparity
        self.box = None

    def predict(self, rgb):
        x0, y0, x1, y1 = self.box
        assert rgb.shape[:2] == (y1 - y0, x1 - x0)
        return (3.0 * self.disparity[y0:y1, x0:x1] + 5.0).astype(np.float32)


def test_exact_disparity_recovers_a_lopsided_dome():
    """Ellipse silhouette whose true front is a dome leaning to the right: the engine finds it, the inflation can't."""
    from backend.types import Foreground

    s, a, b = 128, 50, 35
    yy, xx = np.mgrid[0:s, 0:s] + 0.5
    q = ((xx - s / 2) / a) ** 2 + ((yy - s / 2) / b) ** 2
    mask = q <= 1
    true_h = np.where(mask, 30 * np.sqrt(np.clip(1 - q, 0, 1)) * (1 + 0.6 * (xx - s / 2) / a), 0.0)
    rgb = np.ones((s, s, 3), np.float32)
    rgb[mask] = (0.6, 0.4, 0.2)
    fg = Foreground(rgb=rgb, alpha=mask.astype(np.float32), mask=mask, method="test")
    mesh = build_silhouette_mesh(mask, 5.0)
    view = input_view(mask, (s, s))
    oracle = OracleDepth(1.0 / (view.plane_depth - true_h * view.metres_per_pixel))
    oracle.box = object_crop_box(mask)
    shape = build_shape_from_depth(mesh, fg, view, 0.7, depth_model=oracle)
    inflated = build_shape(mesh, fg, view, 0.7)
    refined = refine_for_inflation(mesh)
    inner = np.nonzero(~refined.rim)[0]
    want = cv2.remap(true_h.astype(np.float32), (refined.vertices[inner, 0] - 0.5).astype(np.float32)[:, None],
                     (refined.vertices[inner, 1] - 0.5).astype(np.float32)[:, None], cv2.INTER_LINEAR).ravel()

    def correlation(sh):
        return np.corrcoef(-sh.vertices[inner, 1], want)[0, 1]

    assert correlation(shape) > 0.95  # 0.974 measured
    assert correlation(inflated) < 0.85, "0.751 measured: the test shape is one the inflation alone cannot explain"
