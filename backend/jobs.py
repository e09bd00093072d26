"""One entry point for all callers (CLI, server, batch): a job dict -> a pipeline run.

A job is the ``generate`` request of ``backend.protocol`` without its ``type``:
``{"mode": "two_image", "inputs": {"start": PATH, "end": PATH}, "output": DIR,
"settings": {...}}``.
"""

from __future__ import annotations

import threading
from typing import Optional

from .errors import Tween4DError
from .progress import EventSink
from .settings import GenerateSettings, SettingError

MODES = ("two_image",)

# Mode -> the keys its ``inputs`` object needs (each a non-empty path string).
MODE_INPUTS = {"two_image": ("start", "end")}

_HINT = "Fix the value in the panel (or the request) and try again."


class JobError(Tween4DError):
    """The job request itself is malformed (unknown mode, missing paths, bad settings).

    Attributes:
        field: the request field at fault (``"mode"``, ``"inputs"``, ``"settings.seed"``...), or "".
    """

    code = "job"

    def __init__(self, message: str, hint: str = _HINT, code: str | None = None, field: str = ""):
        super().__init__(message, hint, code)
        self.field = field


def _mode(job: dict) -> str:
    mode = job.get("mode", "two_image")
    if mode not in MODES:
        raise JobError(
            f"mode {str(mode)[:60]!r} is not available in this backend (available: {', '.join(MODES)})",
            "Use two-image mode; single-image mode is coming.", field="mode",
        )
    return mode


def _inputs(job: dict) -> dict:
    inputs = job.get("inputs")
    if not isinstance(inputs, dict):
        raise JobError("inputs must be an object of image paths", field="inputs")
    needed = MODE_INPUTS[_mode(job)]
    missing = [k for k in needed if not isinstance(inputs.get(k), str) or not inputs[k]]
    if missing:
        raise JobError(f"a {_mode(job).replace('_', '-')} job needs inputs.{' and inputs.'.join(needed)} as paths "
                       f"(missing or not a string: {', '.join(missing)})", "Pick the image(s).", field="inputs")
    return inputs


def _output(job: dict) -> str:
    output = job.get("output")
    if not isinstance(output, str) or not output:
        raise JobError("the job has no output folder (output must be a path string)", "Choose an output folder.",
                       field="output")
    return output


def _settings(job: dict) -> GenerateSettings:
    data = job.get("settings")
    try:
        return GenerateSettings.from_dict({} if data is None else data)
    except SettingError as exc:
        raise JobError(f"invalid settings: {exc}", field=f"settings.{exc.field}" if exc.field != "settings"
                       else "settings") from exc


JOB_VALIDATORS = {"mode": _mode, "inputs": _inputs, "output": _output, "settings": _settings}
"""Request field -> validator(job) returning the checked value; run in this order before any work.
Unknown request fields are ignored (the protocol's forward compatibility)."""


def validate_job(job: dict) -> dict:
    """Check every field of a job request before anything runs.

    Args:
        job: the ``generate`` request (its ``type`` and ``id`` are not looked at).

    Returns:
        ``{"mode": str, "inputs": dict, "output": str, "settings": GenerateSettings}``.

    Raises:
        JobError: the first bad field, with ``field`` set and a message naming it.
    """
    if not isinstance(job, dict):
        raise JobError("a job must be a JSON object")
    return {name: check(job) for name, check in JOB_VALIDATORS.items()}


def run_job(job: dict, sink: Optional[EventSink] = None, cancel: Optional[threading.Event] = None):
    """Validate a job request (``validate_job``) and run its pipeline.

    Returns:
        ``backend.pipeline.GenerateResult``.

    Raises:
        JobError: malformed request. Everything the pipeline raises.
    """
    checked = validate_job(job)
    inputs, settings = checked["inputs"], checked["settings"]
    from .pipeline import generate_two_image

    return generate_two_image(inputs["start"], inputs["end"], checked["output"], settings, sink=sink, cancel=cancel)
