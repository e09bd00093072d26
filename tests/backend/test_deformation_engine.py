"""The deformation-field motion engine on a tiny synthetic scene (CPU, pure-torch splatting)."""

import threading

import cv2
import numpy as np
import pytest
import torch

from backend.errors import Cancelled
from backend.geometry2d import build_silhouette_mesh
from backend.progress import Progress
from backend.stages.geometry import build_shape, input_view
from backend.stages.motion import lift_motion
from backend.stages.motion.deformation_engine import DeformationConfig, fit_deformation, segment_weights
from backend.types import Foreground, Motion2D, Motion3D

SIZE = 64
FRAMES = 10
KEYFRAMES = [0, 3, 6, 9]
FAST = DeformationConfig(eval_frames=4, frames_per_step=4)


def _rigid(k: int) -> np.ndarray:
    m = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), 2.0 * k, 1.0)
    m[:, 2] += (0.8 * k, 0.3 * k)
    return m


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Small tensors: one thread is faster than two on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def scene():
    """A textured blob with an arm turning and drifting over 10 frames; its exact lift is the ground truth."""
    rng = np.random.default_rng(0)
    mask = np.zeros((SIZE, SIZE), np.uint8)
    cv2.ellipse(mask, (28, 32), (16, 10), 0, 0, 360, 1, -1)
    cv2.rectangle(mask, (40, 29), (54, 35), 1, -1)
    tex = cv2.GaussianBlur(rng.random((SIZE, SIZE, 3)).astype(np.float32), (0, 0), 1.0)
    tex = (tex - tex.min()) / (tex.max() - tex.min())
    image = np.where(mask[..., None] > 0, tex, 1.0).astype(np.float32)
    fg = Foreground(rgb=image, alpha=mask.astype(np.float32), mask=mask.astype(bool), method="alpha")
    mesh = build_silhouette_mesh(fg.mask, 3.0)
    view = input_view(fg.mask, (SIZE, SIZE))
    shape = build_shape(mesh, fg, view)
    traj, frames = [], []
    for k in range(FRAMES):
        m = _rigid(k)
        traj.append((mesh.vertices - 0.5) @ m[:, :2].T + m[:, 2] + 0.5)  # OpenCV pixel centres are at integers
        frames.append((cv2.warpAffine(image, m, (SIZE, SIZE), borderValue=(1, 1, 1)) * 255).astype(np.uint8))
    motion2d = Motion2D(trajectories=np.array(traj), frames=np.array(frames))
    truth = lift_motion(shape, mesh, motion2d, view, KEYFRAMES)
    return dict(mesh=mesh, view=view, shape=shape, motion2d=motion2d, truth=truth.vertices)


@pytest.fixture(scope="module")
def fitted(scene):
    """20 iterations from an initial motion that bulges sideways, 4 cm mid-way, exact at both ends (as the lift is)."""
    drift = np.sin(np.pi * np.linspace(0.0, 1.0, FRAMES))[:, None, None] * np.array([0.04, 0.0, 0.02])
    init = Motion3D(vertices=scene["truth"] + drift)
    torch.manual_seed(0)
    out = fit_deformation(scene["shape"], scene["mesh"], scene["motion2d"], scene["view"], KEYFRAMES, None,
                          init=init, iterations=20, device="cpu", image_size=(SIZE, SIZE), config=FAST)
    return init, out


def test_segment_weights_are_a_continuous_partition_of_unity():
    w = segment_weights(20, [0, 6, 13, 19], 2.0)
    assert w.shape == (20, 3)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert (w >= 0).all()
    np.testing.assert_allclose(w[6, :2], [0.5, 0.5])
    np.testing.assert_allclose(w[13, 1:], [0.5, 0.5])
    assert w[0, 0] == 1 and w[10, 1] == 1 and w[19, 2] == 1
    # A smoothstep over 2b frames changes by at most 1.5 / (2b) per frame: no jumps.
    assert np.abs(np.diff(w, axis=0)).max() <= 1.5 / 4.0 + 1e-9
    hard = segment_weights(20, [0, 6, 19], 0.0)
    assert np.abs(np.diff(hard, axis=0)).max() == 1.0


def test_fit_lowers_the_loss_and_moves_toward_the_true_motion(scene, fitted):
    init, out = fitted
    d = out.diagnostics
    assert out.vertices.shape == init.vertices.shape and out.vertices.dtype == np.float64
    assert np.isfinite(out.vertices).all()
    assert d["deformation_loss_end"] < 0.8 * d["deformation_loss_start"]
    assert d["track_end"] < d["track_start"] and d["photometric_end"] < d["photometric_start"]
    assert d["renderer"] == "torch" and d["segments"] == 3
    truth = scene["truth"]
    mid = FRAMES // 2
    err_before = np.linalg.norm(init.vertices[mid] - truth[mid], axis=1).mean()
    err_after = np.linalg.norm(out.vertices[mid] - truth[mid], axis=1).mean()
    assert err_after < 0.7 * err_before


def test_last_frame_stays_the_initial_motions_last_frame(fitted):
    """The end image is a constraint the lift already meets: the fit cannot make the last frame worse."""
    init, out = fitted
    np.testing.assert_allclose(out.vertices[-1], init.vertices[-1], atol=1e-9)


def test_frame_zero_stays_the_rest_shape(scene, fitted):
    _, out = fitted
    np.testing.assert_array_equal(out.vertices[0], scene["shape"].vertices)


def test_motion_is_continuous_across_keyframes(fitted):
    _, out = fitted
    step = np.linalg.norm(np.diff(out.vertices, axis=0), axis=2).max(axis=1)  # [T-1] largest vertex step
    inner = [k for k in KEYFRAMES if 0 < k < FRAMES - 1]
    around = np.array([max(step[k - 1], step[k]) for k in inner])
    elsewhere = np.delete(step, [i for k in inner for i in (k - 1, k)])
    assert around.max() < 1.5 * np.median(elsewhere) + 1e-3


def test_cancel_stops_the_fit(scene):
    cancel = threading.Event()
    progress = Progress([("motion", 1.0)], sink=lambda event: cancel.set(), cancel=cancel)
    progress.current = "motion"
    with pytest.raises(Cancelled):
        fit_deformation(scene["shape"], scene["mesh"], scene["motion2d"], scene["view"], KEYFRAMES, progress,
                        iterations=500, device="cpu", image_size=(32, 32), config=DeformationConfig(eval_frames=1))


def test_mismatched_init_is_refused(scene):
    bad = Motion3D(vertices=np.zeros((FRAMES, 5, 3)))
    with pytest.raises(ValueError, match="init vertices"):
        fit_deformation(scene["shape"], scene["mesh"], scene["motion2d"], scene["view"], KEYFRAMES, None,
                        init=bad, iterations=1, device="cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the gsplat path needs a CUDA GPU; this machine has none")
def test_fit_runs_through_gsplat_on_cuda(scene):
    from backend.render.gsplat_backend import gsplat_cuda_status

    out = fit_deformation(scene["shape"], scene["mesh"], scene["motion2d"], scene["view"], KEYFRAMES, None,
                          iterations=20, device="cuda", image_size=(SIZE, SIZE), config=FAST)
    # gsplat where its kernels are built or can be built here, else the torch splatter (one log line).
    assert out.diagnostics["renderer"] == ("gsplat" if gsplat_cuda_status()[0] else "torch")
    assert out.diagnostics["device"].startswith("cuda")
    assert out.diagnostics["deformation_loss_end"] <= out.diagnostics["deformation_loss_start"]
    np.testing.assert_array_equal(out.vertices[0], scene["shape"].vertices)
