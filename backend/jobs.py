"""One entry point for all callers (CLI, server, batch): a job dict -> a pipeline run.

A job is the ``generate`` request of ``backend.protocol`` without its ``type``:
``{"mode": "two_image", "inputs": {"start": PATH, "end": PATH}, "output": DIR,
"settings": {...}}`` or ``{"mode": "single_image", "inputs": {"image": PATH}, ...}``
(single-image settings: ``backend.single_settings``).
"""

from __future__ import annotations

import threading
from typing import Optional

from .errors import Tween4DError
from .progress import EventSink
from .settings import GenerateSettings

MODES = ("two_image", "single_image")


class JobError(Tween4DError):
    """The job request itself is malformed (unknown mode, missing paths, bad settings)."""

    code = "job"


def run_job(job: dict, sink: Optional[EventSink] = None, cancel: Optional[threading.Event] = None):
    """Validate a job request and run its pipeline.

    Returns:
        ``backend.pipeline.GenerateResult``.

    Raises:
        JobError: malformed request. Everything the pipeline raises.
    """
    mode = job.get("mode", "two_image")
    if mode not in MODES:
        raise JobError(
            f"mode {mode!r} is not available in this backend (available: {', '.join(MODES)})",
            "Use two_image or single_image.",
        )
    inputs = job.get("inputs") or {}
    output = job.get("output")
    if mode == "single_image":
        return _run_single(inputs, output, job.get("settings") or {}, sink, cancel)
    if not inputs.get("start") or not inputs.get("end"):
        raise JobError("a two-image job needs inputs.start and inputs.end", "Pick both images.")
    if not output:
        raise JobError("the job has no output folder", "Choose an output folder.")
    try:
        settings = GenerateSettings.from_dict(job.get("settings") or {})
    except (TypeError, ValueError) as exc:
        raise JobError(f"invalid settings: {exc}", "Fix the value in the panel and try again.") from exc
    from .pipeline import generate_two_image

    return generate_two_image(inputs["start"], inputs["end"], output, settings, sink=sink, cancel=cancel)


def _run_single(inputs: dict, output, settings_data: dict, sink, cancel):
    """A ``single_image`` job: validate ``inputs.image``, the output and the settings, then run the pipeline."""
    if not inputs.get("image"):
        raise JobError("a single-image job needs inputs.image", "Pick an image.")
    if not output:
        raise JobError("the job has no output folder", "Choose an output folder.")
    from .single_settings import validate_single_image

    try:
        settings = GenerateSettings.from_dict(settings_data)
        validate_single_image(settings)
    except (TypeError, ValueError) as exc:
        raise JobError(f"invalid settings: {exc}", "Fix the value in the panel and try again.") from exc
    from .pipeline import generate_one_image

    return generate_one_image(inputs["image"], output, settings, sink=sink, cancel=cancel)
