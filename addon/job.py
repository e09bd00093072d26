"""Build a backend ``generate`` job from the scene settings, checking every input first."""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass

import bpy

from ..backend.single_settings import parse_motion
from . import drags, engines, paths
from .image_inputs import InputProblem, resolve_image_input


@dataclass
class PreparedJob:
    """A validated job and the temporary files made for it.

    Attributes:
        request: the job dict for ``BackendClient.generate`` (``backend.jobs`` format).
        output: the asset directory the backend will write (absolute).
        temp_dir: folder of temporary input copies; remove it with :meth:`cleanup`.
    """

    request: dict
    output: str
    temp_dir: str

    def cleanup(self) -> None:
        """Remove the temporary input copies."""
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _safe_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return name[:64] or "asset"


def output_root(settings) -> str:
    """The absolute folder receiving asset folders.

    ``//`` paths are relative to the .blend file; while the file is unsaved they
    resolve inside the extension's user folder (``outputs``).
    """
    raw = settings.output_dir.strip() or "//tween4d/"
    if raw.startswith("//") and not bpy.data.filepath:
        return os.path.normpath(os.path.join(paths.default_output_root(), raw[2:]))
    return os.path.normpath(bpy.path.abspath(raw))


# File names that say nothing about the object: the folder name is used instead.
_GENERIC_STEMS = {"start", "end", "first", "last", "image", "img", "input", "frame", "0", "1"}


def input_label(image_input) -> str:
    """A short name for an input: the image data-block's name, or the file's name (its folder's if generic)."""
    if image_input.source == "IMAGE" and image_input.image is not None:
        return os.path.splitext(image_input.image.name)[0]
    path = bpy.path.abspath(image_input.filepath.strip())
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem.lower() in _GENERIC_STEMS:
        stem = os.path.basename(os.path.dirname(os.path.normpath(path))) or stem
    return stem


def asset_dir_for(settings, label: str) -> str:
    """The asset folder of the next job: the asset name, or ``label`` (the start image's name) plus the local time."""
    name = settings.asset_name.strip()
    if not name:
        name = f"{label}-{time.strftime('%Y%m%d-%H%M%S')}"
    return os.path.join(output_root(settings), _safe_name(name))


def quality_of(settings, prefs) -> str:
    """The job quality: the scene's, or the preferences' default."""
    return prefs.default_quality if settings.quality == "DEFAULT" else settings.quality


def prepare_job(context, prefs) -> PreparedJob:
    """Validate the scene's Tween4D settings and build the job.

    Two Images: ``{"mode": "two_image", "inputs": {"start", "end"}, ...}``.
    One Image: ``{"mode": "single_image", "inputs": {"image"}, ...}`` with the
    settings' ``subject``, ``horizon`` and ``motion`` (:func:`motion_request`),
    as ``backend.single_settings`` reads them.

    Raises:
        InputProblem: a missing/unreadable input, an unusable output folder, or
            motion settings that cannot work (the message says what to fix).
    """
    settings = context.scene.tween4d
    one_image = settings.mode == "ONE_IMAGE"
    motion = motion_request(settings) if one_image else None
    temp_dir = tempfile.mkdtemp(prefix="tween4d-inputs-")
    try:
        if one_image:
            inputs = {"image": resolve_image_input(settings.image, "input", temp_dir)}
            label = input_label(settings.image)
        else:
            inputs = {"start": resolve_image_input(settings.start, "start", temp_dir),
                      "end": resolve_image_input(settings.end, "end", temp_dir)}
            label = input_label(settings.start)
        output = asset_dir_for(settings, label)
        _check_output(output)
    except BaseException:
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    stages = engines.ONE_IMAGE_STAGES if one_image else engines.TWO_IMAGE_STAGES
    chosen = {stage: getattr(settings, f"engine_{stage}") for stage in stages}
    job_settings = {
        "frames": int(settings.frames),
        "fps": float(settings.fps),
        "quality": quality_of(settings, prefs),
        "seed": int(settings.seed),
        "engines": chosen,
        "frame_plys": bool(settings.frame_plys),
        "preview": bool(settings.preview),
        "device": prefs.device,
    }
    if one_image:
        chosen["animate"] = motion["source"]
        job_settings.update({
            "subject": settings.subject,
            "horizon": None if settings.horizon_auto else float(settings.horizon),
            "motion": motion,
        })
    request = {
        "mode": "single_image" if one_image else "two_image",
        "inputs": inputs,
        "output": output,
        "settings": job_settings,
    }
    return PreparedJob(request=request, output=output, temp_dir=temp_dir)


def motion_request(settings) -> dict:
    """The job's ``motion`` object from the panel (``backend.single_settings`` format).

    * preset: ``{"source": "preset", "preset", "amplitude", "period_frames"
      (None = one cycle per clip), "direction_deg" (degrees counter-clockwise
      from image right), "loop"}``;
    * drag: ``{"source": "drag", "drags": [[u0, v0, u1, v1], ...], "pins": [[u, v], ...]}``
      in input-image pixels (origin top-left, v down);
    * video: ``{"source": "video", "prompt"}``.

    The result is checked with ``backend.single_settings.parse_motion`` (the
    backend's own rules, standard library only), so a zero-length arrow or a
    pin on an arrow's start is reported before a job starts.

    Raises:
        InputProblem: a drag motion without drag arrows, or motion settings the backend would refuse.
    """
    motion = _motion_dict(settings)
    try:
        parse_motion(motion, int(settings.frames))
    except ValueError as exc:
        hint = ("Edit or remove that entry in the drag list." if motion["source"] == "drag"
                else "Change the motion settings.")
        raise InputProblem(f"The motion settings cannot work: {exc}.", hint) from exc
    return motion


def _motion_dict(settings) -> dict:
    source = settings.motion_source
    if source == "drag":
        drag_list, pins = drags.motion_lists(settings.drags)
        if not drag_list:
            raise InputProblem("The drag motion has no drag arrows.",
                               "Open the image in the Image Editor and use Place Drags (drag from a point to where "
                               "it should go), or draw annotation arrows and use From Annotations.")
        return {"source": "drag", "drags": drag_list, "pins": pins}
    if source == "video":
        return {"source": "video", "prompt": settings.motion_prompt.strip()}
    return {
        "source": "preset",
        "preset": settings.motion_preset,
        "amplitude": float(settings.motion_amplitude),
        "period_frames": int(settings.motion_period) if settings.motion_period >= 2 else None,
        "direction_deg": math.degrees(settings.motion_direction),
        "loop": bool(settings.motion_loop),
    }


def _check_output(output: str) -> None:
    if os.path.isfile(output):
        raise InputProblem(f"The output path is a file: {output}", "Choose another output folder or asset name.")
    if os.path.isdir(output) and os.listdir(output) and not os.path.isfile(os.path.join(output, "asset.json")):
        raise InputProblem(f"The output folder exists and is not a Tween4D asset: {output}",
                           "Choose another asset name; existing folders are only replaced if they hold an asset.")
    parent = os.path.dirname(output)
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise InputProblem(f"Cannot create the output folder {parent}: {exc.strerror or exc}",
                           "Choose an output folder you can write to.") from exc
    if not os.access(parent, os.W_OK):
        raise InputProblem(f"The output folder is not writable: {parent}", "Choose an output folder you can write to.")
