"""Camera rigs framed on an imported asset: orbit, dolly in/out, pan, crane, input view.

A rig is one camera object keyed on every frame of the asset's range (LINEAR
keys, so what plays is exactly what was computed and exporters sample it as
is). Its rotation is an explicit look-at (camera -Z toward the target, +Y
toward world +Z), not a Track To constraint, so the rig needs no target
object and survives FBX/glTF export.

Framing: the asset's bounds (over all frames) are enclosed in a sphere of
radius ``r`` around the box centre; at distance ``d = margin * r / sin(a)``,
with ``a`` the smaller half field of view (from ``Camera.view_frame``, which
accounts for sensor fit and render aspect), the whole sphere -- hence every
bounds corner -- is inside the frame. Paths that move closer than ``d`` are
never used. All paths start on the input-view side (-Y), looking toward +Y.
"""

from __future__ import annotations

import math

import bpy
import numpy as np
from mathutils import Matrix, Vector

from . import importer
from .keyframes import set_interpolation

PATHS = ("ORBIT", "DOLLY_IN", "DOLLY_OUT", "PAN", "CRANE", "MATCH_INPUT")
ROLE_RIG = "rig"
RIG_PATH_PROP = "tween4d_rig_path"
MARGIN = 1.1  # 10 % room around the bounding sphere
ORBIT_ELEVATION_DEG = 15.0
DOLLY_FAR = 1.5  # dolly between d and 1.5 d
PAN_DISTANCE = 1.35  # pan from further back, so there is room to turn
CRANE_ELEVATION_DEG = (-5.0, 50.0)


def _smoothstep(s: np.ndarray) -> np.ndarray:
    return s * s * (3.0 - 2.0 * s)


def look_at_matrix(position, target) -> np.ndarray:
    """Camera-to-world rotation [3, 3] looking from ``position`` at ``target`` with +Z up.

    Columns are the camera's local X (image right), Y (image up) and Z
    (backwards: Blender cameras look down -Z).
    """
    f = np.asarray(target, np.float64) - np.asarray(position, np.float64)
    f /= np.linalg.norm(f)
    right = np.cross(f, (0.0, 0.0, 1.0))
    if np.linalg.norm(right) < 1e-9:  # looking straight up/down: any right works
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, f)
    return np.stack([right, up, -f], axis=1)


def bounds_of(collection_or_bounds) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) float64 [3] from an imported collection's stored bounds or a (lo, hi) pair.

    Raises:
        ValueError: a collection without Tween4D bounds, or lo > hi.
    """
    if isinstance(collection_or_bounds, bpy.types.Collection):
        c = collection_or_bounds
        if importer.BOUNDS_MIN_PROP not in c or importer.BOUNDS_MAX_PROP not in c:
            raise ValueError(f"collection {c.name!r} was not made by the Tween4D importer (no bounds stored)")
        lo, hi = np.array(c[importer.BOUNDS_MIN_PROP], np.float64), np.array(c[importer.BOUNDS_MAX_PROP], np.float64)
    else:
        lo, hi = (np.asarray(v, np.float64).reshape(3) for v in collection_or_bounds)
    if np.any(lo > hi):
        raise ValueError("bounds must be (min corner, max corner)")
    return lo, hi


def half_fovs(cam_data: bpy.types.Camera, scene: bpy.types.Scene) -> tuple[float, float]:
    """Half horizontal and vertical fields of view (radians) of an unshifted camera in ``scene``."""
    frame = cam_data.view_frame(scene=scene)
    xs = [abs(v.x) for v in frame]
    ys = [abs(v.y) for v in frame]
    z = abs(frame[0].z)
    return math.atan(max(xs) / z), math.atan(max(ys) / z)


def framing_distance(radius: float, half_fov_h: float, half_fov_v: float, margin: float = MARGIN) -> float:
    """Distance (metres) at which a sphere of ``radius`` fits both fields of view."""
    return margin * max(radius, 1e-6) / math.sin(min(half_fov_h, half_fov_v))


def _spherical(centre, distance, azimuth, elevation) -> np.ndarray:
    """Points at ``distance`` from ``centre``; azimuth 0 = the -Y (input view) side. Arrays [F] -> [F, 3]."""
    ce = np.cos(elevation)
    offset = np.stack([np.sin(azimuth) * ce, -np.cos(azimuth) * ce, np.sin(elevation)], axis=-1)
    return np.asarray(centre)[None, :] + distance[..., None] * offset


def path_poses(path: str, centre, radius: float, half_fov_h: float, half_fov_v: float, count: int):
    """Camera positions and look-at targets along a path.

    Args:
        path: one of ORBIT, DOLLY_IN, DOLLY_OUT, PAN, CRANE.
        centre: [3] bounds centre (world metres); radius: bounding-sphere radius.
        half_fov_h, half_fov_v: the camera's half fields of view (radians).
        count: number of frames F (>= 2).

    Returns:
        (positions float64 [F, 3], targets float64 [F, 3]).
    """
    centre = np.asarray(centre, np.float64)
    s = np.linspace(0.0, 1.0, count)
    eased = _smoothstep(s)
    d = framing_distance(radius, half_fov_h, half_fov_v)
    zeros = np.zeros(count)
    targets = np.repeat(centre[None, :], count, axis=0)
    if path == "ORBIT":
        # A full turn that loops: frame F would equal frame 0. Constant speed reads best.
        az = 2.0 * math.pi * np.arange(count) / count
        pos = _spherical(centre, np.full(count, d), az, np.full(count, math.radians(ORBIT_ELEVATION_DEG)))
    elif path in ("DOLLY_IN", "DOLLY_OUT"):
        a, b = (DOLLY_FAR * d, d) if path == "DOLLY_IN" else (d, DOLLY_FAR * d)
        pos = _spherical(centre, a + (b - a) * eased, zeros, np.full(count, math.radians(5.0)))
    elif path == "PAN":
        dist = PAN_DISTANCE * d
        pos = _spherical(centre, np.full(count, dist), zeros, np.full(count, math.radians(5.0)))
        # Turn in place: the subject's angular radius leaves this much room inside the frame.
        slack = max(0.0, half_fov_h - math.asin(min(1.0, MARGIN * radius / dist)))
        yaw = (eased - 0.5) * 2.0 * 0.8 * slack
        rel = targets - pos
        c, sn = np.cos(yaw), np.sin(yaw)
        targets = pos + np.stack([c * rel[:, 0] - sn * rel[:, 1], sn * rel[:, 0] + c * rel[:, 1], rel[:, 2]], axis=1)
    elif path == "CRANE":
        lo, hi = (math.radians(v) for v in CRANE_ELEVATION_DEG)
        pos = _spherical(centre, np.full(count, d), zeros, lo + (hi - lo) * eased)
    else:
        raise ValueError(f"path must be one of {PATHS}, got {path!r}")
    return pos, targets


def _frame_range(context, collection, frames) -> tuple[int, int]:
    if frames is not None:
        first, last = int(frames[0]), int(frames[1])
    elif collection is not None and importer.FRAME_COUNT_PROP in collection:
        first = int(collection[importer.FRAME_START_PROP])
        last = first + int(collection[importer.FRAME_COUNT_PROP]) - 1
    else:
        first, last = context.scene.frame_start, context.scene.frame_end
    return first, max(last, first + 1)


def _new_camera(name: str, collection) -> tuple[bpy.types.Object, bpy.types.Camera]:
    data = bpy.data.cameras.new(name)
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = importer.SENSOR_WIDTH_MM
    data.lens = 50.0
    data.clip_start = 0.01
    data.clip_end = 1000.0
    if collection is not None and importer.CAMERA_PROP in collection:
        # Same field of view as the input view, so rigs feel like the generated shot.
        data.lens = importer.camera_settings(importer.stored_camera(collection))["lens"]
    obj = bpy.data.objects.new(name, data)
    obj[importer.ROLE_PROP] = ROLE_RIG
    return obj, data


def add_camera_rig(context, collection_or_bounds, path: str, frames=None, *, make_active: bool = True, name: str | None = None) -> bpy.types.Object:
    """Add a keyframed camera that frames an asset along ``path``.

    Args:
        context: Blender context (its scene gets the camera).
        collection_or_bounds: an imported asset's collection (bounds, frame
            range and input camera are read from its custom properties) or a
            (min corner, max corner) pair of [3] world-metre vectors.
        path: ORBIT (one full turn around the bounds centre, 15 degrees up),
            DOLLY_IN / DOLLY_OUT (between the framing distance d and 1.5 d),
            PAN (turn in place from further back, subject kept in frame),
            CRANE (rise from -5 to 50 degrees elevation, tilting down to the
            centre), MATCH_INPUT (the stored input camera, static; needs a
            collection).
        frames: (first, last) scene frames; default the asset's range (or the
            scene's, for bare bounds).
        make_active: make it the scene camera.
        name: object name; default "<collection> Rig <Path>".

    Returns:
        The camera object, linked to the collection (or the scene's master
        collection), with ``tween4d_role`` = "rig" and one LINEAR key per
        frame (MATCH_INPUT: keys at the first and last frame).

    Raises:
        ValueError: unknown path, bad bounds, or MATCH_INPUT without a
        collection; AssetError: the collection has no stored camera.
    """
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}, got {path!r}")
    collection = collection_or_bounds if isinstance(collection_or_bounds, bpy.types.Collection) else None
    if path == "MATCH_INPUT" and collection is None:
        raise ValueError("MATCH_INPUT needs an imported asset's collection (it holds the input camera)")
    scene = context.scene
    first, last = _frame_range(context, collection, frames)
    prefix = collection.name if collection is not None else "Tween4D"
    obj, data = _new_camera(name or f"{prefix} Rig {path.replace('_', ' ').title()}", collection)
    obj[RIG_PATH_PROP] = path
    (collection or scene.collection).objects.link(obj)

    if path == "MATCH_INPUT":
        cam = importer.stored_camera(collection)
        s = importer.camera_settings(cam)
        data.lens, data.shift_x, data.shift_y = s["lens"], s["shift_x"], s["shift_y"]
        obj.matrix_world = Matrix(np.asarray(cam.matrix_world, np.float64).tolist())
        importer.apply_camera_render_settings(scene, cam)
        for f in (first, last):
            obj.keyframe_insert("location", frame=f)
            obj.keyframe_insert("rotation_euler", frame=f)
    else:
        lo, hi = bounds_of(collection_or_bounds)
        centre, radius = (lo + hi) / 2.0, float(np.linalg.norm(hi - lo) / 2.0)
        fov_h, fov_v = half_fovs(data, scene)
        count = last - first + 1
        positions, targets = path_poses(path, centre, radius, fov_h, fov_v, count)
        euler = None
        for i, f in enumerate(range(first, last + 1)):
            rot = Matrix(look_at_matrix(positions[i], targets[i]).tolist())
            euler = rot.to_euler("XYZ", euler) if euler is not None else rot.to_euler("XYZ")  # no 360-degree flips
            obj.location = Vector(positions[i].tolist())
            obj.rotation_euler = euler
            obj.keyframe_insert("location", frame=f)
            obj.keyframe_insert("rotation_euler", frame=f)
    set_interpolation(obj, "LINEAR")
    if make_active:
        scene.camera = obj
    return obj
