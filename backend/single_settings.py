"""Single-image job settings: the subject, the motion source and its parameters, validated.

Standard library only (the add-on may import it to check a request before
sending it). ``GenerateSettings`` carries the raw fields (``subject``,
``motion``, ``horizon``); ``validate_single_image`` turns them into a
``MotionSettings`` or raises ``ValueError`` with a sentence naming the field.

The ``motion`` dict (JSON-lines protocol and ``asset.json['motion']``)::

    {"source": "preset", "preset": "sway", "amplitude": 1.0, "period_frames": null,
     "direction_deg": 0.0, "loop": true}
    {"source": "drag", "drags": [[u0, v0, u1, v1], ...], "pins": [[u, v], ...]}
    {"source": "video", "prompt": "..."}

Drag and pin coordinates are pixels of the input image as given: origin at
the top-left corner, u right, v down, floats. Checks that need the image
(inside it, on the subject) happen in the pipeline, before anything is
written (``backend.stages.animate.drag.check_drags``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

SUBJECTS = ("auto", "object", "scene")
MOTION_SOURCES = ("preset", "drag", "video")
#: Presets on the lifted shape (objects, a scene's foreground layers) ...
OBJECT_PRESETS = ("sway", "breathe", "turn", "bob", "nod", "wave")
#: ... and stochastic motion textures (a scene's background; Chuang et al. 2005).
TEXTURE_PRESETS = ("ripple", "drift")
PRESETS = OBJECT_PRESETS + TEXTURE_PRESETS
DEFAULT_PRESET = "sway"
MAX_AMPLITUDE = 5.0
MAX_DRAGS = 32
MAX_PINS = 64
#: Single-image working size (longer side, pixels) per quality: one Gaussian per pixel at this size.
WORKING_SIDE = {"draft": 128, "standard": 256, "high": 512}


@dataclass
class MotionSettings:
    """A validated motion request.

    Attributes:
        source: "preset" | "drag" | "video".
        preset: preset name (``PRESETS``), for source "preset".
        amplitude: motion scale, 1.0 = the preset's gentle default (0..``MAX_AMPLITUDE``).
        period_frames: frames per cycle, None = the clip length (one cycle).
        direction_deg: direction of the motion, degrees counter-clockwise from
            image right in the ground plane / image plane (preset-specific).
        loop: the clip loops seamlessly: frame T (one past the last) would equal frame 0.
        drags: [[u0, v0, u1, v1], ...] input-image pixels (source "drag").
        pins: [[u, v], ...] input-image pixels that must not move (source "drag").
        prompt: text prompt for the video model (source "video").
    """

    source: str = "preset"
    preset: str = DEFAULT_PRESET
    amplitude: float = 1.0
    period_frames: int | None = None
    direction_deg: float = 0.0
    loop: bool = True
    drags: list = field(default_factory=list)
    pins: list = field(default_factory=list)
    prompt: str = ""

    def to_dict(self) -> dict:
        """The JSON form recorded in ``asset.json['motion']`` (only the fields of its source)."""
        if self.source == "drag":
            return {"source": "drag", "drags": [list(map(float, d)) for d in self.drags],
                    "pins": [list(map(float, p)) for p in self.pins]}
        if self.source == "video":
            return {"source": "video", "prompt": self.prompt}
        return {"source": "preset", "preset": self.preset, "amplitude": self.amplitude,
                "period_frames": self.period_frames, "direction_deg": self.direction_deg, "loop": self.loop}


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise ValueError(f"motion.{name} must be a finite number, got {value!r}")
    return float(value)


def _points(value, name: str, width: int, limit: int) -> list:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"motion.{name} must be a list of [{', '.join(['u', 'v'] * (width // 2))}] lists")
    if len(value) > limit:
        raise ValueError(f"motion.{name} has {len(value)} entries; at most {limit} are allowed")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, (list, tuple)) or len(item) != width:
            raise ValueError(f"motion.{name}[{i}] must have {width} numbers, got {item!r}")
        out.append([_number(x, f"{name}[{i}]") for x in item])
    return out


def parse_motion(data, frames: int = 49) -> MotionSettings:
    """Validate a ``motion`` dict (module docstring) into ``MotionSettings``.

    Args:
        data: the dict, or None for the default preset (gentle sway, looping).
        frames: the clip's frame count (bounds ``period_frames``).

    Raises:
        ValueError: unknown source or preset, out-of-range amplitude or period,
            a malformed drag/pin list, zero-length drags, a drag job without
            drags, conflicting pins (the message says which entry).
    """
    if data is None:
        return MotionSettings()
    if not isinstance(data, dict):
        raise ValueError(f"motion must be an object like {{\"source\": \"preset\", \"preset\": \"sway\"}}, got {data!r}")
    source = data.get("source", "drag" if data.get("drags") else "preset")
    if source not in MOTION_SOURCES:
        raise ValueError(f"motion.source must be one of {', '.join(MOTION_SOURCES)}, got {source!r}")
    known = {"preset": {"source", "preset", "amplitude", "period_frames", "direction_deg", "loop"},
             "drag": {"source", "drags", "pins"}, "video": {"source", "prompt"}}[source]
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"motion.{unknown[0]} does not apply to the {source!r} source (its fields: "
                         f"{', '.join(sorted(known))})")
    if source == "video":
        prompt = data.get("prompt", "")
        if not isinstance(prompt, str):
            raise ValueError(f"motion.prompt must be text, got {prompt!r}")
        return MotionSettings(source="video", prompt=prompt)
    if source == "drag":
        drags = _points(data.get("drags", []), "drags", 4, MAX_DRAGS)
        pins = _points(data.get("pins", []), "pins", 2, MAX_PINS)
        check_drag_geometry(drags, pins)
        return MotionSettings(source="drag", drags=drags, pins=pins)
    preset = data.get("preset", DEFAULT_PRESET)
    if preset not in PRESETS:
        raise ValueError(f"motion.preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    amplitude = _number(data.get("amplitude", 1.0), "amplitude")
    if not 0.0 <= amplitude <= MAX_AMPLITUDE:
        raise ValueError(f"motion.amplitude must be in 0..{MAX_AMPLITUDE:g} (1 = gentle), got {amplitude:g}")
    period = data.get("period_frames")
    if period is not None:
        if isinstance(period, bool) or not isinstance(period, int) or not 2 <= period <= 10 * max(frames, 2):
            raise ValueError(f"motion.period_frames must be an integer from 2 to {10 * max(frames, 2)} "
                             f"(or null for one cycle per clip), got {period!r}")
    direction = _number(data.get("direction_deg", 0.0), "direction_deg")
    loop = data.get("loop", True)
    if not isinstance(loop, bool):
        raise ValueError(f"motion.loop must be true or false, got {loop!r}")
    return MotionSettings(source="preset", preset=preset, amplitude=amplitude, period_frames=period,
                          direction_deg=direction, loop=loop)


def check_drag_geometry(drags: list, pins: list, min_length: float = 0.5, min_separation: float = 2.0) -> None:
    """Checks on drag arrows and pins that need no image.

    Args:
        drags: [[u0, v0, u1, v1], ...] pixels.
        pins: [[u, v], ...] pixels.
        min_length: a drag shorter than this (pixels) is a zero-length drag.
        min_separation: two handles closer than this (pixels) at the start conflict.

    Raises:
        ValueError: no drags, a zero-length drag, two drags from one point,
            or a pin on a drag's start point (it cannot both stay and move).
    """
    if not drags:
        raise ValueError("a drag motion needs at least one drag arrow [u0, v0, u1, v1]")
    for i, (u0, v0, u1, v1) in enumerate(drags):
        if math.hypot(u1 - u0, v1 - v0) < min_length:
            raise ValueError(f"motion.drags[{i}] has zero length: its end ({u1:g}, {v1:g}) is its start; "
                             "drag the point to where it should go, or pin it instead")
    for i in range(len(drags)):
        for j in range(i + 1, len(drags)):
            if math.hypot(drags[i][0] - drags[j][0], drags[i][1] - drags[j][1]) < min_separation:
                raise ValueError(f"motion.drags[{i}] and motion.drags[{j}] start at the same point but go to "
                                 "different places; keep one of them")
    for k, (u, v) in enumerate(pins):
        for i, d in enumerate(drags):
            if math.hypot(u - d[0], v - d[1]) < min_separation:
                raise ValueError(f"motion.pins[{k}] ({u:g}, {v:g}) is on the start of motion.drags[{i}]: a point "
                                 "cannot be pinned and dragged; remove the pin or the drag")


def validate_single_image(settings) -> MotionSettings:
    """Check a ``GenerateSettings``' single-image fields and return its motion.

    Args:
        settings: ``backend.settings.GenerateSettings``.

    Returns:
        ``MotionSettings``; its source agrees with ``settings.engines['animate']`` when that is
        set to a model or drag engine (the default "preset" yields to ``motion.source``).

    Raises:
        ValueError: bad ``subject``, ``horizon`` or ``motion`` (see ``parse_motion``), or an
            ``animate`` engine that contradicts ``motion.source``.
    """
    if settings.subject not in SUBJECTS:
        raise ValueError(f"subject must be one of {', '.join(SUBJECTS)}, got {settings.subject!r}")
    h = settings.horizon
    if h is not None and (isinstance(h, bool) or not isinstance(h, (int, float)) or not 0.0 <= float(h) <= 1.0):
        raise ValueError(f"horizon must be a fraction of the image height from the top (0..1) or null, got {h!r}")
    data = settings.motion
    engine = settings.engines.get("animate")
    if data is None and engine and engine != "preset":
        if engine == "drag":
            raise ValueError("the drag engine needs motion.drags: give drag arrows (--drag u0,v0,u1,v1)")
        data = {"source": engine}
    motion = parse_motion(data, settings.frames)
    # "preset" is the default engine, which an explicit motion source overrides
    if engine and engine != "preset" and engine != motion.source:
        raise ValueError(f"engines.animate is {engine!r} but motion.source is {motion.source!r}; use one")
    return motion


__all__ = ["DEFAULT_PRESET", "MOTION_SOURCES", "MotionSettings", "OBJECT_PRESETS", "PRESETS", "SUBJECTS",
           "TEXTURE_PRESETS", "WORKING_SIDE", "check_drag_geometry", "parse_motion", "validate_single_image"]
