"""Animate stage (single-image mode): per-point trajectories P_t = P_0 + dP_t, one engine per motion source.

* ``preset`` (weight-free): named loops on the lifted shape (``presets``) and
  stochastic motion textures for a scene's background (``textures``);
* ``drag`` (weight-free): drag arrows and pins -> ARAP end state -> ARAP
  interpolation (``drag``); the pipeline lifts it with the two-image keyframes
  and motion stages (objects) or at constant depth (scene layers), and every
  point follows the triangle it sits on (``follow``);
* ``video`` (model): an image-to-video model's dense 2D tracks and depth
  ratios (``video_engine.video_tracks``, imported only when chosen), lifted
  to 3D as MoRe4D's sequential baseline (``follow.lift_tracks``).
"""

from __future__ import annotations

import logging

import numpy as np

from ...geometry3d.quaternions import matrix_from_quats
from ...single_settings import OBJECT_PRESETS, MotionSettings
from ...types import ImageLayers, LayeredDepth, PixelGaussians, PointMotion
from . import textures
from .follow import follow_mesh_2d, follow_surface, lift_tracks, normalised_motion
from .handles import check_drags, drag_error
from .presets import PartFrame, clip_period, phase_signal, preset_motion

log = logging.getLogger(__name__)

ENGINES = ("preset", "drag", "video")
#: A point is on ground-like surface when its normal's |z| exceeds this.
GROUND_NORMAL_Z = 0.8
#: Ripples fade in over this fraction of the image height below the contact line.
CALM_BAND = 0.06


def _ground_like(points: PixelGaussians) -> np.ndarray:
    normal = matrix_from_quats(points.rotations)[:, :, 2]
    return np.abs(normal[:, 2]) > GROUND_NORMAL_Z


def animate_preset(points: PixelGaussians, layers: ImageLayers, ldepth: LayeredDepth, motion: MotionSettings,
                   frames: int, seed: int = 0) -> PointMotion:
    """Trajectories of a preset motion (``presets``, ``textures``).

    Objects move as one part (their mesh too); in a scene each foreground
    layer is a part, the background stays unless a texture preset
    (ripple, drift) is chosen, which moves the background only. A scene
    without foreground layers drifts its background under an object preset.

    Returns:
        ``PointMotion`` (means [T, N, 3]; mesh vertices for objects; keyframes [0, T-1]).
    """
    period = clip_period(frames, motion.period_frames, motion.loop)
    signal = phase_signal(frames, period)
    means = np.repeat(points.means[None], frames, axis=0)
    mesh_vertices = None
    name = motion.preset
    cam = ldepth.view.camera_work
    near = ldepth.near if layers.subject == "scene" else 1.0
    if layers.subject == "object":
        frame = PartFrame(points.means)
        if name in OBJECT_PRESETS:
            means = preset_motion(name, points.means, frame, signal, motion.amplitude, motion.direction_deg, period)
            if ldepth.shape is not None:
                mesh_vertices = preset_motion(name, ldepth.shape.vertices, frame, signal, motion.amplitude,
                                              motion.direction_deg, period)
        else:
            means = _texture(name, points.means, frames, period, motion, near, cam, seed)
            if ldepth.shape is not None:
                from scipy.spatial import cKDTree

                _, j = cKDTree(points.means).query(ldepth.shape.vertices)
                mesh_vertices = ldepth.shape.vertices[None] + (means[:, j] - points.means[j][None])
    else:
        parts = [k for k in np.unique(points.layer) if k > 0]
        if name in OBJECT_PRESETS and parts:
            for k in parts:
                idx = np.nonzero(points.layer == k)[0]
                frame = PartFrame(points.means[idx])
                means[:, idx] = preset_motion(name, points.means[idx], frame, signal, motion.amplitude,
                                              motion.direction_deg, period)
        else:
            texture = name if name not in OBJECT_PRESETS else "drift"
            if name in OBJECT_PRESETS:
                log.warning("the scene has no foreground layer to %s; its background drifts instead", name)
            bg = points.layer == 0
            ground = _ground_like(points)
            if texture == "ripple":
                idx = np.nonzero(bg & ground)[0]
                if len(idx) == 0:
                    idx = np.nonzero(bg & (points.uv[:, 1] > cam.height / 2))[0]
            else:
                idx = np.nonzero(bg & ~ground)[0]
            weight = None
            if texture == "ripple" and ldepth.horizon_v is not None:
                # calm toward the line where the water meets the backdrop, so no gap opens along it
                weight = np.clip((points.uv[idx, 1] - ldepth.horizon_v) / (CALM_BAND * cam.height), 0.0, 1.0)
            means[:, idx] = _texture(texture, points.means[idx], frames, period, motion, near, cam, seed, weight)
    return PointMotion(means=means, mesh_vertices=mesh_vertices, keyframes=[0, frames - 1],
                       diagnostics={"period_frames": float(period)})


def _texture(name, rest, frames, period, motion, near, cam, seed, weight=None):
    if name == "ripple":
        uv, z = cam.project(rest)
        return textures.ripple(rest, uv, z, cam.fx, frames, period, motion.amplitude, motion.direction_deg, seed,
                               weight)
    m = np.asarray(cam.matrix_world, np.float64)
    return textures.drift(rest, frames, period, motion.amplitude, motion.direction_deg, near, m[:3, 0], m[:3, 1],
                          seed)


def animate_video(points: PixelGaussians, rgb: np.ndarray, layers: ImageLayers, ldepth: LayeredDepth, frames: int,
                  settings, progress=None) -> PointMotion:
    """Trajectories from the image-to-video model's tracks (contract: ``video_engine.video_tracks``).

    Raises:
        backend.errors.ModelUnavailableError: the video model (or its engine) is not installed.
    """
    try:
        from .video_engine import video_tracks
    except ImportError as exc:
        from ...errors import ModelUnavailableError

        raise ModelUnavailableError("the 'video' motion engine is not part of this installation.",
                                    "Use the 'preset' or 'drag' motion source.", code="model.video") from exc
    cam = ldepth.view.camera_work
    seen = np.nonzero(points.filled == 0)[0]
    mask = layers.labels > 0 if layers.subject == "object" else np.ones(layers.labels.shape, bool)
    result = video_tracks(np.asarray(rgb, np.float32), mask, points.uv[seen].astype(np.float64), frames, settings,
                          progress)
    means = lift_tracks(points, seen, result.tracks, result.depth_ratio, cam)
    mesh_vertices = None
    if ldepth.shape is not None:
        from scipy.spatial import cKDTree

        _, j = cKDTree(points.means).query(ldepth.shape.vertices)
        mesh_vertices = ldepth.shape.vertices[None] + (means[:, j] - points.means[j][None])
    diag = {"visible_fraction": float(np.mean(result.visible))}
    return PointMotion(means=means, mesh_vertices=mesh_vertices, keyframes=[0, frames - 1], diagnostics=diag)


def drag_motion2d(mesh, drags_work, pins_work, size, frames):
    """``drag.drag_motion2d`` (imported on use: it loads the 2D ARAP machinery)."""
    from .drag import drag_motion2d as run

    return run(mesh, drags_work, pins_work, size, frames)


def subject_mask(layers: ImageLayers) -> np.ndarray:
    """bool [H, W] pixels drags and pins may start on: the object, or a scene's foreground layers."""
    return layers.labels > 0


__all__ = ["ENGINES", "animate_preset", "animate_video", "check_drags", "drag_error", "drag_motion2d",
           "follow_mesh_2d", "follow_surface", "lift_tracks", "normalised_motion", "subject_mask"]
