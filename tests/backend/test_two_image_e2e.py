"""End to end on real pairs: the asset validates, reproduces both images' silhouettes, and moves continuously."""

from __future__ import annotations

import numpy as np
import pytest

from backend.asset import load_asset
from backend.inputs import load_image
from backend.pipeline import generate_two_image
from backend.settings import GenerateSettings

PAIRS = ["robot_arm", "telescope", "mill", "turtle"]
FRAMES = 16


def _silhouette(path, size):
    """Foreground mask of an input image at ``size`` (w, h), computed independently of the asset."""
    import cv2

    from backend.inputs import prepare_single
    from backend.stages.foreground import extract_foreground

    img = load_image(path)
    fg = extract_foreground(img, prepare_single(img, max(size)))
    return cv2.resize(fg.mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)


def _iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


@pytest.fixture(scope="module", params=PAIRS)
def pair_asset(request, examples_dir, tmp_path_factory):
    pair = examples_dir / request.param
    out = tmp_path_factory.mktemp(request.param) / "asset"
    events = []
    result = generate_two_image(pair / "start.png", pair / "end.png", out,
                                GenerateSettings(quality="draft", frames=FRAMES), sink=events.append)
    return request.param, pair, load_asset(result.asset_dir), events


def test_asset_is_valid_and_complete(pair_asset):
    name, _, asset, _ = pair_asset
    g, m = asset.gaussians, asset.manifest
    assert m["frame_count"] == FRAMES and g.means.shape[0] == FRAMES
    assert m["keyframes"][0] == 0 and m["keyframes"][-1] == FRAMES - 1
    assert g.count >= 5_000, "draft quality still samples thousands of Gaussians"
    assert {i["role"] for i in m["inputs"]} == {"start", "end"}
    assert asset.mesh is not None and asset.mesh.vertices.shape[0] == FRAMES
    assert (m["camera"]["width"], m["camera"]["height"]) == load_image(pair_asset[1] / "start.png").size
    extent = np.ptp(np.asarray(g.means[0]), axis=0).max()
    assert 0.8 < extent < 1.3, f"largest extent at frame 0 should be about 1 m, got {extent:.2f}"
    assert np.abs(np.asarray(g.means[0]).mean(axis=0)).max() < 0.25, "the asset is centred on the origin"


def test_first_and_last_frame_reproduce_the_silhouettes(pair_asset):
    from backend.asset import Camera
    from backend.render.splat import coverage_mask

    name, pair, asset, _ = pair_asset
    cam = Camera.from_dict(asset.manifest["camera"])
    g = asset.gaussians
    size = (cam.width, cam.height)
    first = coverage_mask(np.asarray(g.means[0]), g.scales_at(0), cam)
    last = coverage_mask(np.asarray(g.means[-1]), g.scales_at(FRAMES - 1), cam)
    iou_start = _iou(first, _silhouette(pair / "start.png", size))
    iou_end = _iou(last, _silhouette(pair / "end.png", size))
    assert iou_start >= 0.9, f"{name}: frame 0 IoU {iou_start:.3f}"
    assert iou_end >= 0.8, f"{name}: last frame IoU {iou_end:.3f}"


def test_motion_is_continuous(pair_asset):
    name, _, asset, _ = pair_asset
    means = np.asarray(asset.gaussians.means, np.float64)
    steps = np.linalg.norm(np.diff(means, axis=0), axis=-1)  # [T-1, N]
    size = np.ptp(means[0], axis=0).max()
    assert steps.max() < 0.1 * size, f"{name}: a Gaussian jumps {steps.max():.3f} m between frames"
    # Smooth in time: no Gaussian's step is far above its own average step.
    mean_step = steps.mean(axis=0)
    assert np.all(steps <= 3.0 * mean_step + 0.01 * size), f"{name}: irregular motion"


def test_progress_events_cover_every_stage_in_order(pair_asset):
    from backend.pipeline import STAGES

    _, _, _, events = pair_asset
    stages = [e["stage"] for e in events if e["type"] == "progress"]
    seen = list(dict.fromkeys(stages))
    assert seen == [name for name, _ in STAGES]


def test_identical_images_give_a_still_asset(examples_dir, tmp_path):
    """Two identical images are not an error: the asset simply does not move."""
    start = examples_dir / "turtle" / "start.png"
    result = generate_two_image(start, start, tmp_path / "still", GenerateSettings(quality="draft", frames=6))
    means = np.asarray(load_asset(result.asset_dir).gaussians.means, np.float64)
    drift = np.linalg.norm(means - means[0], axis=-1).max()
    assert drift < 2e-3 * np.ptp(means[0], axis=0).max(), f"a still pair moved by {drift:.4f} m"
