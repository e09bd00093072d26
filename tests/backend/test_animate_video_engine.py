"""The single-image video engine (contract 2): tracks, visibility and depth ratios with tiny random-weight models."""

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from backend.settings import GenerateSettings
from backend.stages.animate.video_engine import (
    VideoTracks,
    VideoTracksConfig,
    depth_ratios,
    track_points,
    video_tracks,
)

sys.path.insert(0, str(Path(__file__).parent))
from tiny_models import build_tiny_depth_anything, build_tiny_wan_vace  # noqa: E402

SIZE = 64


def _textured(rng):
    tex = cv2.GaussianBlur(rng.random((SIZE, SIZE, 3)).astype(np.float32), (0, 0), 1.2)
    return ((tex - tex.min()) / (tex.max() - tex.min())).astype(np.float32)


def test_chained_flow_follows_a_translation_and_drops_points_that_leave():
    rng = np.random.default_rng(0)
    base = _textured(rng)
    frames = np.stack([np.roll(base, (0, 2 * k), axis=(0, 1)) for k in range(5)])  # 2 px to the right per frame
    query = np.array([[20.5, 30.5], [32.5, 16.5], [62.5, 40.5]])
    tracks, visible = track_points(frames, query)
    assert tracks.shape == (5, 3, 2) and visible.shape == (5, 3)
    np.testing.assert_allclose(tracks[4, :2, 0], query[:2, 0] + 8.0, atol=0.6)
    np.testing.assert_allclose(tracks[4, :2, 1], query[:2, 1], atol=0.6)
    assert visible[:, :2].all()
    assert not visible[-1, 2]  # rolled off the right edge (the wrapped texture fails the check or leaves)


def test_depth_ratio_aligns_on_the_background_and_sees_the_object_come_closer():
    h = w = SIZE
    mask = np.zeros((h, w), bool)
    mask[20:44, 20:44] = True
    yy, xx = np.mgrid[0:h, 0:w]
    background = 1.0 + 0.01 * xx  # static background disparity with some texture
    disp = []
    for t in range(3):
        d = background.copy()
        d[mask] = 2.0 * (1.0 + 0.25 * t)  # the object's disparity grows: 1/z, so z_t / z_0 = 1 / (1 + 0.25 t)
        # The model's affine ambiguity: each frame has its own scale and shift.
        disp.append((0.5 + t) * d + 0.3 * t)
    tracks = np.repeat(np.array([[[32.0, 32.0], [5.0, 5.0]]]), 3, axis=0)
    visible = np.ones((3, 2), bool)
    ratios, how = depth_ratios(np.array(disp, np.float32), mask, tracks, visible)
    assert how == "background"
    np.testing.assert_allclose(ratios[:, 0], [1.0, 1 / 1.25, 1 / 1.5], rtol=1e-3)
    np.testing.assert_allclose(ratios[:, 1], 1.0, rtol=1e-3)  # the background stays


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return build_tiny_wan_vace(root / "vace"), build_tiny_depth_anything(root / "depth")


def test_video_tracks_with_tiny_models_keep_the_contract(tiny_models):
    vace, depth = tiny_models
    rng = np.random.default_rng(1)
    rgb = _textured(rng)
    mask = np.zeros((SIZE, SIZE), bool)
    mask[16:48, 12:52] = True
    query = np.stack(np.meshgrid(np.arange(14.5, 50, 6.0), np.arange(18.5, 46, 6.0)), -1).reshape(-1, 2)
    events = []

    class Recorder:
        def update(self, fraction, message="", force=False):
            events.append((fraction, message))

    cfg = VideoTracksConfig(num_inference_steps=2, guidance_scale=1.0, max_area=32 * 32, max_sequence_length=16)
    settings = GenerateSettings(frames=7, quality="draft", seed=2, device="cpu")
    out = video_tracks(rgb, mask, query, 7, settings, Recorder(), local_path=vace, depth_path=depth, config=cfg)
    assert isinstance(out, VideoTracks)
    n = len(query)
    assert out.tracks.shape == (7, n, 2) and out.tracks.dtype == np.float64
    assert out.visible.shape == (7, n) and out.visible.dtype == bool
    assert out.depth_ratio.shape == (7, n) and out.depth_ratio.dtype == np.float64
    np.testing.assert_array_equal(out.tracks[0], query)
    assert out.visible[0].all() and np.isfinite(out.tracks).all()
    np.testing.assert_array_equal(out.depth_ratio[0], 1.0)
    assert ((out.depth_ratio >= 0.5) & (out.depth_ratio <= 2.0)).all()
    assert (out.visible[1:] <= out.visible[:-1]).all()  # once lost, a track stays lost
    e = out.engines
    assert e["model"] == "Wan-AI/Wan2.1-VACE-1.3B-diffusers" and e["memory_mode"] == "full"
    assert e["pipeline"] == "WanVACEPipeline" and e["generated_frames"] == 9 and e["generated_size"] == [32, 32]
    assert e["depth_model"].startswith("depth-anything/")
    fractions = [f for f, _ in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("denoising step 2/2" in m for _, m in events)
