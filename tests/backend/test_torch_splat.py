"""The pure-torch Gaussian splatter: footprint, order, gradients, camera conversion, and agreement with gsplat."""

import numpy as np
import pytest
import torch

from backend.asset import Camera
from backend.asset.camera import LOOK_ALONG_PLUS_Y
from backend.render.splatting import intrinsics_matrix, opencv_viewmat, render_gaussians, renderer_for
from backend.render.torch_splat import covariances, project_gaussians, rasterize_gaussians

F64 = torch.float64


def _camera(size=33, focal=40.0, distance=2.0, centre=None) -> Camera:
    """Camera on -Y looking toward +Y; with centre=None the origin projects onto the middle pixel's centre."""
    m = np.eye(4)
    m[:3, :3] = LOOK_ALONG_PLUS_Y
    m[:3, 3] = (0.0, -distance, 0.0)
    c = (size // 2 + 0.5) if centre is None else centre
    return Camera(size, size, focal, focal, c, c, m)


def _one(values, dtype=F64):
    return torch.tensor(values, dtype=dtype)


def test_single_gaussian_lands_on_its_pixel_with_the_ewa_footprint():
    cam = _camera()
    s, opacity = 0.05, 0.8
    rgb, alpha = render_gaussians(_one([[0.0, 0.0, 0.0]]), _one([opacity]), _one([[0.2, 0.6, 1.0]]), cam,
                                  quats=_one([[1.0, 0.0, 0.0, 0.0]]), scales=_one([[s, s, s]]))
    assert rgb.shape == (33, 33, 3) and alpha.shape == (33, 33, 1)
    a = alpha[..., 0].numpy()
    assert np.unravel_index(a.argmax(), a.shape) == (16, 16)
    # Zwicker et al. 2002: screen variance (f s / z)^2, plus the 0.3 px^2 low-pass of 3DGS.
    var = (cam.fx * s / 2.0) ** 2 + 0.3
    rows, cols = np.mgrid[0:33, 0:33]
    d2 = (cols + 0.5 - 16.5) ** 2 + (rows + 0.5 - 16.5) ** 2
    expected = opacity * np.exp(-0.5 * d2 / var)
    expected[expected < 1.0 / 255.0] = 0.0
    np.testing.assert_allclose(a, expected, atol=1e-9)
    np.testing.assert_allclose(rgb.numpy(), expected[..., None] * np.array([0.2, 0.6, 1.0]), atol=1e-9)


def test_anisotropic_scales_and_rotation_shape_the_footprint():
    cam = _camera(size=41, focal=60.0)
    wide = render_gaussians(_one([[0.0, 0.0, 0.0]]), _one([0.9]), _one([[1.0, 1.0, 1.0]]), cam,
                            quats=_one([[1.0, 0.0, 0.0, 0.0]]), scales=_one([[0.12, 0.01, 0.03]]))[1][..., 0]
    # World x is image right and world z image up: the footprint is wide, not tall.
    cols = (wide > 0.1).any(dim=0).sum().item()
    rows = (wide > 0.1).any(dim=1).sum().item()
    assert cols > 2.5 * rows
    # A quarter turn about the viewing axis (world y) makes it tall.
    q = [np.cos(np.pi / 4), 0.0, np.sin(np.pi / 4), 0.0]
    tall = render_gaussians(_one([[0.0, 0.0, 0.0]]), _one([0.9]), _one([[1.0, 1.0, 1.0]]), cam,
                            quats=_one([q]), scales=_one([[0.12, 0.01, 0.03]]))[1][..., 0]
    np.testing.assert_allclose(tall.numpy(), wide.numpy().T, atol=1e-9)


def test_front_gaussian_hides_the_back_one_and_background_fills_the_rest():
    cam = _camera()
    means = _one([[0.0, -0.5, 0.0], [0.0, 0.5, 0.0]])  # the first is nearer the camera (on -Y)
    colors = _one([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    kw = dict(quats=_one([[1.0, 0, 0, 0]] * 2), scales=_one([[0.1, 0.1, 0.1]] * 2))
    bg = _one([0.0, 1.0, 0.0])
    rgb, alpha = render_gaussians(means, _one([0.99, 0.99]), colors, cam, background=bg, **kw)
    centre = rgb[16, 16].numpy()
    assert centre[0] > 0.95 and centre[2] < 0.05
    rgb2, _ = render_gaussians(means.flip(0), _one([0.99, 0.99]), colors, cam, background=bg, **kw)
    assert rgb2[16, 16, 2] > 0.95 and rgb2[16, 16, 0] < 0.05
    # Far from both: background only; composited colour = premultiplied colour + (1 - alpha) background.
    assert alpha[0, 0, 0] == 0 and torch.allclose(rgb[0, 0], bg)


def test_gradients_reach_means_and_match_finite_differences():
    cam = _camera(size=17, focal=20.0)
    torch.manual_seed(0)
    means = (torch.rand(3, 3, dtype=F64) - 0.5) * 0.3
    means.requires_grad_(True)
    quats = torch.randn(3, 4, dtype=F64)
    scales = torch.full((3, 3), 0.08, dtype=F64)
    colors = torch.rand(3, 3, dtype=F64)
    weight = torch.rand(17, 17, 3, dtype=F64)

    def loss(m):
        rgb, alpha = render_gaussians(m, _one([0.7, 0.6, 0.8]), colors, cam, quats=quats, scales=scales)
        return (rgb * weight).sum() + alpha.sum()

    loss(means).backward()
    assert means.grad is not None and means.grad.abs().max() > 1e-3
    assert torch.autograd.gradcheck(loss, (means.detach().clone().requires_grad_(True),), eps=1e-6, atol=1e-5)


def test_opencv_viewmat_and_intrinsics_reproduce_camera_project():
    rng = np.random.default_rng(1)
    m = np.eye(4)
    angle = 0.3
    rz = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    m[:3, :3] = rz @ LOOK_ALONG_PLUS_Y
    m[:3, 3] = (0.4, -3.0, 0.2)
    cam = Camera(64, 48, 70.0, 72.0, 30.0, 25.0, m)
    pts = rng.normal(size=(20, 3)) * 0.5
    uv, depth = cam.project(pts)
    view, k = opencv_viewmat(cam), intrinsics_matrix(cam)
    pc = pts @ view[:3, :3].T + view[:3, 3]
    np.testing.assert_allclose(pc[:, 2], depth, atol=1e-12)  # OpenCV z forward = Blender depth
    np.testing.assert_allclose(pc @ k.T / pc[:, 2:3], np.c_[uv, np.ones(20)], atol=1e-9)


def test_projection_matches_gsplats_reference_implementation():
    ref = pytest.importorskip("gsplat.cuda._torch_impl", reason="gsplat's pure-torch reference is not installed")
    cam = _camera(size=40, focal=50.0)
    torch.manual_seed(2)
    means = (torch.rand(50, 3, dtype=F64) - 0.5) * torch.tensor([1.5, 0.5, 1.5], dtype=F64)
    covars = covariances(torch.randn(50, 4, dtype=F64), torch.rand(50, 3, dtype=F64) * 0.1)
    view = torch.as_tensor(opencv_viewmat(cam))
    k = torch.as_tensor(intrinsics_matrix(cam))
    radii, means2d, depths, conics, _ = ref._fully_fused_projection(means, covars, view[None], k[None], 40, 40)
    ours = project_gaussians(means, covars, view, k, 40, 40)
    torch.testing.assert_close(ours.means2d, means2d[0])
    torch.testing.assert_close(ours.conics, conics[0])
    torch.testing.assert_close(ours.depths, depths[0])
    assert torch.equal(ours.radii, radii[0].long())


def test_shapes_are_checked():
    with pytest.raises(ValueError):
        rasterize_gaussians(torch.zeros(2, 3), None, None, torch.ones(2), torch.ones(2, 3), torch.eye(4),
                            torch.eye(3), 8, 8)
    with pytest.raises(ValueError):
        rasterize_gaussians(torch.zeros(2, 3), None, None, torch.ones(3), torch.ones(2, 3), torch.eye(4),
                            torch.eye(3), 8, 8, covars=torch.eye(3).expand(2, 3, 3))
    assert renderer_for("cpu") == "torch"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="gsplat rasterizes on CUDA only; this machine has no GPU")
def test_gsplat_and_torch_splat_render_the_same_image():
    pytest.importorskip("gsplat")
    cam = _camera(size=64, focal=80.0, centre=32.0)
    torch.manual_seed(3)
    n = 400
    means = (torch.rand(n, 3) - 0.5) * torch.tensor([1.2, 0.6, 1.2])
    quats, scales = torch.randn(n, 4), torch.rand(n, 3) * 0.05 + 0.01
    opacities, colors = torch.rand(n) * 0.9 + 0.05, torch.rand(n, 3)
    bg = torch.tensor([0.1, 0.2, 0.3])
    ref_rgb, ref_alpha = render_gaussians(means, opacities, colors, cam, quats=quats, scales=scales,
                                          background=bg, renderer="torch")
    cuda = lambda x: x.cuda()  # noqa: E731
    rgb, alpha = render_gaussians(cuda(means), cuda(opacities), cuda(colors), cam, quats=cuda(quats),
                                  scales=cuda(scales), background=cuda(bg), renderer="gsplat")
    assert (rgb.cpu() - ref_rgb).abs().mean() < 1e-3 and (rgb.cpu() - ref_rgb).abs().max() < 2e-2
    assert (alpha.cpu() - ref_alpha).abs().max() < 2e-2
    # Gradients flow through gsplat too.
    m = cuda(means).requires_grad_(True)
    out, _ = render_gaussians(m, cuda(opacities), cuda(colors), cam, quats=cuda(quats), scales=cuda(scales))
    out.sum().backward()
    assert m.grad.abs().max() > 0


def test_cuda_without_buildable_gsplat_falls_back_to_torch_with_one_log_line(monkeypatch, caplog):
    from backend.render import gsplat_backend, splatting

    monkeypatch.setattr(splatting, "gsplat_cuda_status", lambda: (False, "no nvcc here (test)"))
    monkeypatch.setattr(gsplat_backend, "_fallback_logged", set())
    with caplog.at_level("WARNING", logger="backend.render.gsplat_backend"):
        assert splatting.renderer_for("cuda") == "torch"
        assert splatting.renderer_for("cuda:0") == "torch"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "torch renderer" in lines[0] and "no nvcc here" in lines[0]
    monkeypatch.setattr(splatting, "gsplat_cuda_status", lambda: (True, "prebuilt"))
    assert splatting.renderer_for("cuda") == "gsplat" and splatting.renderer_for("cpu") == "torch"


def test_gsplat_status_needs_a_cuda_toolkit_to_build(monkeypatch, tmp_path):
    from backend.render import gsplat_backend

    if gsplat_backend.importlib.util.find_spec("gsplat") is None:
        pytest.skip("gsplat is not installed")
    if gsplat_backend.importlib.util.find_spec("gsplat.csrc") is not None:
        pytest.skip("this gsplat has a prebuilt extension")
    monkeypatch.setattr(gsplat_backend.Path, "is_file", lambda self: str(self).startswith(str(tmp_path / "bin")))
    monkeypatch.setattr(gsplat_backend.shutil, "which", lambda name: None)
    monkeypatch.delenv("CUDA_PATH", raising=False)
    monkeypatch.delenv("CUDA_HOME", raising=False)
    gsplat_backend.gsplat_cuda_status.cache_clear()
    try:
        assert gsplat_backend.gsplat_cuda_status()[0] is False
        monkeypatch.setenv("CUDA_HOME", str(tmp_path))
        gsplat_backend.gsplat_cuda_status.cache_clear()
        usable, reason = gsplat_backend.gsplat_cuda_status()
        assert usable and str(tmp_path / "bin" / "nvcc") in reason
    finally:
        gsplat_backend.gsplat_cuda_status.cache_clear()
