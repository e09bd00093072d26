"""Keyframes model engine "features": hierarchical bisection on DINOv2 feature distances, with a tiny random DINOv2."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_models import build_tiny_dinov2

from backend.errors import ModelUnavailableError
from backend.settings import GenerateSettings
from backend.stages.keyframes.feature_engine import (
    FeaturePreprocessing,
    FrameEmbedder,
    cosine_distances,
    hierarchical_keyframes,
    select_keyframes_by_features,
    swept_crop_box,
)
from backend.types import Motion2D, SilhouetteMesh

T, H, W = 17, 48, 64


@pytest.fixture(scope="module")
def tiny_dinov2(tmp_path_factory):
    return build_tiny_dinov2(tmp_path_factory.mktemp("tiny_dinov2"), image_size=56)


@pytest.fixture(scope="module")
def embedder(tiny_dinov2):
    return FrameEmbedder.load("cpu", tiny_dinov2)


def still_then_fast(t=T):
    """A still first half (one picture), then a second half whose every frame is a different picture."""
    rng = np.random.default_rng(7)
    base = np.zeros((H, W, 3), np.uint8)
    base[10:40, 20:44] = (200, 60, 30)
    frames = np.repeat(base[None], t, axis=0)
    for i in range(t // 2 + 1, t):
        frames[i] = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    return frames


def motion_of(frames):
    t = len(frames)
    corners = np.array([[2.0, 2.0], [W - 2.0, 2.0], [W - 2.0, H - 2.0], [2.0, H - 2.0]])
    return Motion2D(trajectories=np.repeat(corners[None], t, axis=0), frames=frames)


MESH = SilhouetteMesh(vertices=np.array([[2.0, 2.0], [62.0, 2.0], [62.0, 46.0]]), faces=np.array([[0, 2, 1]], np.int32),
                      boundary=np.arange(3, dtype=np.int32))


def test_bisection_on_a_step_puts_keyframes_at_the_step():
    appearance = np.array([0.0] * 8 + [1.0] * 9)  # one jump between frames 7 and 8
    d = np.abs(appearance[:, None] - appearance[None, :])
    assert hierarchical_keyframes(d, 0.5) == [0, 7, 8, 16]
    assert hierarchical_keyframes(np.zeros((9, 9)), 0.1) == [0, 8]
    assert hierarchical_keyframes(np.zeros((1, 1)), 0.1) == [0]


def test_bisection_balances_distances_and_respects_the_cap():
    # Appearance moves at speed 1 for 10 frames, then at speed 4 for 10 frames.
    pos = np.concatenate([np.arange(11.0), 10 + 4 * np.arange(1, 11.0)])
    d = np.abs(pos[:, None] - pos[None, :])
    keys = hierarchical_keyframes(d, 6.0)
    assert keys[0] == 0 and keys[-1] == len(pos) - 1 and keys == sorted(set(keys))
    assert all(d[a, b] <= 6.0 or b - a == 1 for a, b in zip(keys, keys[1:]))
    assert sum(k > 10 for k in keys) > sum(0 < k < 10 for k in keys), "keyframes gather where change is fast"
    capped = hierarchical_keyframes(d, 0.0, max_keyframes=5)
    assert len(capped) == 5 and {0, len(pos) - 1} <= set(capped)
    with pytest.raises(ValueError):
        hierarchical_keyframes(d[:3], 1.0)


def test_cosine_distances_and_crop_box():
    f = np.array([[1.0, 0.0], [0.0, 1.0], [np.sqrt(0.5), np.sqrt(0.5)]])
    d = cosine_distances(f)
    assert d[0, 0] == 0 and d[0, 1] == pytest.approx(1.0) and d[0, 2] == pytest.approx(1 - np.sqrt(0.5))
    traj = np.array([[[10.0, 20.0], [30.0, 25.0]], [[12.0, 18.0], [40.0, 30.0]]])
    assert swept_crop_box(traj, (64, 48), margin=0.0) == (10, 18, 40, 30)
    assert swept_crop_box(traj, (64, 48), margin=0.5) == (0, 3, 55, 45)
    assert swept_crop_box(traj + 500, (64, 48)) == (0, 0, 64, 48)


def test_preprocessing_normalises_like_the_dinov2_processor(tiny_dinov2):
    from transformers.models.bit.image_processing_pil_bit import BitImageProcessorPil

    pre = FeaturePreprocessing.from_folder(tiny_dinov2)
    assert pre.side == 56 and pre.patch == 14
    assert pre.output_size(48, 64) == (42, 70) and pre.output_size(200, 50) == (112, 28)
    img = (np.random.default_rng(0).random((42, 70, 3)) * 255).astype(np.uint8)
    ref = BitImageProcessorPil(do_resize=False, do_center_crop=False, do_rescale=True, rescale_factor=1 / 255,
                               do_normalize=True, image_mean=list(pre.mean), image_std=list(pre.std))
    expected = ref(images=img, return_tensors="np")["pixel_values"]
    np.testing.assert_allclose(pre(img[None]), expected, atol=1e-5)


def test_embeddings_are_unit_length_and_identical_frames_coincide(embedder):
    frames = still_then_fast()
    for pooling in ("cls", "mean", "cls+mean"):
        f = embedder.embed(frames[:11], pooling=pooling, batch_size=4)
        assert f.shape[0] == 11 and np.allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-5)
        d = cosine_distances(f)
        assert d[0, 1] < 1e-5 and d[0, 10] > 100 * max(d[0, 1], 1e-7)
    with pytest.raises(ValueError):
        embedder.embed(frames[:2], pooling="max")


def test_fast_changes_get_more_keyframes_and_results_repeat(embedder, tiny_dinov2):
    motion = motion_of(still_then_fast())
    keys = select_keyframes_by_features(motion, MESH, GenerateSettings(device="cpu"), embedder=embedder)
    assert keys[0] == 0 and keys[-1] == T - 1 and keys == sorted(set(keys))
    first = [k for k in keys if 0 < k <= T // 2]
    second = [k for k in keys if T // 2 < k < T - 1]
    assert len(second) > len(first), keys
    assert first == [T // 2], "the still half needs only the keyframe at the jump"
    again = select_keyframes_by_features(motion, MESH, GenerateSettings(device="cpu"), model_path=tiny_dinov2)
    assert again == keys
    strict = select_keyframes_by_features(motion, MESH, None, embedder=embedder, threshold=10.0)
    assert strict == [0, T - 1]
    still = motion_of(np.repeat(still_then_fast()[:1], T, axis=0))
    assert select_keyframes_by_features(still, MESH, None, embedder=embedder) == [0, T - 1]


def test_missing_frames_or_weights_are_clear_errors(tmp_path, monkeypatch, embedder):
    no_frames = Motion2D(trajectories=np.zeros((5, 3, 2)))
    with pytest.raises(ValueError, match="frames"):
        select_keyframes_by_features(no_frames, MESH, None, embedder=embedder)
    wrong = Motion2D(trajectories=np.zeros((5, 3, 2)), frames=np.zeros((4, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="5 trajectory frames but 4 images"):
        select_keyframes_by_features(wrong, MESH, None, embedder=embedder)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("TWEEN4D_MODEL_FEATURES", raising=False)
    with pytest.raises(ModelUnavailableError) as exc:
        select_keyframes_by_features(motion_of(still_then_fast()), MESH, None, device="cpu", cache_dir=tmp_path)
    assert "facebook/dinov2-small" in exc.value.message and "models download features" in exc.value.hint
