"""Track a 2D silhouette mesh through a frame sequence (optical flow + ARAP + silhouettes).

Frame 0 holds the mesh at rest. Each next frame k is solved in two steps,
both minimising

    E(X) = stiffness * sum_t area_t ||J_t(X) - R_t||^2                  ARAP (Liu et al. 2008 / Sorkine & Alexa 2007)
         + sum_m w_m ||b_m . X - q_m||^2                                flow targets q_m of material points b_m
         + silhouette terms (when frame k has a mask)
         + prior ||X - X_pred||^2                                        weak pull to the flow-carried vertices

by local/global sweeps (the scheme of ``arap_registration``:
``TriangleGradient``, ``closest_rotations``, one sparse LU per sweep), with
ARAP measured against the rest mesh so shape errors do not build up:

1. consecutive: DIS optical flow (Kroeger et al., ECCV 2016;
   ``correspondence.dense_flow`` with its forward-backward check) from frame
   k-1 to frame k carries the material points' frame k-1 positions y_m
   forward, q_m = y_m + f(y_m);
2. anchored (``anchor_rounds`` times): the start image is warped by the
   current estimate and pasted over frame k, and the flow from that composite
   to frame k measures what is still off against the start texture itself,
   so the small bias of frame-to-frame flow does not accumulate into drift
   (on a synthetic turn-and-slide the error stays at about 0.2 px instead of
   growing by about 0.25 px per frame).

Material points are a grid fixed on the rest mesh; a point counts only where
the warp at its current position really shows it (no part folded over it)
and its flow passed the forward-backward check; Cauchy IRLS weights drop
outliers. Silhouette terms: vertices clearly outside frame k's object are
pulled back onto it, outline vertices near its outline move onto it along
the outline normal (``SilhouetteField``).

``distribute_end_correction`` then moves a tracked sequence onto known end
positions (e.g. the weight-free registration onto the end image), spreading
the difference linearly over the frames so that no frame jumps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import cv2
import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from ..render.rasterize import rasterize
from ..types import SilhouetteMesh
from .arap_operator import TriangleGradient, closest_rotations
from .correspondence import dense_flow, to_gray_u8
from .mesh_ops import locate_points, signed_areas
from .silhouette_field import SilhouetteField
from .warp import sample, warp_maps


@dataclass
class TrackingConfig:
    """Weights of the per-frame tracking solve (ARAP is area weighted, data terms per constraint).

    Attributes:
        stiffness: ARAP weight.
        flow_weight: weight of one flow sample per square pixel it stands for.
        outside_weight: weight pulling a vertex that left the frame's object back inside.
        outline_weight: weight snapping an outline vertex onto the frame's outline.
        outline_gate_px: outline vertices farther than this from the outline are not snapped.
        prior_weight: weak pull of every vertex to its flow-carried position (keeps parts
            without reliable flow in place).
        robust_px: Cauchy scale of the flow residuals (pixels).
        flow_stride_px: spacing of the flow samples on the rest mesh (pixels).
        sweeps: local/global sweeps per solve (flow weights re-estimated each sweep).
        anchor_rounds: solves against flow from the warped start image (0: consecutive flow only).
        analysis_side: flow is computed with the longer image side at most this many pixels.
        preset: DIS preset ("ultrafast" | "fast" | "medium").
    """

    stiffness: float = 1.0
    flow_weight: float = 0.15
    outside_weight: float = 1.0
    outline_weight: float = 0.5
    outline_gate_px: float = 3.0
    prior_weight: float = 1e-3
    robust_px: float = 2.0
    flow_stride_px: float = 3.0
    sweeps: int = 2
    anchor_rounds: int = 2
    analysis_side: int = 384
    preset: str = "medium"


@dataclass
class Tracking:
    """Result of ``track_mesh``.

    Attributes:
        trajectories: float64 [T, V, 2] vertex positions (u, v) per frame; frame 0 is the rest mesh.
        diagnostics: ``flow_samples_mean`` (reliable flow samples per frame), ``flipped_triangles_max``,
            ``silhouette_frames`` (frames that had a mask), ``tracking_s``.
    """

    trajectories: np.ndarray
    diagnostics: dict = field(default_factory=dict)


def _cauchy(residual: np.ndarray, sigma: float) -> np.ndarray:
    return 1.0 / (1.0 + (residual / max(sigma, 1e-9)) ** 2)


def _vertex_rows(index: np.ndarray, n: int) -> sp.csr_matrix:
    index = np.asarray(index, dtype=np.int64)
    return sp.csr_matrix((np.ones(len(index)), (np.arange(len(index)), index)), shape=(len(index), n))


def _as_float_rgb(frame: np.ndarray) -> np.ndarray:
    f = np.asarray(frame)
    if f.dtype == np.uint8:
        return f.astype(np.float32) / 255.0
    return f.astype(np.float32)


def track_mesh(mesh: SilhouetteMesh, frames: Sequence[np.ndarray],
               masks: Optional[Sequence[Optional[np.ndarray]]] = None, config: TrackingConfig | None = None,
               on_frame: Optional[Callable[[int], None]] = None) -> Tracking:
    """Track the start mesh through a frame sequence.

    Args:
        mesh: the silhouette mesh of frame 0 (pixels of the frames).
        frames: T images [H, W, 3], uint8 or float sRGB 0..1, all of one size; frame 0
            shows the object where ``mesh`` lies.
        masks: optional T bool [H, W] object masks (None entries: no silhouette term that frame).
        config: weights; defaults to ``TrackingConfig()``.
        on_frame: called with k after frame k is solved; may raise (e.g. ``Cancelled``),
            which propagates.

    Returns:
        ``Tracking`` with trajectories float64 [T, V, 2]; frame 0 equals ``mesh.vertices``.

    Raises:
        ValueError: fewer than 1 frame, frames of different sizes, or masks of the wrong count.

    Method: see the module docstring.
    """
    cfg = config or TrackingConfig()
    t_start = time.perf_counter()
    count = len(frames)
    if count < 1:
        raise ValueError("track_mesh needs at least one frame")
    h, w = np.asarray(frames[0]).shape[:2]
    if any(np.asarray(f).shape[:2] != (h, w) for f in frames):
        raise ValueError("all frames must have the same size")
    if masks is not None and len(masks) != count:
        raise ValueError(f"got {len(masks)} masks for {count} frames")
    masks = list(masks) if masks is not None else [None] * count

    rest = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    boundary = np.asarray(mesh.boundary, dtype=np.int64)
    n = len(rest)
    traj = np.empty((count, n, 2))
    traj[0] = rest
    grad = TriangleGradient(rest, faces)
    lap = grad.laplacian()

    # Flow samples: material points on a grid over the rest mesh.
    stride = cfg.flow_stride_px
    gy, gx = np.mgrid[stride / 2:h:stride, stride / 2:w:stride]
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    s_face, s_bary = locate_points(grid, rest, faces, rasterize(rest, faces, w, h).face_id, search_px=0)
    on = s_face >= 0
    sample_rest = grid[on]
    m = int(on.sum())
    rows = sp.csr_matrix((s_bary[on].ravel(), (np.repeat(np.arange(m), 3), faces[s_face[on]].ravel())), shape=(m, n))
    rest_attr = np.concatenate([rest, np.ones((n, 1))], axis=1)

    scale = min(1.0, cfg.analysis_side / max(h, w))
    raster_scale = min(1.0, 320 / max(h, w))
    first = _as_float_rgb(frames[0])
    m0 = masks[0] if masks[0] is not None else rasterize(rest, faces, w, h).mask
    alpha0 = m0.astype(np.float32)

    def small(img: np.ndarray) -> np.ndarray:
        return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1.0 else img

    def visible(x: np.ndarray, y: np.ndarray):
        """bool [M]: the warp of the mesh at ``x`` shows each flow sample at its position ``y``; and the warp maps."""
        maps = warp_maps(x, faces, rest_attr, w, h, scale=raster_scale)
        seen = sample(maps.attributes[..., :2], y)
        inside = (y[:, 0] >= 0) & (y[:, 0] < w) & (y[:, 1] >= 0) & (y[:, 1] < h)
        return inside & (np.linalg.norm(seen - sample_rest, axis=1) < 1.5), maps

    def flow_targets(source_gray: np.ndarray, target_gray: np.ndarray, y: np.ndarray, ok: np.ndarray):
        flow, reliable = dense_flow(source_gray, target_gray, preset=cfg.preset)
        ok = ok & (sample(reliable.astype(np.float32), y * scale) > 0.99)
        return y + sample(flow, y * scale) / scale, ok, flow

    def solve(x: np.ndarray, x_prior: np.ndarray, targets: np.ndarray, ok: np.ndarray,
              field_k: Optional[SilhouetteField]) -> np.ndarray:
        for _ in range(max(1, cfg.sweeps)):
            r = np.linalg.norm(rows @ x - targets, axis=1)
            data_rows = [rows]
            data_w = [np.where(ok, cfg.flow_weight * stride * stride * _cauchy(r, cfg.robust_px), 0.0)]
            data_t = [targets]
            if field_k is not None:
                target_in, dist_out = field_k.nearest_inside(x)
                # Masks are pixel-exact at best: only clear exits count.
                out = np.nonzero(dist_out > 0.5)[0]
                data_rows.append(_vertex_rows(out, n))
                data_t.append(target_in[out])
                data_w.append(np.full(len(out), cfg.outside_weight))
                xb = x[boundary]
                target_b, dist_b, normal_b = field_k.nearest_outline(xb)
                # Point-to-line: move along the outline normal only (outline samples are a pixel apart).
                along = ((target_b - xb) * normal_b).sum(axis=1)
                target_b = xb + along[:, None] * normal_b
                dist_b = np.abs(along)
                near = dist_b < cfg.outline_gate_px
                data_rows.append(_vertex_rows(boundary[near], n))
                data_t.append(target_b[near])
                data_w.append(cfg.outline_weight * _cauchy(dist_b[near], cfg.outline_gate_px))
            c = sp.vstack(data_rows).tocsr()
            cw = c.T @ sp.diags(np.concatenate(data_w))
            a = (cfg.stiffness * lap + cw @ c + sp.diags(np.full(n, cfg.prior_weight))).tocsc()
            rot, _ = closest_rotations(grad.jacobians(x))
            b = cfg.stiffness * grad.rhs(rot) + cw @ np.concatenate(data_t) + cfg.prior_weight * x_prior
            x = splu(a).solve(b)
        return x

    used_samples: list[int] = []
    flips_max = 0
    with_silhouette = 0
    for k in range(1, count):
        mask_k = masks[k] if masks[k] is not None and masks[k].any() else None
        field_k = SilhouetteField(mask_k) if mask_k is not None else None
        with_silhouette += field_k is not None
        prev_gray = small(to_gray_u8(_as_float_rgb(frames[k - 1])))
        gray_k = small(to_gray_u8(_as_float_rgb(frames[k])))

        # 1. Consecutive frames: flow from k-1 to k carries the previous positions forward.
        x_prev = traj[k - 1]
        y = rows @ x_prev
        ok, _ = visible(x_prev, y)
        targets, ok, flow = flow_targets(prev_gray, gray_k, y, ok)
        x_pred = x_prev + sample(flow, x_prev * scale) / scale  # the weak prior
        x = solve(x_pred, x_pred, targets, ok, field_k)

        # 2. Anchored: flow from the start image warped by the estimate to frame k measures the
        #    remaining error against the start texture itself, so errors do not accumulate.
        base = _as_float_rgb(frames[k])
        for _ in range(cfg.anchor_rounds):
            y = rows @ x
            ok, maps = visible(x, y)
            src = maps.attributes[..., :2]
            warped = cv2.remap(first, src[..., 0] - 0.5, src[..., 1] - 0.5, cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
            cover = (cv2.remap(alpha0, src[..., 0] - 0.5, src[..., 1] - 0.5, cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT) * maps.coverage)[..., None]
            composite = warped * cover + base * (1.0 - cover)
            targets, ok, _ = flow_targets(small(to_gray_u8(composite)), small(to_gray_u8(base)), y, ok)
            x = solve(x, x_pred, targets, ok, field_k)
        used_samples.append(int(ok.sum()))
        traj[k] = x
        flips_max = max(flips_max, int((signed_areas(x, faces) <= 0).sum()))
        if on_frame is not None:
            on_frame(k)

    diagnostics = {
        "flow_samples_mean": float(np.mean(used_samples)) if used_samples else 0.0,
        "flow_samples_total": int(m),
        "flipped_triangles_max": flips_max,
        "silhouette_frames": with_silhouette,
        "tracking_s": round(time.perf_counter() - t_start, 4),
    }
    return Tracking(trajectories=traj, diagnostics=diagnostics)


def distribute_end_correction(trajectories: np.ndarray, end_positions: np.ndarray) -> np.ndarray:
    """Move a tracked sequence so that its last frame lands on given end positions.

    The difference d = end - trajectories[T-1] is added with a linear ramp,
    frame k gets k / (T-1) of it: frame 0 is unchanged, frame T-1 equals
    ``end_positions`` exactly, and every frame-to-frame step changes by d / (T-1).

    Args:
        trajectories: float [T, V, 2] (T >= 2).
        end_positions: float [V, 2].

    Returns:
        float64 [T, V, 2] (a new array).

    Raises:
        ValueError: shapes do not match.
    """
    traj = np.asarray(trajectories, dtype=np.float64)
    end = np.asarray(end_positions, dtype=np.float64)
    if traj.ndim != 3 or traj.shape[1:] != end.shape or traj.shape[0] < 2:
        raise ValueError(f"trajectories [T>=2, V, 2] and end positions [V, 2] must match, "
                         f"got {traj.shape} and {end.shape}")
    ramp = np.linspace(0.0, 1.0, traj.shape[0])[:, None, None]
    out = traj + ramp * (end - traj[-1])[None]
    out[0] = traj[0]
    out[-1] = end
    return out
