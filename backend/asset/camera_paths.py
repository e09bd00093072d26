"""Camera paths for looking at a generated asset: MoRe4D's five plus a full orbit.

MoRe4D (Zhang et al., "Joint 3D Geometry Reconstruction and Motion Generation
for 4D Synthesis from a Single Image", arXiv 2512.05044, 4D View Synthesis
Module and its evaluation) renders its 4D point trajectories along five camera
trajectories: static, a forward-backward dolly, a small circle, a surrounding
arc and a +-30 degree rotation. This module computes them as Blender camera
``matrix_world`` per frame, so the add-on's camera rigs and the backend's
preview share one definition. numpy + standard library only (the add-on
imports ``backend.asset`` inside Blender).

Frames and units (shared/design/asset-format.md):

* World frame = Blender's: right-handed, +Z up, metres.
* A camera pose is a float64 [4, 4] camera-to-world ``matrix_world`` in
  Blender's camera convention: the camera looks down its local -Z, local +Y is
  image up, local +X is image right.
* ``target`` is the world point the path is framed on (an object's centre, or
  for a scene the point on the view axis at the middle of its depth range, see
  ``scene_target``). Every path keeps the target on the same image pixel as in
  the base pose, and keeps the base's roll (a level camera stays level): the
  yaw and pitch are solved per frame (``level_look_rotations``).
* Sizes are relative to a reference distance ``L``: the distance from the
  base camera to the target, or with ``depth_range=(near, far)`` (metres along
  the base camera's viewing axis, as a scene's ``asset.json`` records it) the
  near depth, so a dolly or circle never reaches the nearest surface of a scene.

Paths (T = ``frame_count``; "loops" means frame T would equal frame 0, so
frame T-1 -> frame 0 is one ordinary step when playback cycles):

* ``static``: every frame is the base pose.
* ``dolly``: forward-backward dolly along the ray to the target, in to
  ``L * 0.3 * strength`` closer, back out as far beyond the base, and back
  (sinusoidal, loops). The orientation never changes.
* ``circle``: a small circle of radius ``L * 0.08 * strength`` in the base
  camera's image plane, centred on the base position, looking at the target
  (loops). Frame 0 is the base pose shifted by the radius along the camera's
  +X (image right), NOT the base pose.
* ``arc``: a surrounding arc about the vertical axis through the target,
  sweeping from the base pose to ``45 deg * strength`` azimuth with a rise of
  ``10 deg * strength`` elevation (smoothstep easing, one way; frame T-1 is
  the far end). The distance to the target is constant.
* ``rotate``: yaw about the vertical axis through the target to +30 deg, back
  through the base to -30 deg and back (``30 deg * strength``, sinusoidal,
  loops). The distance to the target is constant.
* ``orbit``: one full turn about the vertical axis through the target at the
  base's elevation and distance, constant speed (loops); ``strength`` is
  ignored.

Frame 0 is the base pose for every path except ``circle``.
"""

from __future__ import annotations

import math

import numpy as np

CAMERA_PATHS = ("static", "dolly", "circle", "arc", "rotate", "orbit")
LOOPING_PATHS = frozenset({"static", "dolly", "circle", "rotate", "orbit"})

DOLLY_FRACTION = 0.3  # of the reference distance, at strength 1
CIRCLE_FRACTION = 0.08  # radius, of the reference distance, at strength 1
ARC_AZIMUTH_DEG = 45.0
ARC_RISE_DEG = 10.0
ROTATE_DEG = 30.0
_MAX_DOLLY = 0.9  # never move closer than 10 % of the reference distance


def _check_base(base_matrix_world) -> np.ndarray:
    m = np.asarray(base_matrix_world, dtype=np.float64)
    if m.shape != (4, 4) or not np.all(np.isfinite(m)):
        raise ValueError("base_matrix_world must be a finite 4x4 matrix")
    rot = m[:3, :3]
    if not np.allclose(rot.T @ rot, np.eye(3), atol=1e-6) or np.linalg.det(rot) < 0:
        raise ValueError("base_matrix_world must be rigid (a rotation and a translation, no scale); apply the camera's scale")
    return m


def _azimuth_elevation(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Azimuth about +Z (atan2(y, x)) and elevation (radians) of directions [..., 3]."""
    horiz = np.hypot(v[..., 0], v[..., 1])
    return np.arctan2(v[..., 1], v[..., 0]), np.arctan2(v[..., 2], horiz)


def _level_rotation(azimuth: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """Roll-free camera-to-world rotations [F, 3, 3]: forward at ``azimuth`` (about +Z from +X) and ``pitch`` (radians)."""
    ca, sa, cp, sp = np.cos(azimuth), np.sin(azimuth), np.cos(pitch), np.sin(pitch)
    forward = np.stack([cp * ca, cp * sa, sp], axis=-1)
    right = np.stack([sa, -ca, np.zeros_like(ca)], axis=-1)
    up = np.cross(right, forward)
    return np.stack([right, up, -forward], axis=-1)


def level_look_rotations(base_rotation, old_direction, new_directions) -> np.ndarray:
    """Camera rotations that see each of ``new_directions`` where the base saw ``old_direction``, with the base's roll.

    The base rotation is split into a roll-free camera (yaw about world +Z,
    pitch of the viewing axis) times a roll about the viewing axis. For each
    new direction the roll is kept and the yaw and pitch are solved exactly so
    that the pixel that saw ``old_direction`` sees it: a level base camera
    stays level while the path keeps the target on its pixel.

    Args:
        base_rotation: float64 [3, 3] camera-to-world rotation of the base pose.
        old_direction: [3] world direction from the base camera to the target.
        new_directions: [F, 3] world directions from each new position to it.

    Returns:
        float64 [F, 3, 3] camera-to-world rotations.

    Raises:
        ValueError: the base looks straight up or down (yaw undefined).
    """
    r0 = np.asarray(base_rotation, dtype=np.float64)
    forward0 = -r0[:, 2]
    if np.hypot(forward0[0], forward0[1]) < 1e-9:
        raise ValueError("the camera looks straight up or down; tilt it so its view axis is not vertical")
    az0, pitch0 = _azimuth_elevation(forward0)
    level0 = _level_rotation(np.array(az0), np.array(pitch0))
    roll = level0.T @ r0  # rotation about the local view axis
    old = np.asarray(old_direction, dtype=np.float64)
    lx, ly, lz = roll @ (r0.T @ (old / np.linalg.norm(old)))  # the target's pixel ray in the roll-free frame
    new = np.asarray(new_directions, dtype=np.float64)
    new = new / np.linalg.norm(new, axis=1, keepdims=True)
    # World z of the ray for pitch p: ly cos p - lz sin p = R cos(p - phi); solve for the new elevation.
    amp, phi = math.hypot(ly, lz), math.atan2(-lz, ly)
    spread = np.arccos(np.clip(new[:, 2] / max(amp, 1e-12), -1.0, 1.0))
    candidates = np.stack([phi + spread, phi - spread], axis=1)
    wrapped = np.angle(np.exp(1j * (candidates - pitch0)))  # nearest branch to the base pitch
    pitch = pitch0 + np.take_along_axis(wrapped, np.argmin(np.abs(wrapped), axis=1)[:, None], axis=1)[:, 0]
    at_zero = _level_rotation(np.zeros(len(new)), pitch) @ np.array([lx, ly, lz])
    az = np.arctan2(new[:, 1], new[:, 0]) - np.arctan2(at_zero[:, 1], at_zero[:, 0])
    return _level_rotation(az, pitch) @ roll


def scene_target(base_matrix_world, depth_range) -> np.ndarray:
    """The point a scene's paths are framed on: on the base camera's view axis at the middle of its depth range.

    Args:
        base_matrix_world: float64 [4, 4] camera-to-world (Blender convention).
        depth_range: (near, far) metres along the camera's viewing axis (-Z),
            0 < near <= far.

    Returns:
        float64 [3] world point.

    Raises:
        ValueError: a bad pose or depth range.
    """
    m = _check_base(base_matrix_world)
    near, far = _depth_range(depth_range)
    return m[:3, 3] - m[:3, 2] * (0.5 * (near + far))


def _depth_range(depth_range) -> tuple[float, float]:
    try:
        near, far = (float(v) for v in depth_range)
    except (TypeError, ValueError) as exc:
        raise ValueError("depth_range must be (near, far) in metres") from exc
    if not (math.isfinite(near) and math.isfinite(far) and 0.0 < near <= far):
        raise ValueError(f"depth_range must satisfy 0 < near <= far, got ({near}, {far})")
    return near, far


def path_amplitude(kind: str, reference_distance: float, strength: float = 1.0) -> float:
    """How far a path moves at ``strength``: metres for dolly/circle, degrees for arc/rotate (0 otherwise)."""
    if kind == "dolly":
        return min(DOLLY_FRACTION * strength, _MAX_DOLLY) * reference_distance
    if kind == "circle":
        return CIRCLE_FRACTION * strength * reference_distance
    if kind == "arc":
        return ARC_AZIMUTH_DEG * strength
    if kind == "rotate":
        return ROTATE_DEG * strength
    return 0.0


def camera_path(kind: str, base_matrix_world, target, frame_count: int, *, strength: float = 1.0, depth_range=None) -> np.ndarray:
    """Camera poses along one of ``CAMERA_PATHS`` (see the module doc for each path).

    Args:
        kind: "static", "dolly", "circle", "arc", "rotate" or "orbit".
        base_matrix_world: float64 [4, 4] camera-to-world of the base pose
            (Blender convention; for an asset, its stored input camera).
        target: float64 [3] world point (metres) the path is framed on; it
            stays on the same image pixel in every frame.
        frame_count: T >= 2 frames.
        strength: scales the path's amplitude (1.0 = MoRe4D-like defaults,
            0 = static); ignored by "orbit" and "static".
        depth_range: optional (near, far) metres along the base camera's
            viewing axis; when given the reference distance for dolly and
            circle is ``near`` (a scene's nearest surface), else the distance
            from the base camera to the target.

    Returns:
        float64 [T, 4, 4] camera-to-world matrices, rigid, last row (0, 0, 0, 1).

    Raises:
        ValueError: unknown kind, T < 2, negative or non-finite strength, a
        non-rigid base, a base looking straight up or down, a target at or
        behind the camera, a bad depth range.
    """
    if kind not in CAMERA_PATHS:
        raise ValueError(f"camera path must be one of {CAMERA_PATHS}, got {kind!r}")
    if int(frame_count) != frame_count or frame_count < 2:
        raise ValueError(f"frame_count must be an integer >= 2, got {frame_count!r}")
    if not math.isfinite(strength) or strength < 0:
        raise ValueError(f"strength must be a finite number >= 0, got {strength!r}")
    t_count = int(frame_count)
    base = _check_base(base_matrix_world)
    target = np.asarray(target, dtype=np.float64).reshape(3)
    if not np.all(np.isfinite(target)):
        raise ValueError("target must be a finite world point")
    c0, r0 = base[:3, 3], base[:3, :3]
    to_target = target - c0
    dist = float(np.linalg.norm(to_target))
    if dist < 1e-9:
        raise ValueError("the target is at the camera position; pick a point in front of the camera")
    if float(to_target @ -r0[:, 2]) <= 0.0:
        raise ValueError("the target is behind the camera; pick a point in front of it (e.g. the asset's centre)")
    ref = _depth_range(depth_range)[0] if depth_range is not None else dist
    amp = path_amplitude(kind, ref, strength)

    i = np.arange(t_count, dtype=np.float64)
    phase = 2.0 * math.pi * i / t_count  # loops: frame T would be frame 0
    s = i / (t_count - 1)
    if kind == "static":
        positions = np.repeat(c0[None], t_count, axis=0)
    elif kind == "dolly":
        positions = c0[None] + (amp * np.sin(phase))[:, None] * (to_target / dist)[None]
    elif kind == "circle":
        right, up = r0[:, 0], r0[:, 1]
        positions = c0[None] + amp * (np.cos(phase)[:, None] * right[None] + np.sin(phase)[:, None] * up[None])
    else:
        if kind == "orbit":
            yaw, rise = phase, np.zeros(t_count)
        elif kind == "rotate":
            yaw, rise = math.radians(amp) * np.sin(phase), np.zeros(t_count)
        else:  # arc
            eased = s * s * (3.0 - 2.0 * s)
            yaw, rise = math.radians(amp) * eased, math.radians(ARC_RISE_DEG * strength) * eased
        offset = c0 - target  # target -> camera
        az0, el0 = _azimuth_elevation(offset)
        el = np.clip(el0 + rise, -math.radians(89.0), math.radians(89.0))
        az = az0 + yaw
        ce = np.cos(el)
        positions = target[None] + dist * np.stack([np.cos(az) * ce, np.sin(az) * ce, np.sin(el)], axis=1)
    rots = level_look_rotations(r0, to_target, target[None] - positions)
    if kind == "dolly":  # along the ray to the target: the orientation never changes
        rots = np.repeat(r0[None], t_count, axis=0)
    out = np.zeros((t_count, 4, 4))
    out[:, :3, :3] = rots
    out[:, :3, 3] = positions
    out[:, 3, 3] = 1.0
    if kind != "circle":
        out[0] = base
    return out
