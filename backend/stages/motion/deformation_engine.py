"""The model motion engine: deformation fields per keyframe segment, fitted through Gaussian-splatting renders.

After In-2-4D (Cai et al., 2025, Sec. 3.3-3.4, "motion" and "merging"): the
in-between video is split at keyframes into segments; each segment's motion is
a deformation field -- an MLP of (positionally encoded) rest position and time
giving a displacement -- optimised so that the splatted object matches the
in-between frames, with a rigidity (ARAP) regulariser; the fields of
neighbouring segments are blended around each keyframe so the motion is
continuous there. Our form:

* **Residual fields.** The field moves the ``Shape3D`` vertices on top of an
  initial motion (the weight-free lift, ``lift_motion``; without one, the 2D
  trajectories lifted at each vertex's rest depth):
  ``P(t) = B(t) + F(t) - (1 - tau) F(0) - tau F(T-1)`` with
  ``F(t) = sum_s w_s(t) f_s(x, t)`` and ``tau = t / (T-1)``. The last layer
  starts at zero, so the fit starts at the initial motion; the subtracted
  ramp keeps frame 0 at the rest shape and the last frame at the initial
  motion's last frame exactly: the end image is a constraint the lift
  already meets (it reprojects onto the registered end), so the fit can
  never make the last frame worse.
* **Blending.** ``w_s(t)`` (``segment_weights``) is a partition of unity that
  is 1 inside segment s and cross-fades to the next segment with a smoothstep
  over ``2 * blend_frames`` frames centred on the keyframe, so P(t) is
  continuous across keyframes whatever the fields learn.
* **Rendering.** Gaussians sit on the surface triangles at fixed barycentric
  coordinates (they follow the vertices) as flat discs in their triangle's
  plane, scaled with its area, coloured from the start image (the shape's
  texture); they are rendered from the input view with gsplat on CUDA and
  the pure-torch splatter on the CPU (``backend.render.splatting``).
* **Batches.** Each Adam step takes one segment and a batch of frames: a
  few sampled from the segment's support plus its keyframes (anchors: their
  silhouette and tracking terms hold the fit to the 2D keyframe shapes), all
  rendered in one batched call (gsplat's leading batch dimension on CUDA; the
  torch splatter loops).
* **Losses** on each frame t of the batch: photometric L1 between the
  render composited over the in-between frame t and that frame; silhouette
  L1 between the rendered alpha and the 2D mesh at frame t rasterised;
  a tracking term keeping each vertex's projection near its 2D trajectory
  (the video engine's tracked points); ARAP rigidity of the surface edges
  against the rest shape (Sorkine & Alexa, SGP 2007: best-fit rotation per
  vertex from the edge covariance, then the edge residual); temporal
  smoothness (second differences over t-1, t, t+1); a weak prior on the
  field's depth component (along the viewing axis), which a single view
  hardly constrains -- without it the fit trades depth for the splats'
  footprint. Adam (Kingma & Ba 2015).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import cv2
import numpy as np

from ...geometry3d.mesh_ops import unique_edges
from ...progress import Progress, null_progress
from ...render.rasterize import rasterize
from ...types import InputView, Motion2D, Motion3D, Shape3D, SilhouetteMesh


@dataclass
class DeformationConfig:
    """Settings of the deformation-field fit (loss weights are relative to the photometric term).

    Attributes:
        learning_rate: Adam step size.
        hidden, layers: MLP width and hidden layer count per segment field.
        position_frequencies, time_frequencies: octaves of the sin/cos positional encoding
            (NeRF, Mildenhall et al. 2020, Sec. 5.1) of rest position and time.
        max_displacement: output scale of the fields, as a fraction of the shape's largest extent.
        blend_frames: half-width (frames) of the cross-fade between segments at each keyframe.
        gaussians_per_pixel: Gaussians per rendered object pixel (front and back sheets together).
        max_gaussians: cap on the Gaussian count.
        opacity: opacity of every Gaussian.
        normal_ratio: thickness of the disc Gaussians relative to their radius.
        w_photometric, w_silhouette, w_track, w_arap, w_temporal, w_depth: loss weights.
        eval_frames: frames used to measure the loss before and after the fit.
        frames_per_step: frames sampled from the segment per Adam step (its keyframes are added);
            None: 4 on CUDA (one batched gsplat call), 1 on the CPU (the torch splatter renders
            frame by frame, so a bigger batch only costs time there).
    """

    learning_rate: float = 3e-3
    hidden: int = 64
    layers: int = 2
    position_frequencies: int = 4
    time_frequencies: int = 3
    max_displacement: float = 0.1
    blend_frames: float = 2.0
    gaussians_per_pixel: float = 1.5
    max_gaussians: int = 30_000
    opacity: float = 0.95
    normal_ratio: float = 0.15
    w_photometric: float = 1.0
    w_silhouette: float = 1.0
    w_track: float = 0.01
    w_arap: float = 10.0
    w_temporal: float = 1.0
    w_depth: float = 10.0
    eval_frames: int = 8
    frames_per_step: int | None = None


def segment_weights(frame_count: int, keyframes, blend_frames: float) -> np.ndarray:
    """Cross-fade weights of the segment fields at every frame.

    Segments run between consecutive keyframes (0 and T-1 always included).
    With rho_j(t) = smoothstep((t - k_j + b) / 2b) the ramp of interior
    keyframe k_j (b = ``blend_frames``; a hard switch at k_j for b = 0),
    segment s has weight w_s = rho_s - rho_{s+1} (rho_0 = 1, rho_S = 0): the
    weights are >= 0, sum to 1, equal 1 inside a segment away from its ends and
    0.5 / 0.5 on an interior keyframe.

    Args:
        frame_count: T >= 2.
        keyframes: frame indices (others out of range are ignored).
        blend_frames: b >= 0.

    Returns:
        float64 [T, S] with S = number of segments.
    """
    keys = sorted({int(k) for k in keyframes if 0 <= int(k) < frame_count} | {0, frame_count - 1})
    t = np.arange(frame_count, dtype=np.float64)
    segments = len(keys) - 1
    rho = [np.ones(frame_count)]
    for k in keys[1:-1]:
        if blend_frames > 0:
            x = np.clip((t - k + blend_frames) / (2.0 * blend_frames), 0.0, 1.0)
            rho.append(x * x * (3.0 - 2.0 * x))
        else:
            rho.append((t >= k).astype(np.float64))
    rho.append(np.zeros(frame_count))
    return np.stack([rho[s] - rho[s + 1] for s in range(segments)], axis=1)


def _keyframe_list(keyframes, frame_count: int) -> list[int]:
    return sorted({int(k) for k in keyframes if 0 <= int(k) < frame_count} | {0, frame_count - 1})


def constant_depth_motion(shape: Shape3D, mesh: SilhouetteMesh, motion2d: Motion2D, view: InputView) -> np.ndarray:
    """The 2D trajectories lifted at each vertex's rest depth: float64 [T, V3, 3] (frame 0 = rest).

    Each 3D vertex stays on the camera ray through its pixel (``Shape3D.pixel_weights``
    of the 2D trajectories) at the depth it has at rest.
    """
    weights = shape.pixel_weights_for(mesh)
    rest = np.asarray(shape.vertices, dtype=np.float64)
    cam = view.camera_work
    _, depth = cam.project(rest)
    traj = np.asarray(motion2d.trajectories, dtype=np.float64)
    out = np.stack([cam.unproject(weights @ traj[t], depth) for t in range(len(traj))])
    out[0] = rest
    return out


def _sample_surface(shape: Shape3D, count: int, rng: np.random.Generator):
    """Area-weighted random points on the surface: (face index [N], barycentrics [N, 3])."""
    v = np.asarray(shape.vertices, dtype=np.float64)
    f = np.asarray(shape.faces, dtype=np.int64)
    area = 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)
    face = rng.choice(len(f), count, p=area / area.sum())
    r = rng.random((count, 2))
    flip = r.sum(1) > 1
    r[flip] = 1.0 - r[flip]
    bary = np.stack([1.0 - r[:, 0] - r[:, 1], r[:, 0], r[:, 1]], axis=1)
    return face, bary, float(area.sum())


def _texture_colors(shape: Shape3D, face: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """Bilinear texture lookup at the samples' UVs -> float32 [N, 3] sRGB 0..1."""
    tex = np.asarray(shape.texture)
    h, w = tex.shape[:2]
    uv = (np.asarray(shape.uv, dtype=np.float64)[np.asarray(shape.faces)[face]] * bary[:, :, None]).sum(1)
    mx = (uv[:, 0] * w - 0.5).astype(np.float32).reshape(1, -1)
    my = ((1.0 - uv[:, 1]) * h - 0.5).astype(np.float32).reshape(1, -1)
    out = cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(-1, tex.shape[2])[:, :3].astype(np.float32) / 255.0


def _torch_modules():
    """The torch module classes, built on first use so that importing this file does not import torch."""
    import torch
    from torch import nn

    class PositionalEncoding(nn.Module):
        """x -> [x, sin(2^k pi x), cos(2^k pi x)] for k < frequencies (per input dimension)."""

        def __init__(self, frequencies: int):
            super().__init__()
            self.register_buffer("scales", (2.0 ** torch.arange(frequencies)) * math.pi, persistent=False)

        def forward(self, x):
            z = x[..., None] * self.scales
            return torch.cat([x, torch.sin(z).flatten(-2), torch.cos(z).flatten(-2)], dim=-1)

    class SegmentField(nn.Module):
        """One segment's deformation field: MLP(PE(rest position), PE(time)) -> displacement [V, 3]."""

        def __init__(self, in_features: int, hidden: int, layers: int):
            super().__init__()
            dims = [in_features] + [hidden] * layers
            blocks = []
            for a, b in zip(dims[:-1], dims[1:]):
                blocks += [nn.Linear(a, b), nn.SiLU()]
            self.body = nn.Sequential(*blocks)
            self.head = nn.Linear(dims[-1], 3)
            nn.init.zeros_(self.head.weight)  # start exactly at the initial motion
            nn.init.zeros_(self.head.bias)

        def forward(self, features):
            return self.head(self.body(features))

    class DeformationFields(nn.Module):
        """All segment fields and the cross-fade F(t) = sum_s w_s(t) f_s(x, t).

        Built inside ``torch.device(dev)`` (``_build_on_device``): the buffers computed here
        (the encoded rest positions) are born on the device of ``rest_normalised``.
        """

        def __init__(self, rest_normalised, segment_count: int, cfg: DeformationConfig, displacement_scale: float):
            super().__init__()
            self.encode_x = PositionalEncoding(cfg.position_frequencies)
            self.encode_t = PositionalEncoding(cfg.time_frequencies)
            self.register_buffer("x_features", self.encode_x(rest_normalised), persistent=False)
            width = self.x_features.shape[1] + 1 + 2 * cfg.time_frequencies
            self.fields = nn.ModuleList(SegmentField(width, cfg.hidden, cfg.layers) for _ in range(segment_count))
            self.scale = float(displacement_scale)

        def forward(self, tau, weights) -> "torch.Tensor":
            """Displacements [B, V, 3] at times tau [B] (0..1) with segment weights [B, S] (float64 numpy)."""
            xf = self.x_features
            tau = np.atleast_1d(np.asarray(tau, dtype=np.float64))
            weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
            tt = torch.as_tensor(tau, dtype=xf.dtype, device=xf.device)
            tf = self.encode_t(tt[:, None])  # [B, Ft]
            b, v = len(tau), len(xf)
            features = torch.cat([xf.expand(b, -1, -1), tf[:, None, :].expand(-1, v, -1)], dim=2)
            out = torch.zeros(b, v, 3, dtype=xf.dtype, device=xf.device)
            wt = torch.as_tensor(weights, dtype=xf.dtype, device=xf.device)
            for s in range(weights.shape[1]):
                if (weights[:, s] > 0.0).any():
                    out = out + wt[:, s, None, None] * self.fields[s](features)
            return self.scale * out

    return torch, DeformationFields


def _build_on_device(module_class, dev, *args):
    """The one place the engine makes torch modules: built inside ``torch.device(dev)``.

    Every parameter and every buffer computed in a constructor is created on ``dev``
    directly (no build-on-the-CPU-then-``.to(dev)``, which is where a buffer computed
    from a device tensor with a CPU-made one mixed devices on CUDA). Tensors made
    elsewhere in the engine always name their device (``device=dev``).
    """
    import torch

    with torch.device(dev):
        module = module_class(*args)
    return module


def fit_deformation(shape: Shape3D, mesh: SilhouetteMesh, motion2d: Motion2D, view: InputView, keyframes,
                    progress: Progress | None = None, *, init: Motion3D | None = None, iterations: int | None = None,
                    device: str = "auto", image_size: tuple[int, int] | None = None,
                    config: DeformationConfig | None = None, seed: int = 0) -> Motion3D:
    """Fit per-segment deformation fields to the in-between frames through Gaussian-splatting renders.

    Args:
        shape: the rest surface (``build_shape`` of ``mesh``), world metres.
        mesh: the 2D silhouette mesh the 2D motion moves.
        motion2d: trajectories float [T, V, 2] (frame 0 = ``mesh.vertices``) and, for the
            photometric term, frames uint8 [T, H, W, 3] at the working resolution
            (without frames only the silhouette, tracking and regularisers act).
        view: the input view at the working resolution.
        keyframes: frame indices splitting the motion into segments (0 and T-1 added).
        progress: reports every iteration; ``Cancelled`` from it propagates.
        init: the motion the fields refine (``lift_motion``'s result), vertices
            [T, V3, 3] with frame 0 at rest; None: ``constant_depth_motion``.
        iterations: Adam steps, each on a batch of frames (default 60 on the CPU, 300 on CUDA).
        device: "auto" | "cpu" | "cuda" (``backend.models.pick_device``); the renderer
            is gsplat on CUDA (the torch splatter when gsplat's kernels cannot be built)
            and the pure-torch splatter elsewhere.
        image_size: (width, height) of the renders; default the working aspect with
            the longer side 96 px on the CPU, 256 px on CUDA.
        config: weights and sizes (``DeformationConfig()``).
        seed: seed of the Gaussian sampling and the frame order.

    Returns:
        ``Motion3D``: vertices float64 [T, V3, 3] (frame 0 equals ``shape.vertices`` and
        the last frame the initial motion's last frame exactly; continuous across
        keyframes), diagnostics ``deformation_loss_start`` / ``deformation_loss_end`` (the
        full objective on fixed evaluation frames, before and after), per-term
        ``*_start`` / ``*_end``, ``renderer`` (the one actually used), ``render_size``,
        ``gaussians``, ``iterations``, ``frames_per_step``, ``segments``, ``device``,
        ``deformation_seconds``.

    Raises:
        ValueError: trajectories, frames or ``init`` do not match the mesh / shape.
        ModelUnavailableError: CUDA asked for without a GPU, or torch missing.
        backend.errors.Cancelled: the job was cancelled.
    """
    from ...models import pick_device
    from ...render.splatting import effective_renderer, opencv_viewmat, render_gaussians_batch, renderer_for

    t_start = time.perf_counter()
    cfg = config or DeformationConfig()
    progress = progress or null_progress("motion")
    torch, DeformationFields = _torch_modules()

    traj = np.asarray(motion2d.trajectories, dtype=np.float64)
    rest2d = np.asarray(mesh.vertices, dtype=np.float64)
    if traj.ndim != 3 or traj.shape[1:] != rest2d.shape or len(traj) < 2:
        raise ValueError(f"trajectories must be [T >= 2, {len(rest2d)}, 2], got {traj.shape}")
    frame_count = len(traj)
    rest = np.asarray(shape.vertices, dtype=np.float64)
    if init is not None:
        base = np.asarray(init.vertices, dtype=np.float64)
        if base.shape != (frame_count,) + rest.shape:
            raise ValueError(f"init vertices must be [{frame_count}, {len(rest)}, 3], got {base.shape}")
    else:
        base = constant_depth_motion(shape, mesh, motion2d, view)
    base = base.copy()
    base[0] = rest
    frames = motion2d.frames
    if frames is not None:
        frames = np.asarray(frames)
        if frames.ndim != 4 or len(frames) != frame_count or frames.shape[3] < 3:
            raise ValueError(f"frames must be [{frame_count}, H, W, 3], got {frames.shape}")

    dev = pick_device(device)
    renderer = renderer_for(dev)
    work_w, work_h = view.size
    if image_size is None:
        side = 256 if dev.type == "cuda" else 96
        s = side / max(work_w, work_h)
        image_size = (max(8, int(round(work_w * s))), max(8, int(round(work_h * s))))
    rw, rh = int(image_size[0]), int(image_size[1])
    cam = view.camera_work.for_size(rw, rh)
    sx, sy = rw / work_w, rh / work_h
    iterations = int(iterations if iterations is not None else (300 if dev.type == "cuda" else 60))
    per_step = int(cfg.frames_per_step if cfg.frames_per_step is not None else (4 if dev.type == "cuda" else 1))
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    f32 = dict(dtype=torch.float32, device=dev)

    # --- Gaussians on the surface ------------------------------------------------------------------------
    faces = np.asarray(shape.faces, dtype=np.int64)
    rest_pix, _ = cam.project(rest)
    front_area = float(rasterize(rest_pix, faces, rw, rh).mask.sum())
    count = int(np.clip(cfg.gaussians_per_pixel * 2.0 * front_area, 200, cfg.max_gaussians))
    g_face, g_bary, surface_area = _sample_surface(shape, count, rng)
    sigma = 0.7 * math.sqrt(surface_area / count)
    colors = torch.as_tensor(_texture_colors(shape, g_face, g_bary), **f32)
    opacities = torch.full((count,), cfg.opacity, **f32)
    tri = torch.as_tensor(faces[g_face], dtype=torch.long, device=dev)
    bary = torch.as_tensor(g_bary, **f32)
    rest_t = torch.as_tensor(rest, **f32)
    e1r, e2r = rest_t[faces[:, 1]] - rest_t[faces[:, 0]], rest_t[faces[:, 2]] - rest_t[faces[:, 0]]
    rest_face_area = 0.5 * torch.linalg.norm(torch.cross(e1r, e2r, dim=1), dim=1).clamp_min(1e-12)
    g_face_t = torch.as_tensor(g_face, dtype=torch.long, device=dev)
    faces_t = torch.as_tensor(faces, dtype=torch.long, device=dev)
    eye = torch.eye(3, **f32)

    def gaussians_at(p):
        """Means [B, N, 3] and covariances [B, N, 3, 3] of the Gaussians for vertex positions p [B, V3, 3]."""
        means = (p[:, tri] * bary[None, :, :, None]).sum(2)
        e1 = p[:, faces_t[:, 1]] - p[:, faces_t[:, 0]]
        e2 = p[:, faces_t[:, 2]] - p[:, faces_t[:, 0]]
        cross = torch.cross(e1, e2, dim=2)
        area = 0.5 * torch.linalg.norm(cross, dim=2)
        normal = (cross / (2.0 * area.clamp_min(1e-12))[..., None])[:, g_face_t]
        stretch = torch.sqrt(area / rest_face_area).clamp(0.2, 5.0)[:, g_face_t]
        tangential = (sigma * stretch) ** 2
        nn_t = normal[..., :, None] * normal[..., None, :]
        covars = tangential[..., None, None] * (eye - nn_t) + (cfg.normal_ratio * sigma) ** 2 * nn_t
        return means, covars

    def render(p):
        """p [B, V3, 3] -> rgb [B, H, W, 3], alpha [B, H, W] in one batched call."""
        means, covars = gaussians_at(p)
        rgb, alpha = render_gaussians_batch(means, opacities, colors, cam, covars=covars, renderer=renderer)
        return rgb, alpha[..., 0]

    # --- targets (numpy on the host, moved once per frame with an explicit device) ----------------------
    pixel_weights = shape.pixel_weights_for(mesh)
    scale_px = np.array([sx, sy])
    target_cache: dict[int, tuple] = {}

    def targets(t: int):
        if t not in target_cache:
            pix = traj[t] * scale_px
            sil = rasterize(pix, np.asarray(mesh.faces), rw, rh).mask.astype(np.float32)
            sil = cv2.GaussianBlur(sil, (0, 0), 0.5)
            img = None
            if frames is not None:
                img = cv2.resize(frames[t][..., :3], (rw, rh), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
                img = torch.as_tensor(img, **f32)
            track = torch.as_tensor(pixel_weights @ traj[t] * scale_px, **f32)
            target_cache[t] = (img, torch.as_tensor(sil, **f32), track)
        return target_cache[t]

    view_t = torch.as_tensor(opencv_viewmat(cam), **f32)
    focal = torch.as_tensor([cam.fx, cam.fy], **f32)
    centre = torch.as_tensor([cam.cx, cam.cy], **f32)

    def project(p):
        pc = p @ view_t[:3, :3].T + view_t[:3, 3]
        return pc[..., :2] / pc[..., 2:3] * focal + centre

    # --- rigidity ----------------------------------------------------------------------------------------
    edges, _ = unique_edges(faces)
    ei = torch.as_tensor(edges[:, 0], dtype=torch.long, device=dev)
    ej = torch.as_tensor(edges[:, 1], dtype=torch.long, device=dev)
    e_rest = rest_t[ei] - rest_t[ej]
    e_norm = (e_rest ** 2).sum()
    mean_edge_sq = float((e_rest ** 2).sum(1).mean())

    def arap(p):
        """ARAP residual per frame of p [B, V3, 3] -> [B]."""
        e_cur = p[:, ei] - p[:, ej]
        outer = e_cur[..., :, None] * e_rest[None, :, None, :]
        cov = torch.zeros(p.shape[0], len(rest), 3, 3, **f32).index_add_(1, ei, outer).index_add_(1, ej, outer)
        with torch.no_grad():
            # Batched 3x3 SVD is missing on some backends (MPS): take it on the CPU there.
            u, _, vh = torch.linalg.svd(cov if dev.type in ("cpu", "cuda") else cov.cpu())
            u, vh = u.to(dev), vh.to(dev)
            d = torch.sign(torch.det(u @ vh))
            u = torch.cat([u[..., :2], u[..., 2:] * d[..., None, None]], dim=-1)
            rot = u @ vh
        fit = 0.5 * torch.einsum("neab,eb->nea", rot[:, ei] + rot[:, ej], e_rest)
        return ((e_cur - fit) ** 2).sum((1, 2)) / e_norm

    # --- fields ------------------------------------------------------------------------------------------
    keys = _keyframe_list(keyframes, frame_count)
    weights = segment_weights(frame_count, keys, cfg.blend_frames)
    segments = weights.shape[1]
    lo, hi = rest.min(axis=0), rest.max(axis=0)
    extent = float(max(hi - lo))
    rest_norm = torch.as_tensor((rest - 0.5 * (lo + hi)) / (0.5 * extent), **f32)
    model = _build_on_device(DeformationFields, dev, rest_norm, segments, cfg, cfg.max_displacement * extent)
    base_t = torch.as_tensor(base, **f32)
    # The viewing axis (world): one view says little about depth, so depth changes away from the
    # initial motion (whose depth comes from rigidity) are penalised.
    axis_t = torch.as_tensor(-np.asarray(cam.matrix_world, dtype=np.float64)[:3, 2], **f32)
    tau = np.arange(frame_count) / max(frame_count - 1, 1)
    last = frame_count - 1

    def ends():
        """F(0) and F(T-1) [2, V3, 3]: the residual ramp that pins frame 0 and the last frame."""
        return model(tau[[0, last]], weights[[0, last]])

    def positions(ts, f_ends):
        """Vertices [B, V3, 3] at frames ts: B(t) + F(t) - (1 - tau) F(0) - tau F(T-1)."""
        ts = np.asarray(ts, dtype=np.int64)
        ramp = torch.as_tensor(tau[ts], **f32)[:, None, None]
        return base_t[ts] + model(tau[ts], weights[ts]) - (1.0 - ramp) * f_ends[0] - ramp * f_ends[1]

    def losses(ts, f_ends) -> dict:
        """Each term averaged over the frames ts (one batched render)."""
        ts = np.asarray(ts, dtype=np.int64)
        p = positions(ts, f_ends)
        rgb, alpha = render(p)
        tg = [targets(int(t)) for t in ts]
        sil = torch.stack([g[1] for g in tg])
        track = torch.stack([g[2] for g in tg])
        out = {"silhouette": (alpha - sil).abs().mean(),
               "track": ((project(p) - track) ** 2).sum(-1).mean(),
               "arap": arap(p).mean(),
               "depth": ((((p - base_t[ts]) @ axis_t) / extent) ** 2).mean()}
        if frames is not None:
            img = torch.stack([g[0] for g in tg])
            composite = rgb + (1.0 - alpha)[..., None] * img
            out["photometric"] = (composite - img).abs().mean()
        inner = ts[(ts >= 1) & (ts <= frame_count - 2)]
        if len(inner):
            p_in = positions(inner, f_ends)
            acc = positions(inner + 1, f_ends) - 2.0 * p_in + positions(inner - 1, f_ends)
            out["temporal"] = (acc ** 2).sum(-1).mean() / mean_edge_sq
        return out

    w_terms = {"photometric": cfg.w_photometric, "silhouette": cfg.w_silhouette, "track": cfg.w_track,
               "arap": cfg.w_arap, "temporal": cfg.w_temporal, "depth": cfg.w_depth}

    def total(terms: dict):
        return sum(w_terms[k] * v for k, v in terms.items())

    eval_set = sorted({int(round(x)) for x in np.linspace(1, frame_count - 1, min(cfg.eval_frames, frame_count - 1))})

    def evaluate() -> dict:
        with torch.no_grad():
            terms = losses(eval_set, ends())
        sums = {k: float(v) for k, v in terms.items()}
        sums["total"] = sum(w_terms[k] * v for k, v in sums.items())
        return sums

    # Frames each segment trains on: where its weight is positive (frame 0 and the last are pinned),
    # and its keyframes (anchors; the last frame included, as its silhouette and tracks stay in the loss).
    support = [np.nonzero(weights[1:last, s] > 0)[0] + 1 for s in range(segments)]
    anchors = [[k for k in keys[s:s + 2] if k > 0] for s in range(segments)]
    before = evaluate()
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    progress.update(0.0, "fitting deformation fields", force=True)
    for it in range(iterations):
        s = it % segments
        pool = support[s]
        sampled = rng.choice(pool, min(len(pool), per_step), replace=False) if len(pool) else []
        batch = sorted({int(t) for t in sampled} | set(anchors[s]))
        optimiser.zero_grad(set_to_none=True)
        loss = total(losses(batch, ends()))
        loss.backward()
        optimiser.step()
        progress.update((it + 1) / iterations, f"fitting deformation fields ({it + 1}/{iterations})")
    after = evaluate()

    with torch.no_grad():
        out = positions(np.arange(frame_count), ends()).double().cpu().numpy()
    out[0] = rest
    out[last] = base[last]
    diagnostics = {
        "deformation_loss_start": before["total"],
        "deformation_loss_end": after["total"],
        "renderer": effective_renderer(renderer),
        "render_size": [rw, rh],
        "gaussians": count,
        "iterations": iterations,
        "frames_per_step": per_step,
        "segments": segments,
        "device": str(dev),
        "deformation_seconds": round(time.perf_counter() - t_start, 3),
    }
    for k in w_terms:
        if k in before:
            diagnostics[f"{k}_start"] = before[k]
            diagnostics[f"{k}_end"] = after[k]
    return Motion3D(vertices=out, diagnostics=diagnostics)
