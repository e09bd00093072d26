"""One small 3D-truth case built with real headless Blender, and the two-image pipeline scored on it."""

from __future__ import annotations

import numpy as np
import pytest
from truth3d_case_helpers import SMALL_FRAMES

from benchmarks.truth3d.metrics import iou, score
from benchmarks.truth3d.truth import CAMERA_NAMES, load_truth

pytestmark = pytest.mark.blender


def _alpha_mask(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        assert im.mode == "RGBA", "renders must keep the alpha channel the foreground stage reads"
        return np.asarray(im)[..., 3] > 127


def test_small_case_renders_agree_with_its_silhouettes(small_truth_case):
    truth = load_truth(small_truth_case)
    T = truth.frame_count
    assert T == SMALL_FRAMES
    assert truth.silhouettes.shape[:2] == (len(CAMERA_NAMES), T)
    assert truth.moving.any() and not truth.moving.all()  # the tube bends, the base stays
    # Cycles' alpha from the stored input camera and the numpy-rasterised mesh are the same object.
    assert iou(_alpha_mask(truth.start_image), truth.silhouettes[0, 0]) > 0.9
    assert iou(_alpha_mask(truth.end_image), truth.silhouettes[0, T - 1]) > 0.9
    assert iou(truth.silhouettes[0, 0], truth.silhouettes[0, T - 1]) < 0.8  # something visibly moved


@pytest.mark.xfail(strict=True, reason="issue 6 targets: today's engine inflates one thin cut-out, so the tube is a "
                   "ribbon and the disc a blade from the side (side IoU 0.55), and its trajectory error is 5% "
                   "of the diagonal on this case")
def test_two_image_asset_holds_up_from_the_sides(small_truth_case, tmp_path):
    from benchmarks.bench_3d import run_case

    truth = load_truth(small_truth_case)
    row = run_case(truth, "draft", {}, tmp_path / "asset")
    assert row["front_first_iou"] > 0.8  # the alignment keeps the input view: a failure below is the engine's
    assert row["side_iou"] >= 0.70, row
    assert row["trajectory_err"] <= 0.04, row
