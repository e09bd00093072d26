"""The weight-free in-between stage: ARAP registration onto the end image, trajectories, frames, cancel."""

import threading

import cv2
import numpy as np
import pytest

from backend.errors import Cancelled
from backend.geometry2d import build_silhouette_mesh, register_mesh
from backend.progress import Progress, null_progress
from backend.settings import GenerateSettings
from backend.stages.inbetween import ENGINES, run_inbetween
from backend.types import Foreground, Motion2D

SIZE = 160


def _textured_object(seed=0):
    """A textured blob with an arm on white: float32 rgb [S, S, 3] and bool mask."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((SIZE, SIZE), np.uint8)
    cv2.ellipse(mask, (70, 80), (38, 26), 10, 0, 360, 1, -1)
    cv2.rectangle(mask, (95, 70), (140, 84), 1, -1)
    tex = cv2.GaussianBlur(rng.random((SIZE, SIZE, 3)).astype(np.float32), (0, 0), 1.5)
    tex = (tex - tex.min()) / (tex.max() - tex.min())
    rgb = np.where(mask[..., None] > 0, 0.15 + 0.7 * tex, 1.0).astype(np.float32)
    return rgb, mask.astype(bool)


def _foreground(rgb, mask):
    return Foreground(rgb=rgb, alpha=mask.astype(np.float32), mask=mask, method="test")


def _moved(rgb, mask, matrix):
    out = cv2.warpAffine(rgb, matrix, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderValue=(1.0, 1.0, 1.0))
    m = cv2.warpAffine(mask.astype(np.float32), matrix, (SIZE, SIZE), flags=cv2.INTER_LINEAR) >= 0.5
    return np.where(m[..., None], out, 1.0).astype(np.float32), m


def _apply(matrix, uv):
    # cv2.warpAffine maps pixel indices (centres at integers); ours put centres at +0.5.
    p = uv - 0.5
    return p @ matrix[:, :2].T + matrix[:, 2] + 0.5


@pytest.fixture(scope="module")
def rigid_pair():
    rgb, mask = _textured_object()
    matrix = cv2.getRotationMatrix2D((80.0, 80.0), -20.0, 1.0)  # 20 degrees on screen
    matrix[:, 2] += (6.0, -4.0)
    end_rgb, end_mask = _moved(rgb, mask, matrix)
    return _foreground(rgb, mask), _foreground(end_rgb, end_mask), matrix


def test_registration_recovers_a_rigid_motion(rigid_pair):
    start, end, matrix = rigid_pair
    mesh = build_silhouette_mesh(start.mask, 8.0)
    reg = register_mesh(mesh, start, end, iterations=12)
    truth = _apply(matrix, mesh.vertices)
    err = np.linalg.norm(reg.positions - truth, axis=1)
    assert np.sqrt((err ** 2).mean()) < 1.0 and err.max() < 3.0
    assert reg.diagnostics["end_iou"] >= 0.95
    assert reg.diagnostics["flipped_triangles"] == 0


def test_identical_images_register_to_the_identity(rigid_pair):
    start, _, _ = rigid_pair
    mesh = build_silhouette_mesh(start.mask, 8.0)
    reg = register_mesh(mesh, start, start, iterations=12)
    assert np.linalg.norm(reg.positions - mesh.vertices, axis=1).max() < 0.5


def test_run_inbetween_contract(rigid_pair):
    start, end, _ = rigid_pair
    settings = GenerateSettings(quality="draft", frames=7)
    mesh = build_silhouette_mesh(start.mask, settings.preset.mesh_edge_px)
    motion = run_inbetween(mesh, start, end, 7, settings, null_progress("inbetween"))
    assert isinstance(motion, Motion2D)
    assert motion.trajectories.shape == (7, len(mesh.vertices), 2) and motion.trajectories.dtype == np.float64
    assert np.array_equal(motion.trajectories[0], mesh.vertices)
    assert motion.frames.shape == (7, SIZE, SIZE, 3) and motion.frames.dtype == np.uint8
    assert motion.diagnostics["end_iou"] >= 0.95
    # Frame 0 shows the start image, the last frame the end image (object and background).
    start_u8 = start.rgb * 255.0
    end_u8 = end.rgb * 255.0
    assert np.abs(motion.frames[0] - start_u8).mean() < 3.0
    assert np.abs(motion.frames[-1] - end_u8).mean() < 8.0
    # Half way, the object is half turned: its vertices lie between the two poses.
    mid = motion.trajectories[3]
    centre0, centre1 = motion.trajectories[0].mean(0), motion.trajectories[-1].mean(0)
    np.testing.assert_allclose(mid.mean(0), 0.5 * (centre0 + centre1), atol=1.0)


def test_unknown_engine_names_the_valid_ones(rigid_pair):
    start, end, _ = rigid_pair
    mesh = build_silhouette_mesh(start.mask, 10.0)
    with pytest.raises(ValueError, match="arap"):
        run_inbetween(mesh, start, end, 5, GenerateSettings(quality="draft"), null_progress(), engine="nope")
    assert "arap" in ENGINES


def test_cancel_stops_the_stage(rigid_pair):
    start, end, _ = rigid_pair
    mesh = build_silhouette_mesh(start.mask, 8.0)
    settings = GenerateSettings(quality="draft", frames=9)
    cancel = threading.Event()
    cancel.set()
    progress = Progress([("inbetween", 1.0)], cancel=cancel)
    progress.current = "inbetween"
    with pytest.raises(Cancelled):
        run_inbetween(mesh, start, end, 9, settings, progress)

    # A cancel arriving mid-way (from the progress sink, as the server's reader thread would) also stops it.
    late = threading.Event()
    seen = []

    def sink(event):
        seen.append(event)
        if len(seen) == 3:
            late.set()

    progress = Progress([("inbetween", 1.0)], sink=sink, cancel=late)
    progress.current = "inbetween"
    with pytest.raises(Cancelled):
        run_inbetween(mesh, start, end, 9, settings, progress)


ARTICULATED = ["in24d_robot_arm", "in24d_telescope", "in24d_mill", "in24d_turtle"]


@pytest.mark.parametrize("name", ARTICULATED)
def test_registration_fits_articulated_pairs(shared_data, name):
    from backend.inputs import load_image, prepare_pair
    from backend.stages.foreground import extract_foreground

    settings = GenerateSettings(quality="standard")
    pair = shared_data / "pairs" / name
    a, b = load_image(pair / "start.png"), load_image(pair / "end.png")
    ra, rb = prepare_pair(a, b, settings.preset.working_max_side)
    start, end = extract_foreground(a, ra), extract_foreground(b, rb)
    mesh = build_silhouette_mesh(start.mask, settings.preset.mesh_edge_px)
    reg = register_mesh(mesh, start, end, settings.preset.registration_iterations, seed=settings.seed)
    assert reg.diagnostics["end_iou"] >= 0.85, reg.diagnostics
    # No collapse or blow-up: the registered mesh keeps a plausible size.
    area = np.abs(np.cross(reg.positions[mesh.faces[:, 1]] - reg.positions[mesh.faces[:, 0]],
                           reg.positions[mesh.faces[:, 2]] - reg.positions[mesh.faces[:, 0]])).sum() / 2
    assert 0.5 < area / end.mask.sum() < 2.0


def _plain_figure(arms):
    """A plain (textureless) body with arms given as ((hinge u, v), degrees): Foreground, arm tips [(u, v)]."""
    m = np.zeros((SIZE, SIZE), np.uint8)
    cv2.ellipse(m, (80, 95), (28, 40), 0, 0, 360, 1, -1)
    tips = []
    for hinge, deg in arms:
        hinge = np.asarray(hinge, float)
        d = np.array([np.cos(np.deg2rad(deg)), np.sin(np.deg2rad(deg))])
        n = np.array([-d[1], d[0]])
        tip = hinge + 48.0 * d
        tips.append(tip)
        arm = np.array([hinge + 6 * n, tip + 6 * n, tip - 6 * n, hinge - 6 * n])
        cv2.fillPoly(m, [np.round(arm).astype(np.int32)], 1)
    mask = m.astype(bool)
    rgb = np.where(mask[..., None], np.float32([0.2, 0.4, 0.7]), np.float32(1.0)).astype(np.float32)
    return _foreground(rgb, mask), tips


def test_registration_raises_plain_arms_by_their_outline():
    # Both arms of a textureless figure go up: only the outline says which arm went where
    # (each arm's end must reach its own raised arm's end, not the other one's).
    start, tips0 = _plain_figure([((100, 75), 20.0), ((60, 75), 160.0)])
    end, tips1 = _plain_figure([((100, 75), -60.0), ((60, 75), -120.0)])
    mesh = build_silhouette_mesh(start.mask, 6.0)
    reg = register_mesh(mesh, start, end, iterations=12)
    assert reg.diagnostics["end_iou"] >= 0.93, reg.diagnostics
    for tip0, tip1 in zip(tips0, tips1):
        v = np.argmin(np.linalg.norm(mesh.vertices - tip0, axis=1))
        assert np.linalg.norm(reg.positions[v] - tip1) < 6.0
    assert reg.diagnostics["flipped_triangles"] == 0
