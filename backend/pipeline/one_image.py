"""One image -> animated 3D asset: MoRe4D's recipe as a short list of stages.

MoRe4D (Zhang et al., arXiv 2512.05044): depth of the single image -> one 3D
point per pixel P_0 -> per-point trajectories P_t = P_0 + dP_t -> Gaussians
rendered from new camera paths. In our weight-free form:

1. ``load``        decode and validate the image, bring it to the working size
                   (draft 128, standard 256, high 512 px on the longer side)
2. ``foreground``  separate the object / the scene's foreground (the two-image engines)
3. ``layers``      object or scene; a scene's foreground parts become layers
4. ``depth``       objects: the two-image geometry (inflation or Depth Anything
                   V2 front); scenes: ground + backdrop + inflated layers
                   ("popup") or Depth Anything V2 ("depth"), a layered depth
5. ``points``      one Gaussian per pixel, scaled to its footprint, coloured from it
6. ``holes``       the hidden layers a moving camera reveals: behind every depth
                   discontinuity and around the image, colour and depth inpainted
7. ``animate``     the motion source: preset loops / textures, drag arrows (ARAP),
                   or a video model's tracks, lifted to 3D trajectories
8. ``write``       render the preview (the image next to the asset along a gentle
                   camera arc) and write the asset atomically

Each stage picks its engine by name from ``GenerateSettings.engines``
("foreground", "depth", "animate"; drags also use "keyframes" and "motion").
"""

from __future__ import annotations

import dataclasses
import platform
import threading
import time
from pathlib import Path
from typing import Optional

import numpy as np

from .. import PACKAGE_NAME, __version__
from ..asset import AnimatedMesh, Asset, AssetWriteError, Gaussians, check_target, write_asset
from ..errors import Cancelled, ForegroundError, OutputError
from ..inputs.keep import kept_input
from ..progress import EventSink, Progress, forward_logs
from ..settings import GenerateSettings
from ..single_settings import WORKING_SIDE, MotionSettings, validate_single_image
from .asset_records import jsonable, mask_png
from .memory import check_memory
from .two_image import GenerateResult

STAGES = (
    ("load", 2),
    ("foreground", 10),
    ("layers", 2),
    ("depth", 14),
    ("points", 8),
    ("holes", 8),
    ("animate", 26),
    ("write", 30),
)

#: The preview's camera path (``backend.asset.camera_paths``) and its strength: a gentle
#: arc about the subject's centre (16 degrees of azimuth, 3.5 degrees of rise at the end).
PREVIEW_PATH = "arc"
PREVIEW_STRENGTH = 0.35
#: Most frames the preview renders (evenly spaced over the clip).
PREVIEW_MAX_FRAMES = 17
#: Mesh edge length of the silhouette mesh, in working pixels, per quality.
MESH_EDGE_PX = {"draft": 4.0, "standard": 5.0, "high": 6.0}


def generate_one_image(
    image_path: str | Path,
    out_dir: str | Path,
    settings: Optional[GenerateSettings] = None,
    sink: Optional[EventSink] = None,
    cancel: Optional[threading.Event] = None,
) -> GenerateResult:
    """Generate an animated 3D asset from one image.

    Args:
        image_path: the image (an RGBA cut-out, an object on a plain
            background, or a scene photo).
        out_dir: the asset directory to write (replaced only on success).
        settings: job settings; ``subject``, ``motion`` and ``horizon`` are the
            single-image fields (``backend.single_settings``).
        sink: receives ``progress`` and ``log`` events (``backend.protocol``).
        cancel: set it to stop the job; nothing is written then.

    Returns:
        A ``GenerateResult`` (summary: frames, gaussians, filled, subject, timings_s, ...).

    Raises:
        ValueError: bad single-image settings (subject, horizon, motion).
        backend.errors.InputImageError: bad image, or drags/pins it cannot take (``input.drag``).
        backend.errors.ForegroundError: no object in an object image.
        backend.errors.OutputError: the asset cannot be written where asked.
        backend.errors.Cancelled: the job was cancelled.
    """
    settings = settings or GenerateSettings()
    motion = validate_single_image(settings)
    # the asset records the engine that ran: the motion source
    settings = dataclasses.replace(settings, engines={**settings.engines, "animate": motion.source})
    progress = Progress(STAGES, sink, cancel)
    with forward_logs(progress):
        return _run_stages(Path(image_path), Path(out_dir), settings, motion, progress)


def _run_stages(image_path: Path, out_dir: Path, settings: GenerateSettings, motion: MotionSettings,
                progress: Progress) -> GenerateResult:
    """The stages of ``generate_one_image`` in order (see the module docstring)."""
    from ..inputs import load_image
    from ..inputs.working import prepare_single
    from ..stages.animate import check_drags, subject_mask
    from ..stages.foreground import extract_foreground
    from ..stages.layers import split_layers

    t_start = time.perf_counter()
    side = WORKING_SIDE[settings.quality]
    with progress.stage("load"):
        try:
            check_target(out_dir)
        except AssetWriteError as exc:
            raise OutputError(exc.strerror or str(exc), "Choose another output folder.", code="output.target") from exc
        need = check_memory(settings)
        progress.log(f"estimated peak memory {need / 2**30:.2f} GiB", level="debug")
        image = load_image(image_path, max_side=4 * side)
        rgba = prepare_single(image, side)
        work_w, work_h = rgba.shape[1], rgba.shape[0]
        image_size = image.original_size
        progress.log(f"image {image_size[0]}x{image_size[1]}, working at {work_w}x{work_h}")

    with progress.stage("foreground"):
        fg, fg_error = None, None
        try:
            fg = extract_foreground(image, rgba, settings.engine("foreground"), progress)
        except ForegroundError as exc:
            fg_error = exc

    with progress.stage("layers"):
        layers = split_layers(image, rgba, fg, settings.subject, fg_error)
        progress.log(f"subject: {layers.subject}, {int(layers.labels.max())} layer(s), foreground by {layers.fg.method}")
        if motion.source == "drag":
            # refuse bad drags before any heavy work; nothing is written
            scale = (work_w / image_size[0], work_h / image_size[1])
            check_drags(np.array(motion.drags), np.array(motion.pins), image_size, subject_mask(layers), scale)

    rgb = np.ascontiguousarray(rgba[..., :3], dtype=np.float32)
    if layers.subject == "scene":  # a scene keeps its pixels as they are (RGBA composited by the loader)
        layers.fg.rgb = rgb
    with progress.stage("depth"):
        ldepth, surface = _depth_stage(layers, image_size, settings, progress)
        progress.log(f"depth ({ldepth.method}): {ldepth.near:.2f}..{ldepth.far:.2f} m")

    with progress.stage("points"):
        from ..stages.points import visible_grid

        grids = [visible_grid(rgb, layers, ldepth, surface)]

    with progress.stage("holes"):
        from ..stages.holes import hidden_grids
        from ..stages.points import pixel_gaussians

        hidden = hidden_grids(rgb, layers, ldepth, surface)
        points = pixel_gaussians(grids + hidden, ldepth.view.camera_work, image_size)
        progress.log(f"{points.count:,} Gaussians ({int(points.filled.sum()):,} filled in)")

    with progress.stage("animate"):
        pmotion = _animate_stage(points, rgb, layers, ldepth, motion, settings, image_size, progress)

    with progress.stage("write"):
        path = _write(out_dir, image, rgba, layers, ldepth, points, pmotion, motion, settings, progress)

    summary = {
        "mode": "single_image",
        "subject": layers.subject,
        "frames": int(settings.frames),
        "gaussians": int(points.count),
        "filled": int(points.filled.sum()),
        "keyframes": [int(k) for k in pmotion.keyframes],
        "timings_s": dict(progress.timings),
        "total_s": round(time.perf_counter() - t_start, 3),
        "diagnostics": jsonable(pmotion.diagnostics),
    }
    return GenerateResult(asset_dir=path, summary=summary)


def _depth_stage(layers, image_size, settings, progress):
    from ..geometry2d import build_silhouette_mesh
    from ..stages.depth import OBJECT_GEOMETRY, object_depth, scene_depth

    engine = settings.engine("depth")
    if layers.subject == "scene":
        return scene_depth(layers, image_size, settings, progress, engine), None
    from ..stages.geometry import build_geometry, input_view

    mesh = build_silhouette_mesh(layers.fg.mask, MESH_EDGE_PX[settings.quality])
    view = input_view(layers.fg.mask, image_size)
    geometry_engine = OBJECT_GEOMETRY[engine]
    shape = build_geometry(mesh, layers.fg, view, settings, progress, geometry_engine)
    return object_depth(shape, mesh, view, layers, f"{engine} ({geometry_engine} surface)")


def _animate_stage(points, rgb, layers, ldepth, motion, settings, image_size, progress):
    from ..stages.animate import (
        animate_preset,
        animate_video,
        drag_motion2d,
        follow_mesh_2d,
        follow_surface,
        normalised_motion,
    )
    from ..types import PointMotion

    frames = settings.frames
    cam = ldepth.view.camera_work
    if motion.source == "preset":
        pm = animate_preset(points, layers, ldepth, motion, frames, settings.seed)
    elif motion.source == "video":
        pm = animate_video(points, rgb, layers, ldepth, frames, settings, progress)
    else:
        sx, sy = cam.width / image_size[0], cam.height / image_size[1]
        drags = np.array(motion.drags, float).reshape(-1, 4) * [sx, sy, sx, sy]
        pins = np.array(motion.pins, float).reshape(-1, 2) * [sx, sy]
        if layers.subject == "object":
            from ..stages.keyframes import select_keyframes
            from ..stages.motion import run_motion

            mesh, shape = ldepth.mesh, ldepth.shape
            motion2d, _ = drag_motion2d(mesh, drags, pins, (cam.width, cam.height), frames)
            keyframes = select_keyframes(motion2d, mesh, settings, settings.engine("keyframes"))
            motion3d = run_motion(shape, mesh, motion2d, ldepth.view, keyframes, settings, progress,
                                  settings.engine("motion"))
            means = follow_surface(points, shape.faces, motion3d.vertices)
            pm = PointMotion(means=means, mesh_vertices=motion3d.vertices, keyframes=keyframes,
                             diagnostics=dict(motion2d.diagnostics))
        else:
            from ..geometry2d import build_silhouette_mesh

            mesh = build_silhouette_mesh(layers.labels > 0, MESH_EDGE_PX[settings.quality])
            motion2d, _ = drag_motion2d(mesh, drags, pins, (cam.width, cam.height), frames)
            movable = (points.layer > 0) & (points.filled == 0)
            means = follow_mesh_2d(points, movable, mesh, motion2d.trajectories, cam)
            pm = PointMotion(means=means, keyframes=[0, frames - 1], diagnostics=dict(motion2d.diagnostics))
    norm = normalised_motion(pm.means[:, points.filled == 0], cam)
    pm.diagnostics["more4d_motion_max"] = max(norm["max"])
    pm.diagnostics["more4d_motion_mean"] = float(np.mean(norm["mean"]))
    return pm


def _preview_frames(points, pmotion, ldepth, frames: int, progress) -> tuple[np.ndarray, np.ndarray]:
    """The asset along the gentle arc at the working size: (uint8 [P, H, W, 3], frame indices [P]).

    At most ``PREVIEW_MAX_FRAMES`` frames, evenly spaced (the preview plays them at a
    proportionally lower rate, so it lasts as long as the clip).
    """
    from ..asset.camera_paths import camera_path
    from ..render.surfel_splat import SurfelRenderer

    cam = ldepth.view.camera_work
    mats = camera_path(PREVIEW_PATH, cam.matrix_world, ldepth.centre, frames, strength=PREVIEW_STRENGTH)
    picks = np.unique(np.round(np.linspace(0, frames - 1, min(frames, PREVIEW_MAX_FRAMES))).astype(int))
    renderer = SurfelRenderer(points.colors, points.opacities, points.scales, points.rotations)
    out = []
    for i, t in enumerate(picks):
        view = cam.scaled(1.0, 1.0)
        view.matrix_world = mats[t]
        rgb, _ = renderer.render(pmotion.means[t], view)
        out.append((rgb * 255 + 0.5).astype(np.uint8))
        progress.update(0.6 * (i + 1) / len(picks))
    return np.stack(out), picks


def _write(out_dir, image, rgba, layers, ldepth, points, pmotion, motion, settings, progress) -> Path:
    from ..render.preview import write_preview

    frames = settings.frames
    gaussians = Gaussians(
        means=pmotion.means.astype(np.float32),
        colors=points.colors,
        opacities=points.opacities,
        scales=points.scales,
        rotations=points.rotations,
        source_pixel=points.source_pixel,
        filled=points.filled,
    )
    mesh_asset = None
    if ldepth.shape is not None and pmotion.mesh_vertices is not None:
        shape = ldepth.shape
        mesh_asset = AnimatedMesh(vertices=pmotion.mesh_vertices.astype(np.float32), faces=shape.faces.astype(np.int32),
                                  uv=shape.uv.astype(np.float32), texture=shape.texture)
    extra = {"inputs/image_mask.png": mask_png(layers.labels > 0)}
    if settings.preview:
        rendered, picks = _preview_frames(points, pmotion, ldepth, frames, progress)
        image_u8 = (np.clip(rgba, 0, 1) * 255 + 0.5).astype(np.uint8)  # RGBA: composited over white
        preview_fps = settings.fps * len(picks) / frames
        extra["preview.mp4"] = lambda p: write_preview(p, image_u8, None, rendered, preview_fps,
                                                       check=progress.check, labels=("image", "3D, camera arc"))
    h = ldepth.depth.shape[0]
    manifest = {
        "mode": "single_image",
        "subject": layers.subject,
        "fps": settings.fps,
        "keyframes": [int(k) for k in pmotion.keyframes],
        "camera": ldepth.view.camera_image.to_dict(),
        "settings": settings.to_dict(),
        "motion": motion.to_dict(),
        "scene": {
            "depth_range_m": [float(ldepth.near), float(ldepth.far)],
            "centre": [float(x) for x in ldepth.centre],
            "horizon": None if ldepth.horizon_v is None else float(ldepth.horizon_v / h),
            "layers": int((ldepth.labels if ldepth.labels is not None else layers.labels).max()),
            "filled_count": int(points.filled.sum()),
        },
        "engines": {
            "foreground": {"engine": layers.fg.method},
            "depth": _engine_record(settings.engine("depth"), ldepth.method),
            "animate": {"engine": motion.source, **({"preset": motion.preset} if motion.source == "preset" else {})},
        },
        "generator": {"name": PACKAGE_NAME, "version": __version__, "python": platform.python_version()},
        "timings_s": dict(progress.timings),
        "diagnostics": jsonable(pmotion.diagnostics),
    }
    asset = Asset(manifest=manifest, gaussians=gaussians, mesh=mesh_asset)
    try:
        return write_asset(out_dir, asset, inputs=[kept_input("image", image.path)], extra_files=extra,
                           frame_plys=settings.frame_plys, before_commit=progress.check, check=progress.check)
    except AssetWriteError as exc:
        raise OutputError(exc.strerror or str(exc), "Free some disk space or choose another output folder; "
                          "nothing was written.", code="output.write") from exc



def _engine_record(name: str, method: str) -> dict:
    record = {"engine": name, "method": method}
    if name == "depth":
        from ..models import get_spec

        spec = get_spec("depth")
        record.update(model=spec.repo_id, revision=spec.revision)
    return record



__all__ = ["STAGES", "Cancelled", "generate_one_image"]
