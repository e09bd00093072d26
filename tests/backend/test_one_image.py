"""Single-image mode end to end on real images (draft quality, few frames): the asset, its motion, bad input.

The bundled images: ``examples/singles/catstatue.png`` (an RGBA cut-out: an object) and
``examples/singles/bear.png`` (MoRe4D's bear photo: a scene).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from backend.asset import Camera, load_asset
from backend.errors import InputImageError
from backend.inputs import load_image
from backend.inputs.working import prepare_single
from backend.jobs import JobError, run_job
from backend.pipeline import generate_one_image
from backend.render.gaussian_views import psnr
from backend.render.surfel_splat import render_surfels
from backend.settings import GenerateSettings
from backend.single_settings import WORKING_SIDE, parse_motion

ROOT = Path(__file__).resolve().parents[2]
CAT = ROOT / "examples" / "singles" / "catstatue.png"
BEAR = ROOT / "examples" / "singles" / "bear.png"
#: The tail tip of the cat statue and where it is dragged; a pin on its body (input-image pixels, 256 x 256).
CAT_DRAG = (185.0, 50.0, 215.0, 110.0)
CAT_PIN = (100.0, 200.0)


def _working_image(path: Path, quality: str = "draft") -> np.ndarray:
    """The image as the pipeline sees it: float32 [H, W, 3] at the working size, RGBA over white."""
    rgba = prepare_single(load_image(path), WORKING_SIDE[quality])
    return rgba[..., :3] * rgba[..., 3:] + (1.0 - rgba[..., 3:])


def _view(asset, frame: int = 0, yaw_deg: float = 0.0, quality: str = "draft"):
    """Render a frame through the stored camera (scaled to the working size), optionally turned about the centre."""
    cam = Camera.from_dict(asset.manifest["camera"])
    s = WORKING_SIDE[quality] / max(cam.width, cam.height)
    cam = cam.scaled(s, s)
    if yaw_deg:
        target = np.asarray(asset.manifest["scene"]["centre"], float)
        a = math.radians(yaw_deg)
        rz = np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
        m = np.array(cam.matrix_world, float)
        m[:3, :3] = rz @ m[:3, :3]
        m[:3, 3] = target + rz @ (m[:3, 3] - target)
        cam.matrix_world = m
    g = asset.gaussians
    return render_surfels(g.means[frame], g.colors, g.opacities, g.scales_at(frame), g.rotations_at(frame), cam)


@pytest.fixture(scope="module")
def cat_asset(tmp_path_factory):
    out = tmp_path_factory.mktemp("single") / "cat"
    settings = GenerateSettings(frames=8, quality="draft", motion={"source": "preset", "preset": "sway", "loop": True})
    result = generate_one_image(CAT, out, settings)
    return result, load_asset(out)


@pytest.fixture(scope="module")
def bear_asset(tmp_path_factory):
    out = tmp_path_factory.mktemp("single") / "bear"
    result = generate_one_image(BEAR, out, GenerateSettings(frames=4, quality="draft", preview=False))
    return result, load_asset(out)


@pytest.fixture(scope="module")
def cat_drag_asset(tmp_path_factory):
    out = tmp_path_factory.mktemp("single") / "cat_drag"
    settings = GenerateSettings(frames=7, quality="draft", preview=False,
                                motion={"source": "drag", "drags": [list(CAT_DRAG)], "pins": [list(CAT_PIN)]})
    generate_one_image(CAT, out, settings)
    return load_asset(out)


def test_object_asset_is_single_image_with_preview(cat_asset):
    result, asset = cat_asset
    m = asset.manifest
    assert m["mode"] == "single_image" and m["subject"] == "object"
    assert m["motion"]["source"] == "preset" and m["motion"]["preset"] == "sway"
    assert m["engines"]["depth"]["engine"] == "popup" and m["engines"]["animate"]["engine"] == "preset"
    assert m["scene"]["depth_range_m"][0] < m["scene"]["depth_range_m"][1]
    assert (asset.path and (Path(asset.path) / "preview.mp4").exists()) or (result.asset_dir / "preview.mp4").exists()
    assert asset.mesh is not None and asset.mesh.vertices.shape[0] == 8


@pytest.mark.parametrize("which", ["cat", "bear"])
def test_frame0_through_stored_camera_reproduces_the_image(which, cat_asset, bear_asset):
    _, asset = cat_asset if which == "cat" else bear_asset
    image = _working_image(CAT if which == "cat" else BEAR)
    rgb, _ = _view(asset)
    assert rgb.shape == image.shape
    assert psnr(rgb, image) >= 25.0


def test_one_visible_gaussian_per_working_pixel_plus_filled(cat_asset, bear_asset):
    image = load_image(CAT)
    mask = prepare_single(image, WORKING_SIDE["draft"])[..., 3] >= 0.5
    g = cat_asset[1].gaussians
    seen = g.filled == 0
    assert g.filled.dtype == np.int8 and set(np.unique(g.filled)) == {0, 1}
    # the object: one seen Gaussian per silhouette pixel (the foreground's cleaned mask may differ by specks)
    assert abs(int(seen.sum()) - int(mask.sum())) <= 0.01 * mask.sum()
    assert len(np.unique(g.source_pixel[seen], axis=0)) == seen.sum(), "one seen Gaussian per pixel"
    # the object's back: one filled-in Gaussian behind each opaque pixel (the soft outline has no thickness)
    back = np.unique(g.source_pixel[~seen], axis=0)
    assert len(back) == int((~seen).sum()) and 0.8 * seen.sum() < len(back) < seen.sum()
    # the scene: every working pixel, plus the hidden layer and the padding
    bear = bear_asset[1]
    w, h = prepare_single(load_image(BEAR), WORKING_SIDE["draft"]).shape[1::-1]
    assert int((bear.gaussians.filled == 0).sum()) == w * h
    assert bear.gaussians.filled.sum() > 0
    assert bear.manifest["scene"]["filled_count"] == int(bear.gaussians.filled.sum())


def test_point_order_is_fixed_over_time(cat_asset):
    g = cat_asset[1].gaussians
    seen = np.nonzero(g.filled == 0)[0]
    # a row is the same Gaussian every frame: Gaussians of neighbouring pixels stay neighbours in every frame
    key = {tuple(rc): i for rc, i in zip(g.source_pixel[seen].tolist(), seen)}
    step = int(np.diff(np.unique(g.source_pixel[seen][:, 1])).min())  # input pixels per working pixel
    pairs = np.array([(i, key[(r, c + step)]) for (r, c), i in key.items() if (r, c + step) in key])
    assert len(pairs) > 1000
    d0 = np.linalg.norm(g.means[0][pairs[:, 0]] - g.means[0][pairs[:, 1]], axis=1)
    for t in range(g.frame_count):
        d = np.linalg.norm(g.means[t][pairs[:, 0]] - g.means[t][pairs[:, 1]], axis=1)
        assert np.all(d <= 1.5 * d0 + 1e-6), f"frame {t}"
    cam = Camera.from_dict(cat_asset[1].manifest["camera"])
    uv, _ = cam.project(g.means[0][g.filled == 0])
    row_col = np.floor(uv[:, ::-1]).astype(int)
    assert np.abs(row_col - g.source_pixel[g.filled == 0]).max() <= 1, "frame 0 points sit on their source pixels"


def test_loop_last_to_first_step_is_an_ordinary_step(cat_asset):
    means = cat_asset[1].gaussians.means.astype(np.float64)
    steps = [np.abs(means[t + 1] - means[t]).max() for t in range(len(means) - 1)]
    wrap = np.abs(means[0] - means[-1]).max()
    assert max(steps) > 0, "the preset moves"
    assert wrap <= max(steps) * 1.0001


def test_turning_the_camera_15_degrees_about_a_scene_leaves_little_uncovered(bear_asset):
    asset = bear_asset[1]
    for yaw in (15.0, -15.0):
        _, coverage = _view(asset, yaw_deg=yaw)
        assert np.mean(coverage < 0.5) < 0.02, f"{yaw} deg"


def test_drag_reaches_its_target_pins_stay_and_the_rest_stays_rigid(cat_drag_asset):
    asset = cat_drag_asset
    g = asset.gaussians
    cam = Camera.from_dict(asset.manifest["camera"])
    size = max(cam.width, cam.height)
    seen = np.nonzero(g.filled == 0)[0]
    uv0, _ = cam.project(g.means[0][seen])

    def nearest(u, v):
        return seen[np.argmin(np.hypot(uv0[:, 0] - u, uv0[:, 1] - v))]

    u0, v0, u1, v1 = CAT_DRAG
    i = nearest(u0, v0)
    end, _ = cam.project(g.means[-1][i])
    assert np.hypot(end[0] - u1, end[1] - v1) < 0.02 * size
    j = nearest(*CAT_PIN)
    uvp = [cam.project(g.means[t][j])[0] for t in range(g.frame_count)]
    assert max(np.hypot(p[0] - uvp[0][0], p[1] - uvp[0][1]) for p in uvp) < 0.005 * size
    # ARAP: edges of the animated mesh keep their lengths (bending moves them, stretching would not)
    faces = asset.mesh.faces
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    v = asset.mesh.vertices
    rest = np.linalg.norm(v[0][e[:, 0]] - v[0][e[:, 1]], axis=1)
    last = np.linalg.norm(v[-1][e[:, 0]] - v[-1][e[:, 1]], axis=1)
    change = np.abs(last / np.maximum(rest, 1e-9) - 1.0)
    assert np.median(change) < 0.05 and np.percentile(change, 90) < 0.25
    assert asset.manifest["motion"] == {"source": "drag", "drags": [list(CAT_DRAG)], "pins": [list(CAT_PIN)]}


@pytest.mark.parametrize("motion, fragment", [
    ({"source": "drag", "drags": [[10, 10, 300, 20]]}, "leaves the 256 x 256 image"),
    ({"source": "drag", "drags": [[5, 5, 40, 40]]}, "on the background"),
    ({"source": "drag", "drags": [[185, 50, 215, 110]], "pins": [[-3, 10]]}, "outside"),
])
def test_drags_the_image_cannot_take_are_refused_and_nothing_is_written(motion, fragment, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(InputImageError, match=fragment) as info:
        generate_one_image(CAT, out, GenerateSettings(frames=4, quality="draft", motion=motion))
    assert info.value.code == "input.drag" and info.value.hint
    assert not out.exists()


@pytest.mark.parametrize("motion, fragment", [
    ({"source": "drag", "drags": [[100, 100, 100, 100]]}, "zero length"),
    ({"source": "drag", "drags": [[185, 50, 215, 110]], "pins": [[185.5, 50.5]]}, "cannot be pinned and dragged"),
    ({"source": "drag", "drags": [[185, 50, 215, 110], [185, 50, 150, 20]]}, "start at the same point"),
    ({"source": "drag", "drags": []}, "at least one drag"),
    ({"source": "preset", "preset": "spin"}, "motion.preset must be one of"),
    ({"source": "preset", "amplitude": -1}, "motion.amplitude"),
    ({"source": "drag", "drags": [[1, 2, 3]]}, "must have 4 numbers"),
    ({"source": "telepathy"}, "motion.source must be one of"),
])
def test_bad_motion_settings_are_refused_before_anything_is_written(motion, fragment, tmp_path):
    out = tmp_path / "out"
    job = {"mode": "single_image", "inputs": {"image": str(CAT)}, "output": str(out),
           "settings": {"frames": 4, "quality": "draft", "motion": motion}}
    with pytest.raises(JobError, match=fragment):
        run_job(job)
    assert not out.exists()
    with pytest.raises(ValueError, match=fragment):
        parse_motion(motion)


def test_bad_subject_and_missing_image_are_job_errors(tmp_path):
    with pytest.raises(JobError, match="subject"):
        run_job({"mode": "single_image", "inputs": {"image": str(CAT)}, "output": str(tmp_path / "o"),
                 "settings": {"subject": "planet"}})
    with pytest.raises(JobError, match="inputs.image"):
        run_job({"mode": "single_image", "inputs": {}, "output": str(tmp_path / "o")})


def test_video_source_lifts_the_engines_tracks_with_depth_ratios(tmp_path, monkeypatch):
    """The lifting of contract 2's tracks: P_t = unproject(track_t, z_0 * r_t), filled points follow."""
    from dataclasses import dataclass

    @dataclass
    class VideoTracks:
        tracks: np.ndarray
        visible: np.ndarray
        depth_ratio: np.ndarray
        engines: dict

    def video_tracks(rgb, mask, query_uv, frame_count, settings, progress=None):
        t = np.arange(frame_count)[:, None, None]
        shift = np.array([2.0, -1.0])  # pixels per frame
        ratio = 1.0 + 0.02 * np.arange(frame_count)[:, None] * np.ones(len(query_uv))[None]
        return VideoTracks(query_uv[None] + t * shift, np.ones((frame_count, len(query_uv)), bool), ratio,
                           {"video": "test-double"})

    fake = types.ModuleType("backend.stages.animate.video_engine")
    fake.video_tracks = video_tracks
    fake.VideoTracks = VideoTracks
    monkeypatch.setitem(sys.modules, "backend.stages.animate.video_engine", fake)
    out = tmp_path / "video"
    generate_one_image(CAT, out, GenerateSettings(frames=4, quality="draft", preview=False,
                                                  motion={"source": "video", "prompt": "the cat waves its tail"}))
    asset = load_asset(out)
    g = asset.gaussians
    cam = Camera.from_dict(asset.manifest["camera"])
    s = WORKING_SIDE["draft"] / max(cam.width, cam.height)
    work = cam.scaled(s, s)
    seen = g.filled == 0
    uv0, z0 = work.project(g.means[0][seen])
    uv3, z3 = work.project(g.means[3][seen])
    np.testing.assert_allclose(uv3 - uv0, np.broadcast_to([6.0, -3.0], uv0.shape), atol=1e-3)
    np.testing.assert_allclose(z3 / z0, 1.06, rtol=1e-4)
    # the back (filled in) moves with the pixel in front of it
    back = g.means[:, ~seen]
    assert np.abs((back[3] - back[0]).mean(0) - (g.means[3][seen] - g.means[0][seen]).mean(0)).max() < 1e-3
    assert asset.manifest["motion"] == {"source": "video", "prompt": "the cat waves its tail"}


def test_cli_one_image_and_its_flags(tmp_path):
    out = tmp_path / "cli"
    proc = subprocess.run([sys.executable, "-m", "backend", "generate", str(CAT), "-o", str(out), "--quality",
                           "draft", "--frames", "4", "--no-preview", "--motion", "bob", "--amplitude", "2",
                           "--no-loop", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["mode"] == "single_image" and summary["subject"] == "object"
    m = json.loads((out / "asset.json").read_text())
    assert m["motion"] == {"source": "preset", "preset": "bob", "amplitude": 2.0, "period_frames": None,
                           "direction_deg": 0.0, "loop": False}
    bad = subprocess.run([sys.executable, "-m", "backend", "generate", str(CAT), "-o", str(tmp_path / "x"),
                          "--drag", "1,2,3"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "U0,V0,U1,V1" in bad.stderr and not (tmp_path / "x").exists()
    off = subprocess.run([sys.executable, "-m", "backend", "generate", str(CAT), "-o", str(tmp_path / "y"),
                          "--quality", "draft", "--drag", "5,5,40,40"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert off.returncode == 3 and "background" in off.stderr and not (tmp_path / "y").exists()


def test_scene_drag_moves_its_layer_and_leaves_the_background(tmp_path):
    """A drag on a scene's foreground layer (the bear) moves that layer at constant depth; the ground stays."""
    out = tmp_path / "bear_drag"
    drag = [150.0, 200.0, 190.0, 190.0]  # on the bear's body (512 x 368 image)
    generate_one_image(BEAR, out, GenerateSettings(frames=3, quality="draft", preview=False,
                                                   motion={"source": "drag", "drags": [drag]}))
    asset = load_asset(out)
    g = asset.gaussians
    cam = Camera.from_dict(asset.manifest["camera"])
    seen = np.nonzero(g.filled == 0)[0]
    uv0, z0 = cam.project(g.means[0][seen])
    i = seen[np.argmin(np.hypot(uv0[:, 0] - drag[0], uv0[:, 1] - drag[1]))]
    end, z_end = cam.project(g.means[-1][i])
    assert np.hypot(end[0] - drag[2], end[1] - drag[3]) < 0.02 * max(cam.width, cam.height)
    _, z_i0 = cam.project(g.means[0][i])
    assert abs(z_end - z_i0) < 1e-4 * z_i0, "constant depth"
    moved = np.linalg.norm(g.means[-1] - g.means[0], axis=1) > 1e-6
    assert moved.any() and moved.mean() < 0.5, "only the dragged layer moves"
    assert not moved[g.filled == 1].any(), "the hidden background behind it stays"


def test_depth_model_engine_on_a_scene_and_an_object(tmp_path, monkeypatch, tmp_path_factory):
    """Depth Anything V2 (a tiny random-weight model: the plumbing, not the quality) for both subjects."""
    from tiny_models import build_tiny_depth_anything

    monkeypatch.setenv("TWEEN4D_MODEL_DEPTH", str(build_tiny_depth_anything(tmp_path_factory.mktemp("tiny"))))
    for image, subject in ((BEAR, "scene"), (CAT, "object")):
        out = tmp_path / subject
        generate_one_image(image, out, GenerateSettings(frames=3, quality="draft", preview=False, device="cpu",
                                                        engines={"depth": "depth"}))
        m = load_asset(out).manifest
        assert m["subject"] == subject and m["engines"]["depth"]["engine"] == "depth"
        assert m["engines"]["depth"]["model"] and m["engines"]["depth"]["revision"]
        near, far = m["scene"]["depth_range_m"]
        assert 0 < near < far


def test_metric_depth_recovers_relative_depth_from_affine_disparity():
    from backend.stages.depth.monocular import FAR_RATIO, NEAR_M, metric_depth

    z = np.linspace(NEAR_M, FAR_RATIO * NEAR_M, 400).reshape(20, 20)
    rng = np.random.default_rng(0)
    z = rng.permutation(z.ravel()).reshape(20, 20)
    disparity = 3.0 / z + 0.7  # affine-invariant: unknown scale and shift
    # the anchors are the 95th / 1st percentiles, so compare ranks and ratios inside them
    est = metric_depth(disparity, np.zeros_like(z, bool))
    inner = (z > np.percentile(z, 5)) & (z < np.percentile(z, 95))
    ratio = est[inner] / z[inner]
    assert np.ptp(ratio) / ratio.mean() < 0.35
    assert np.corrcoef(est[inner], z[inner])[0, 1] > 0.99


def test_server_runs_a_single_image_job_and_reports_bad_drags(tmp_path):
    """The JSON-lines protocol (contract 1): hello lists the mode, a job runs all 8 stages, a bad drag is an error event."""
    proc = subprocess.Popen([sys.executable, "-m", "backend", "serve"], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def send(obj):
        proc.stdin.write((json.dumps(obj) + "\n").encode())
        proc.stdin.flush()

    def until_terminal():
        events = []
        while True:
            line = proc.stdout.readline()
            assert line, proc.stderr.read().decode()[-2000:]
            events.append(json.loads(line))
            if events[-1]["type"] in ("result", "error", "cancelled", "hello"):
                return events

    try:
        send({"type": "hello", "protocol": 1})
        hello = until_terminal()[-1]
        assert "single_image" in hello["modes"] and "drag" in hello["motion"]["sources"]
        assert hello["engines"]["animate"] == ["preset", "drag", "video"]
        out = tmp_path / "served"
        send({"type": "generate", "id": "s1", "mode": "single_image", "inputs": {"image": str(CAT)}, "output": str(out),
              "settings": {"quality": "draft", "frames": 4, "preview": False,
                           "motion": {"source": "preset", "preset": "turn", "amplitude": 0.5}}})
        events = until_terminal()
        assert events[-1]["type"] == "result", events[-1]
        stages = {e["stage"] for e in events if e["type"] == "progress"}
        assert stages == {"load", "foreground", "layers", "depth", "points", "holes", "animate", "write"}
        assert json.loads((out / "asset.json").read_text())["motion"]["preset"] == "turn"
        send({"type": "generate", "id": "s2", "mode": "single_image", "inputs": {"image": str(CAT)},
              "output": str(tmp_path / "bad"), "settings": {"quality": "draft", "frames": 4,
                                                          "motion": {"source": "drag", "drags": [[5, 5, 9, 9]]}}})
        err = until_terminal()[-1]
        assert err["type"] == "error" and err["id"] == "s2" and err["code"] == "input.drag" and err["hint"]
        assert not (tmp_path / "bad").exists()
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


@pytest.mark.parametrize("preset", ["ripple", "drift"])
def test_motion_textures_move_the_background_without_opening_gaps(preset, tmp_path):
    out = tmp_path / preset
    generate_one_image(BEAR, out, GenerateSettings(frames=4, quality="draft", preview=False,
                                                   motion={"source": "preset", "preset": preset}))
    asset = load_asset(out)
    g = asset.gaussians
    moved = np.linalg.norm(g.means - g.means[:1], axis=2).max(0) > 1e-6
    assert moved.mean() > 0.05, "the background moves"
    for t in range(g.frame_count):
        _, coverage = _view(asset, frame=t)
        assert np.mean(coverage < 0.5) < 0.005, f"frame {t}"
    assert asset.manifest["motion"]["preset"] == preset


def test_cancel_stops_the_job_and_writes_nothing(tmp_path):
    import threading

    from backend.errors import Cancelled

    cancel = threading.Event()
    cancel.set()
    out = tmp_path / "cancelled"
    with pytest.raises(Cancelled):
        generate_one_image(CAT, out, GenerateSettings(frames=4, quality="draft"), cancel=cancel)
    assert not out.exists()
