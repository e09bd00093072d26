"""Scores of a moving 3D shape against a 3D-truth case (numpy + SciPy, no bpy).

A prediction (an asset, or a reference built from the truth) is a
``MovingShape`` in the truth's world frame: points [T, N, 3] (an asset's
Gaussian means) and optionally a triangle mesh [T, V, 3] + [F, 3]. Scores:

* ``front_inbetween_iou``: silhouette IoU from the input camera, mean over
  the in-between frames 1..T-2 (the two inputs themselves excluded);
* ``side_iou``: silhouette IoU from the four side cameras (left, right,
  back, top), mean over cameras and all frames;
* ``surface_dist``: for every moving truth point and frame, the distance to
  the nearest predicted point of that frame (chamfer, truth -> prediction
  only), mean over points and frames;
* ``trajectory_err``: correspondence by proximity at frame 0 (each moving
  truth point takes the nearest predicted point at frame 0), then the
  distance between the two at every frame, mean over points and frames;
* ``motion_err``: the same pairs, but comparing displacements from frame 0
  (p_i(t) - p_i(0) against q_j(t) - q_j(0)), so a surface that sits off the
  truth at frame 0 (a shape error) does not count, only the motion;
* ``smoothness``: the largest frame-to-frame step over the mean step, where a
  step is the mean displacement of all predicted points between consecutive
  frames (1 = uniform speed, T-1 = everything happens in one step; NaN when
  nothing moves).

Distances are divided by the truth's bounding-box diagonal (all frames).
Silhouettes: a mesh is rasterised (a pixel counts when its centre is inside
a projected triangle, as the truth's own silhouettes); a prediction without
a mesh is splatted as discs (``backend.render.splat.coverage_mask``).

Alignment (``fit_scale_translation``): an asset lives in its own world with
its own camera and an arbitrary size, so it is mapped into the truth's
world by expressing both in their input camera's frame and fitting ONE
uniform scale s and translation t at frame 0 only: start from the centroids
and the ratio of RMS radii, then refine by scale+translation-only ICP
(nearest neighbours both ways, closed-form least squares for s, t; Besl and
McKay 1992 restricted to a similarity without rotation). The same map then
applies to every frame, so later motion is never re-fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from backend.asset import Camera
from backend.render.splat import coverage_mask

from .truth import CAMERA_NAMES, TruthCase, mesh_silhouette

METRICS = ("front_inbetween_iou", "side_iou", "surface_dist", "trajectory_err", "motion_err", "smoothness")


@dataclass
class MovingShape:
    """A moving shape in the truth's world frame.

    Attributes:
        points: float [T, N, 3] metres (Gaussian means, or surface points).
        vertices: optional float [T, V, 3] mesh vertices, metres.
        faces: optional int [F, 3] triangles of ``vertices``.
        scales: optional float [N, 3] or [T, N, 3] Gaussian standard deviations
            (metres) for disc splatting when there is no mesh.
    """

    points: np.ndarray
    vertices: np.ndarray | None = None
    faces: np.ndarray | None = None
    scales: np.ndarray | None = None

    @property
    def frame_count(self) -> int:
        """T, the number of frames."""
        return int(self.points.shape[0])

    def silhouette(self, frame: int, camera: Camera) -> np.ndarray:
        """bool [H, W] silhouette of ``frame`` seen through ``camera`` (see module docstring)."""
        if self.vertices is not None and self.faces is not None:
            return mesh_silhouette(self.vertices[frame], self.faces, camera)
        if self.scales is None:
            raise ValueError("a shape without a mesh needs Gaussian scales for its silhouette")
        scales = self.scales[frame] if np.ndim(self.scales) == 3 else self.scales
        return coverage_mask(np.asarray(self.points[frame]), np.asarray(scales), camera)

    def resampled(self, frames: int) -> "MovingShape":
        """The same motion at ``frames`` frames (linear in time; identity when the count matches)."""
        if frames == self.frame_count:
            return self
        src = np.linspace(0.0, 1.0, self.frame_count)
        dst = np.linspace(0.0, 1.0, frames)

        def lerp(a):
            if a is None or np.ndim(a) != 3:
                return a
            a = np.asarray(a, np.float64)
            i = np.clip(np.searchsorted(src, dst, side="right") - 1, 0, len(src) - 2)
            w = ((dst - src[i]) / (src[i + 1] - src[i]))[:, None, None]
            return (1 - w) * a[i] + w * a[i + 1]

        return MovingShape(lerp(self.points), lerp(self.vertices), self.faces, lerp(self.scales))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks of one shape (1.0 when both are empty)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def fit_scale_translation(source: np.ndarray, target: np.ndarray, icp_iterations: int = 10,
                          scale_axes: tuple[int, ...] = (0, 1)) -> tuple[float, np.ndarray]:
    """One uniform scale and a translation mapping ``source`` onto ``target`` (no rotation).

    The scale comes from the spread along ``scale_axes`` only; with points
    in the input camera's frame the default (x, y) is the image plane, which
    the input image pins down, while the depth extent is what a single-view
    method has to guess and so must not set the scale (an over-inflated
    asset would otherwise be shrunk in the front view). The translation uses
    all three axes.

    Args:
        source: float [N, 3] points (need not correspond to ``target``).
        target: float [M, 3] points.
        icp_iterations: scale+translation ICP refinements after the moment
            initialisation (0 = centroids and RMS radii only).
        scale_axes: coordinate axes whose RMS spread (and ICP residuals) set s.

    Returns:
        (s, t): float scale > 0 and float64 [3] so that s * source + t ~ target.

    Raises:
        ValueError: fewer than 2 points on either side or a degenerate cloud.
    """
    src = np.asarray(source, np.float64)
    dst = np.asarray(target, np.float64)
    ax = list(scale_axes)
    if len(src) < 2 or len(dst) < 2:
        raise ValueError("alignment needs at least 2 points on each side")
    cs, cd = src.mean(axis=0), dst.mean(axis=0)
    rs = np.sqrt(((src - cs)[:, ax] ** 2).sum(axis=1).mean())
    rd = np.sqrt(((dst - cd)[:, ax] ** 2).sum(axis=1).mean())
    if rs < 1e-12 or rd < 1e-12:
        raise ValueError("alignment needs point clouds with a non-zero extent")
    s = rd / rs
    t = cd - s * cs
    tree_dst = cKDTree(dst)
    for _ in range(icp_iterations):
        moved = s * src + t
        _, j = tree_dst.query(moved)  # source -> nearest target
        _, i = cKDTree(moved).query(dst)  # target -> nearest source
        x = np.concatenate([src, src[i]])
        y = np.concatenate([dst[j], dst])
        xm, ym = x.mean(axis=0), y.mean(axis=0)
        den = ((x - xm)[:, ax] ** 2).sum()
        s_new = float(((x - xm)[:, ax] * (y - ym)[:, ax]).sum() / den) if den > 0 else s
        if s_new <= 0:
            break
        t_new = ym - s_new * xm
        done = abs(s_new - s) < 1e-7 * s and np.linalg.norm(t_new - t) < 1e-7 * rd
        s, t = s_new, t_new
        if done:
            break
    return float(s), np.asarray(t, np.float64)


def fit_view_scale(source_local: np.ndarray, target_local: np.ndarray) -> tuple[float, np.ndarray]:
    """A scale about the camera centre that keeps the input view: s = ratio of the mean depths, t = 0.

    Both clouds are in their input camera's frame (Blender camera: the view
    axis is -Z). Scaling about the camera centre leaves every projection
    unchanged, so the asset's frame-0 front silhouette is exactly what the
    engine made, and the depth ambiguity of a single view (size versus
    distance) is resolved by matching the mean depth of the frame-0 clouds.

    Args:
        source_local, target_local: float [N, 3] and [M, 3] camera-frame points in front of the camera.

    Returns:
        (s, t) as ``fit_scale_translation``, with t = 0.

    Raises:
        ValueError: a cloud is empty or not in front of its camera.
    """
    zs = -np.asarray(source_local, np.float64)[:, 2]
    zt = -np.asarray(target_local, np.float64)[:, 2]
    if len(zs) == 0 or len(zt) == 0 or zs.mean() <= 0 or zt.mean() <= 0:
        raise ValueError("view alignment needs non-empty clouds in front of their cameras")
    return float(zt.mean() / zs.mean()), np.zeros(3)


def camera_frame_map(source_camera: Camera, target_camera: Camera, scale: float, translation: np.ndarray):
    """World -> world map: into ``source_camera``'s frame, scale and translate, out of ``target_camera``'s.

    Returns:
        A function float [..., 3] -> float64 [..., 3].
    """
    m = np.asarray(target_camera.matrix_world, np.float64)

    def apply(points):
        p = np.asarray(points, np.float64)
        local = source_camera.world_to_camera(p.reshape(-1, 3)) * scale + translation
        return (local @ m[:3, :3].T + m[:3, 3]).reshape(p.shape)

    return apply


def step_ratio(points: np.ndarray) -> float:
    """Largest frame step over the mean step of points [T, N, 3] (see module docstring); NaN if still."""
    p = np.asarray(points, np.float64)
    if len(p) < 2:
        return float("nan")
    steps = np.linalg.norm(np.diff(p, axis=0), axis=2).mean(axis=1)
    mean = steps.mean()
    return float(steps.max() / mean) if mean > 1e-12 else float("nan")


def surface_distance(truth_points: np.ndarray, predicted_points: np.ndarray) -> float:
    """Mean over frames and truth points of the distance to the nearest predicted point (metres).

    Args:
        truth_points: float [T, P, 3].
        predicted_points: float [T, N, 3].
    """
    d = [cKDTree(np.asarray(q, np.float64)).query(np.asarray(p, np.float64))[0]
         for p, q in zip(truth_points, predicted_points)]
    return float(np.mean(d))


def trajectory_error(truth_points: np.ndarray, predicted_points: np.ndarray, displacement: bool = False) -> float:
    """Mean distance between each truth point and the predicted point nearest to it at frame 0 (metres).

    Args:
        truth_points: float [T, P, 3].
        predicted_points: float [T, N, 3] (same T).
        displacement: compare displacements from frame 0 instead of positions
            (``motion_err`` of the module docstring).
    """
    tp = np.asarray(truth_points, np.float64)
    pp = np.asarray(predicted_points, np.float64)
    _, j = cKDTree(pp[0]).query(tp[0])
    q = pp[:, j]
    if displacement:
        q, tp = q - q[:1], tp - tp[:1]
    return float(np.linalg.norm(q - tp, axis=2).mean())


def score(truth: TruthCase, shape: MovingShape, cameras=CAMERA_NAMES) -> dict:
    """All scores of ``shape`` (already in the truth's world frame) against ``truth``.

    Returns:
        dict with the keys of ``METRICS`` (distances over the bounding-box
        diagonal), plus ``front_first_iou``, ``front_last_iou`` and
        ``side_iou_<camera>`` per side camera.

    Raises:
        ValueError: the shape has no silhouette source (see ``MovingShape.silhouette``).
    """
    T = truth.frame_count
    shape = shape.resampled(T)
    ious = np.zeros((len(CAMERA_NAMES), T))
    for c, name in enumerate(CAMERA_NAMES):
        if name not in cameras:
            ious[c] = np.nan
            continue
        for t in range(T):
            ious[c, t] = iou(shape.silhouette(t, truth.cameras[name]), truth.silhouettes[c, t])
    diag = truth.diagonal
    sel = truth.moving if truth.moving.any() else np.ones(len(truth.moving), bool)
    out = {
        "front_inbetween_iou": float(np.mean(ious[0, 1:T - 1])) if T > 2 else float("nan"),
        "front_first_iou": float(ious[0, 0]),
        "front_last_iou": float(ious[0, T - 1]),
        "side_iou": float(np.nanmean(ious[1:])),
        "surface_dist": surface_distance(truth.points[:, sel], shape.points) / diag,
        "trajectory_err": trajectory_error(truth.points[:, sel], shape.points) / diag,
        "motion_err": trajectory_error(truth.points[:, sel], shape.points, displacement=True) / diag,
        "smoothness": step_ratio(shape.points),
    }
    for c, name in enumerate(CAMERA_NAMES[1:], start=1):
        out[f"side_iou_{name}"] = float(np.mean(ious[c]))
    return out


def references(truth: TruthCase) -> dict[str, MovingShape]:
    """Three shapes built from the truth that give every score a scale.

    * ``linear``: every vertex and point travels in a straight line from its
      frame-0 to its frame-(T-1) position at constant speed;
    * ``static``: an unmoving copy of frame 0;
    * ``jump``: frame 0 until frame T // 2 - 1, then frame T-1.
    """
    T = truth.frame_count
    w = np.linspace(0.0, 1.0, T)[:, None, None]
    jump = (np.arange(T) >= T // 2)[:, None, None].astype(np.float64)

    def blend(a, weights):
        a = np.asarray(a, np.float64)
        return (1 - weights) * a[0] + weights * a[-1]

    out = {}
    for name, weights in (("linear", w), ("static", np.zeros_like(w)), ("jump", jump)):
        out[name] = MovingShape(blend(truth.points, weights), blend(truth.vertices, weights), truth.faces)
    return out
