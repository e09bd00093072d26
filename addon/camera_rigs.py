"""Camera rigs framed on an imported asset: orbit, dolly in/out, pan, crane, input view, and MoRe4D's paths.

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

MoRe4D's paths (DOLLY, CIRCLE, ARC, ROTATE; MATCH_INPUT is its "static")
start from the input camera itself, so frame 0 shows the input image (CIRCLE
starts one radius to the right), and keep the subject's target on its pixel
(``backend.asset.camera_paths``). The target is the centre the backend
recorded (asset.json ``scene.centre``) when there is one, else the bounds
centre for objects and, for a one-image *scene*, the point on the input
camera's axis at the middle of the scene's depth range; the depth range's near end bounds how
far a dolly or circle moves (``importer`` stores both on the collection), so a
scene with a far backdrop is framed on what is in it, not on its bounding box.
ORBIT of a one-image scene turns round that target at the input distance;
a scene's ARC and ROTATE turn half as far as an object's (``SCENE_ANGLE_SCALE``).
"""

from __future__ import annotations

import math

import bpy
import numpy as np
from mathutils import Matrix

from ..backend.asset import camera_paths
from . import importer
from .keyframes import set_interpolation

#: Rig path -> ``camera_paths`` kind, for the paths that start at the input camera (MoRe4D).
MORE4D_PATHS = {"DOLLY": "dolly", "CIRCLE": "circle", "ARC": "arc", "ROTATE": "rotate"}
PATHS = ("ORBIT", "DOLLY_IN", "DOLLY_OUT", "PAN", "CRANE", "MATCH_INPUT") + tuple(MORE4D_PATHS)
#: Scenes are a layered pop-up seen from one side: their ARC and ROTATE turn half as far (22.5 and +-15 degrees
#: at strength 1), where the hidden layer still covers what a turn reveals (a 45-degree arc shows the layers'
#: edges and stretched ground splats).
SCENE_ANGLE_SCALE = 0.5
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


def input_framing(collection_or_bounds, half_fov_h: float, half_fov_v: float):
    """Base pose, target and depth range for the input-camera paths.

    Args:
        collection_or_bounds: an imported asset's collection, or a (lo, hi)
            bounds pair (then the base is a camera on the -Y side at the
            framing distance, 5 degrees up, looking at the centre).
        half_fov_h, half_fov_v: the rig camera's half fields of view (radians).

    Returns:
        (base float64 [4, 4] camera-to-world, target float64 [3] world metres,
        depth_range (near, far) metres along the base's view axis, or None).

    Raises:
        AssetError: the collection holds no stored camera.
    """
    if isinstance(collection_or_bounds, bpy.types.Collection):
        coll = collection_or_bounds
        base = np.asarray(importer.stored_camera(coll).matrix_world, np.float64)
        depth_range = importer.stored_depth_range(coll)
        if coll.get(importer.TARGET_PROP) is not None:  # the backend's own centre (asset.json scene.centre)
            return base, np.array(coll[importer.TARGET_PROP], np.float64), depth_range
        if coll.get(importer.SUBJECT_PROP) == "scene" and depth_range is not None:
            return base, camera_paths.scene_target(base, depth_range), depth_range
        lo, hi = bounds_of(coll)
        return base, (lo + hi) / 2.0, depth_range
    lo, hi = bounds_of(collection_or_bounds)
    centre, radius = (lo + hi) / 2.0, float(np.linalg.norm(hi - lo) / 2.0)
    d = framing_distance(radius, half_fov_h, half_fov_v)
    pos = _spherical(centre, np.array([d]), np.zeros(1), np.full(1, math.radians(5.0)))[0]
    base = np.eye(4)
    base[:3, :3] = look_at_matrix(pos, centre)
    base[:3, 3] = pos
    return base, centre, None


def _key_matrices(obj, first: int, matrices: np.ndarray) -> None:
    """Key ``obj``'s location and rotation on frames first.. from camera-to-world matrices [F, 4, 4]."""
    euler = None
    for i, m in enumerate(matrices):
        mat = Matrix(np.asarray(m, np.float64).tolist())
        rot = mat.to_3x3()
        euler = rot.to_euler("XYZ", euler) if euler is not None else rot.to_euler("XYZ")  # no 360-degree flips
        obj.location = mat.translation
        obj.rotation_euler = euler
        obj.keyframe_insert("location", frame=first + i)
        obj.keyframe_insert("rotation_euler", frame=first + i)


def _frame_range(context, collection, frames) -> tuple[int, int]:
    if frames is not None:
        first, last = int(frames[0]), int(frames[1])
    elif collection is not None and importer.FRAME_COUNT_PROP in collection:
        first = int(collection[importer.FRAME_START_PROP])
        last = first + int(collection[importer.FRAME_COUNT_PROP]) - 1
    else:
        first, last = context.scene.frame_start, context.scene.frame_end
    return first, max(last, first + 1)


def _scene_orbit(collection, path: str) -> bool:
    """ORBIT of a one-image scene turns round the scene's target from the input camera."""
    return path == "ORBIT" and collection is not None and collection.get(importer.SUBJECT_PROP) == "scene"


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


def add_camera_rig(context, collection_or_bounds, path: str, frames=None, *, make_active: bool = True,
                   name: str | None = None, strength: float = 1.0) -> bpy.types.Object:
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
            collection; MoRe4D's "static"), and MoRe4D's paths from the input
            camera: DOLLY (in and back out along the view), CIRCLE (a small
            circle in the image plane), ARC (45 degrees round the subject,
            rising 10), ROTATE (+-30 degrees yaw about the subject); see
            ``backend.asset.camera_paths`` and the module doc for the framing.
        frames: (first, last) scene frames; default the asset's range (or the
            scene's, for bare bounds).
        make_active: make it the scene camera.
        name: object name; default "<collection> Rig <Path>".
        strength: amplitude of the MoRe4D paths (1 = defaults; 0 = still).

    Returns:
        The camera object, linked to the collection (or the scene's master
        collection), with ``tween4d_role`` = "rig" and one LINEAR key per
        frame (MATCH_INPUT: keys at the first and last frame).

    Raises:
        ValueError: unknown path, bad bounds, a bad strength, or MATCH_INPUT
        without a collection; AssetError: the collection has no stored camera.
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

    try:
        if collection is not None and (path == "MATCH_INPUT" or path in MORE4D_PATHS or _scene_orbit(collection, path)):
            # Same lens and shift as the input camera: frame 0 of these paths shows the input image.
            cam = importer.stored_camera(collection)
            s = importer.camera_settings(cam)
            data.lens, data.shift_x, data.shift_y = s["lens"], s["shift_x"], s["shift_y"]
            importer.apply_camera_render_settings(scene, cam)
        if path == "MATCH_INPUT":
            obj.matrix_world = Matrix(np.asarray(importer.stored_camera(collection).matrix_world, np.float64).tolist())
            for f in (first, last):
                obj.keyframe_insert("location", frame=f)
                obj.keyframe_insert("rotation_euler", frame=f)
        elif path in MORE4D_PATHS or _scene_orbit(collection, path):
            fov_h, fov_v = half_fovs(data, scene)
            base, target, depth_range = input_framing(collection_or_bounds, fov_h, fov_v)
            kind = MORE4D_PATHS.get(path, "orbit")
            if kind in ("arc", "rotate") and collection is not None and collection.get(importer.SUBJECT_PROP) == "scene":
                strength = strength * SCENE_ANGLE_SCALE
            _key_matrices(obj, first, camera_paths.camera_path(kind, base, target, last - first + 1,
                                                               strength=strength, depth_range=depth_range))
        else:
            lo, hi = bounds_of(collection_or_bounds)
            centre, radius = (lo + hi) / 2.0, float(np.linalg.norm(hi - lo) / 2.0)
            fov_h, fov_v = half_fovs(data, scene)
            count = last - first + 1
            positions, targets = path_poses(path, centre, radius, fov_h, fov_v, count)
            mats = np.repeat(np.eye(4)[None], count, axis=0)
            for i in range(count):
                mats[i, :3, :3] = look_at_matrix(positions[i], targets[i])
                mats[i, :3, 3] = positions[i]
            _key_matrices(obj, first, mats)
    except BaseException:
        bpy.data.objects.remove(obj)
        bpy.data.cameras.remove(data)
        raise
    set_interpolation(obj, "LINEAR")
    if make_active:
        scene.camera = obj
    return obj
