"""The video in-between engine: mesh tracking on synthetic motion; the engine with tiny Wan FLF2V / LTX pipelines."""

import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from backend.errors import Cancelled, ModelUnavailableError
from backend.geometry2d import build_silhouette_mesh
from backend.geometry2d.arap_registration import mask_iou, register_mesh
from backend.geometry2d.tracking import distribute_end_correction, track_mesh
from backend.progress import Progress
from backend.render.rasterize import rasterize
from backend.settings import GenerateSettings
from backend.stages.inbetween.video_engine import (
    VideoInbetweenConfig,
    generation_size,
    load_video_pipeline,
    resample_sequence,
    run_video_inbetween,
    segment_frames,
    valid_frame_count,
)
from backend.types import Foreground

sys.path.insert(0, str(Path(__file__).parent))
from tiny_models import build_tiny_ltx_condition, build_tiny_wan_flf2v  # noqa: E402

SIZE = 96


def _textured_object(rng):
    mask = np.zeros((SIZE, SIZE), np.uint8)
    cv2.ellipse(mask, (40, 48), (22, 14), 0, 0, 360, 1, -1)
    cv2.rectangle(mask, (55, 44), (75, 52), 1, -1)
    tex = cv2.GaussianBlur(rng.random((SIZE, SIZE, 3)).astype(np.float32), (0, 0), 1.5)
    tex = (tex - tex.min()) / (tex.max() - tex.min())
    return mask, np.where(mask[..., None] > 0, tex, 1.0).astype(np.float32)


def _moved(k: int) -> np.ndarray:
    m = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), 3.0 * k, 1.0)
    m[:, 2] += (1.5 * k, 0.5 * k)
    return m


def _apply(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    return (points - 0.5) @ m[:, :2].T + m[:, 2] + 0.5  # OpenCV puts pixel centres at integers, we at +0.5


@pytest.fixture(scope="module")
def rigid_sequence():
    rng = np.random.default_rng(0)
    mask, image = _textured_object(rng)
    frames, masks = [], []
    for k in range(7):
        m = _moved(k)
        frames.append(cv2.warpAffine(image, m, (SIZE, SIZE), borderValue=(1, 1, 1)))
        masks.append(cv2.warpAffine(mask, m, (SIZE, SIZE), flags=cv2.INTER_NEAREST).astype(bool))
    return build_silhouette_mesh(mask.astype(bool), 6.0), frames, masks


@pytest.mark.parametrize("with_masks", [False, True])
def test_tracking_follows_a_rigid_motion_without_drift(rigid_sequence, with_masks):
    mesh, frames, masks = rigid_sequence
    result = track_mesh(mesh, frames, masks if with_masks else None)
    traj = result.trajectories
    assert traj.shape == (7, len(mesh.vertices), 2)
    np.testing.assert_array_equal(traj[0], mesh.vertices)
    errors = [np.linalg.norm(traj[k] - _apply(_moved(k), mesh.vertices), axis=1).mean() for k in range(7)]
    # The object travels ~14 px and turns 18 degrees; anchoring on the start texture keeps the error flat.
    assert max(errors) < 0.6, errors
    assert result.diagnostics["flipped_triangles_max"] == 0
    assert result.diagnostics["silhouette_frames"] == (6 if with_masks else 0)


def test_end_correction_lands_exactly_and_spreads_evenly():
    rng = np.random.default_rng(1)
    traj = np.cumsum(rng.normal(size=(6, 4, 2)), axis=0)
    end = traj[-1] + np.array([5.0, -2.0])
    out = distribute_end_correction(traj, end)
    np.testing.assert_array_equal(out[0], traj[0])
    np.testing.assert_allclose(out[-1], end)
    np.testing.assert_allclose(np.diff(out - traj, axis=0), np.broadcast_to([1.0, -0.4], (5, 4, 2)))
    with pytest.raises(ValueError):
        distribute_end_correction(traj, end[:3])


def test_frame_counts_sizes_and_resampling():
    assert valid_frame_count(49, 4, 81) == 49
    assert valid_frame_count(50, 4, 81) == 53
    assert valid_frame_count(2, 4, 81) == 5
    assert valid_frame_count(200, 4, 81) == 81
    assert valid_frame_count(30, 8, 161) == 33
    w, h = generation_size(640, 480, 480 * 832, 16)
    assert w % 16 == 0 and h % 16 == 0 and abs(w / h - 4 / 3) < 0.05 and w * h <= 480 * 832
    seq = np.arange(9, dtype=float)[:, None] * np.array([1.0, 2.0])
    out = resample_sequence(seq, 5)
    np.testing.assert_allclose(out[:, 0], [0, 2, 4, 6, 8])
    np.testing.assert_allclose(resample_sequence(seq, 17)[1], [0.5, 1.0])


def test_segmentation_keys_plain_backgrounds_and_drops_implausible_masks(rigid_sequence):
    _, frames, masks = rigid_sequence
    start = Foreground(rgb=frames[0], alpha=masks[0].astype(np.float32), mask=masks[0], method="key")
    end = Foreground(rgb=frames[-1], alpha=masks[-1].astype(np.float32), mask=masks[-1], method="key")
    noisy = np.random.default_rng(2).random((SIZE, SIZE, 3)).astype(np.float32)
    found = segment_frames(np.array([frames[0], frames[3], noisy, frames[-1]]), start, end)
    assert found[0] is not None and found[-1] is not None
    assert mask_iou(found[1], masks[3]) > 0.9
    assert found[2] is None


# --- the engine with a tiny random-weight Wan 2.1 FLF2V pipeline ---------------------------------------------

@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory):
    folder = build_tiny_wan_flf2v(tmp_path_factory.mktemp("models") / "wan-flf2v")
    # Loaded the way the engine loads real weights: the registry's local-path override, local files only.
    return load_video_pipeline("video-wan", "cpu", local_path=folder)


@pytest.fixture(scope="module")
def robot_pair(examples_dir):
    from backend.inputs import load_image, prepare_pair
    from backend.stages.foreground import extract_foreground

    pair = examples_dir / "robot_arm"
    start, end = load_image(pair / "start.png"), load_image(pair / "end.png")
    start_rgba, end_rgba = prepare_pair(start, end, 64)
    start_fg, end_fg = extract_foreground(start, start_rgba), extract_foreground(end, end_rgba)
    return build_silhouette_mesh(start_fg.mask, 6.0), start_fg, end_fg


TINY = VideoInbetweenConfig(num_inference_steps=2, guidance_scale=1.0, max_area=32 * 32, max_sequence_length=16)


def test_tiny_wan_pipeline_gives_a_valid_motion(tiny_pipeline, robot_pair):
    mesh, start_fg, end_fg = robot_pair
    settings = GenerateSettings(frames=6, quality="draft", seed=3)
    events = []
    progress = Progress([("inbetween", 1.0)], sink=events.append)
    progress.current = "inbetween"
    motion = run_video_inbetween(mesh, start_fg, end_fg, 6, settings, progress, pipeline=tiny_pipeline, config=TINY)

    h, w = start_fg.mask.shape
    assert motion.trajectories.shape == (6, len(mesh.vertices), 2)
    assert motion.frames.shape == (6, h, w, 3) and motion.frames.dtype == np.uint8
    np.testing.assert_array_equal(motion.trajectories[0], mesh.vertices)
    assert np.isfinite(motion.trajectories).all()
    # The last frame is the weight-free registration onto the end object.
    reg = register_mesh(mesh, start_fg, end_fg, iterations=settings.preset.registration_iterations, seed=3)
    np.testing.assert_allclose(motion.trajectories[-1], reg.positions)
    assert mask_iou(rasterize(motion.trajectories[-1], mesh.faces, w, h).mask, end_fg.mask) > 0.8
    np.testing.assert_array_equal(motion.frames[0], (np.clip(start_fg.rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
    d = motion.diagnostics
    assert d["engine"] == "video" and d["generated_frames"] == 9 and d["generated_size"] == [32, 32]
    # Progress came from inside the denoising loop, and never went backwards.
    assert any("denoising step 2/2" in e.get("message", "") for e in events)
    overall = [e["overall"] for e in events if e["type"] == "progress"]
    assert overall == sorted(overall) and overall[-1] == 1.0


def test_ltx_condition_pipeline_drives_the_same_engine(robot_pair):
    mesh, start_fg, end_fg = robot_pair
    settings = GenerateSettings(frames=7, quality="draft")
    progress = Progress([("inbetween", 1.0)])
    progress.current = "inbetween"
    motion = run_video_inbetween(mesh, start_fg, end_fg, 7, settings, progress, pipeline=build_tiny_ltx_condition(),
                                 config=TINY)
    assert motion.trajectories.shape == (7, len(mesh.vertices), 2) and motion.frames.shape[0] == 7
    np.testing.assert_array_equal(motion.trajectories[0], mesh.vertices)
    d = motion.diagnostics
    assert d["pipeline"] == "LTXConditionPipeline" and d["generated_size"] == [32, 32]
    assert (d["generated_frames"] - 1) % 4 == 0 and d["generated_frames"] >= 7  # this tiny VAE: 4x in time


def test_cancel_stops_generation_within_a_denoising_step(tiny_pipeline, robot_pair):
    mesh, start_fg, end_fg = robot_pair
    cancel = threading.Event()
    steps = []

    def sink(event):
        if "denoising step" in event.get("message", ""):
            steps.append(event["message"])
            cancel.set()

    progress = Progress([("inbetween", 1.0)], sink=sink, cancel=cancel)
    progress.current = "inbetween"
    config = VideoInbetweenConfig(num_inference_steps=5, guidance_scale=1.0, max_area=32 * 32, max_sequence_length=16)
    with pytest.raises(Cancelled):
        run_video_inbetween(mesh, start_fg, end_fg, 5, GenerateSettings(frames=5, quality="draft"), progress,
                            pipeline=tiny_pipeline, config=config)
    assert len(steps) == 1  # the next step's callback raised


def test_missing_model_names_it_and_the_download_command(robot_pair, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("TWEEN4D_MODEL_VIDEO_VACE", raising=False)
    mesh, start_fg, end_fg = robot_pair
    progress = Progress([("inbetween", 1.0)])
    progress.current = "inbetween"
    with pytest.raises(ModelUnavailableError) as info:
        run_video_inbetween(mesh, start_fg, end_fg, 5, GenerateSettings(frames=5, quality="draft"), progress,
                            device="cpu")
    err = info.value
    assert "video-vace" in err.message and "Wan-AI/Wan2.1-VACE-1.3B-diffusers" in err.message
    assert "python -m backend models download video-vace" in err.hint


# --- the default model: Wan 2.1 VACE (tiny, random weights) ---------------------------------------------------

def test_vace_pipeline_keeps_first_and_last_frame_through_its_mask(robot_pair, tmp_path):
    from tiny_models import build_tiny_wan_vace

    folder = build_tiny_wan_vace(tmp_path / "wan-vace")
    pipe = load_video_pipeline("video-vace", "cpu", local_path=folder)
    assert type(pipe).__name__ == "WanVACEPipeline"
    assert pipe.tween4d_record["memory_mode"] == "full"  # the CPU has no offload
    assert pipe.tween4d_record["model"] == "Wan-AI/Wan2.1-VACE-1.3B-diffusers"
    mesh, start_fg, end_fg = robot_pair
    progress = Progress([("inbetween", 1.0)])
    progress.current = "inbetween"
    motion = run_video_inbetween(mesh, start_fg, end_fg, 6, GenerateSettings(frames=6, quality="draft"), progress,
                                 pipeline=pipe, config=TINY)
    d = motion.diagnostics
    assert d["pipeline"] == "WanVACEPipeline" and d["generated_frames"] == 9 and d["generated_size"] == [32, 32]
    assert d["memory_mode"] == "full"
    assert motion.trajectories.shape == (6, len(mesh.vertices), 2) and np.isfinite(motion.trajectories).all()
    np.testing.assert_array_equal(motion.trajectories[0], mesh.vertices)


def test_other_first_last_frame_models_stay_selectable(robot_pair, tmp_path, monkeypatch):
    """$TWEEN4D_VIDEO_MODEL picks Wan2.1 FLF2V 14B or LTX-Video instead of the default VACE."""
    from huggingface_hub import constants

    from backend.stages.inbetween import video_engine

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("TWEEN4D_MODEL_VIDEO_WAN", raising=False)
    monkeypatch.setenv("TWEEN4D_VIDEO_MODEL", "video-wan")
    mesh, start_fg, end_fg = robot_pair
    progress = Progress([("inbetween", 1.0)])
    progress.current = "inbetween"
    with pytest.raises(ModelUnavailableError) as info:
        video_engine.run(mesh, start_fg, end_fg, 5, GenerateSettings(frames=5, quality="draft", device="cpu"), progress)
    assert "Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers" in info.value.message
