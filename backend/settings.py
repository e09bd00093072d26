"""Job settings and quality presets, shared by the CLI, the server and the add-on."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable

QUALITIES = ("draft", "standard", "high")


@dataclass(frozen=True)
class QualityPreset:
    """What a quality level means in numbers.

    Attributes:
        working_max_side: the longer image side (pixels) the pipeline works at.
        gaussian_count: Gaussians sampled on the surface (target, +-5%).
        mesh_edge_px: target edge length of the silhouette mesh, in working pixels.
        registration_iterations: outer iterations of the ARAP registration.
    """

    working_max_side: int
    gaussian_count: int
    mesh_edge_px: float
    registration_iterations: int


PRESETS = {
    "draft": QualityPreset(working_max_side=256, gaussian_count=8_000, mesh_edge_px=8.0, registration_iterations=12),
    "standard": QualityPreset(working_max_side=512, gaussian_count=30_000, mesh_edge_px=10.0, registration_iterations=20),
    "high": QualityPreset(working_max_side=1024, gaussian_count=100_000, mesh_edge_px=12.0, registration_iterations=30),
}

# Stage -> engine names; the first is the weight-free default (CPU, no weights),
# the others are model engines (weights from the Hugging Face cache, GPU advised).
ENGINE_NAMES = {
    "foreground": ("auto", "alpha", "key", "u2netp"),
    "inbetween": ("arap", "video"),
    "keyframes": ("motion", "features"),
    "geometry": ("inflate", "depth"),
    "motion": ("lift", "deformation"),
}

# Stage -> default engine name.
DEFAULT_ENGINES = {
    "foreground": "auto",
    "inbetween": "arap",
    "keyframes": "motion",
    "geometry": "inflate",
    "motion": "lift",
}


class SettingError(ValueError):
    """One setting has a wrong type or is out of range.

    Attributes:
        field: the setting's name (e.g. ``"seed"``).
    """

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


Validator = Callable[[str, Any], Any]
"""A setting validator: (name, value) -> the normalised value; raises ``SettingError``."""


def integer_in(lo: int, hi: int) -> Validator:
    """An integer (not a bool, not a float) in ``lo..hi`` inclusive."""

    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise SettingError(name, f"{name} must be an integer from {lo} to {hi:,}, got {_shown(value)}")
        return value

    return check


def number_in(lo: float, hi: float, *, lo_open: bool = False) -> Validator:
    """A finite int or float (not a bool or a string) in ``[lo, hi]`` (``(lo, hi]`` when ``lo_open``); returns a float."""

    def check(name: str, value: Any) -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and (lo < value if lo_open else lo <= value) and value <= hi
        if not ok:
            span = f"{'(' if lo_open else '['}{lo:g}, {hi:g}]"
            raise SettingError(name, f"{name} must be a finite number in {span}, got {_shown(value)}")
        return float(value)

    return check


def one_of(choices: tuple) -> Validator:
    """One of ``choices`` (compared with ==, so only hashable JSON scalars match)."""

    def check(name: str, value: Any) -> Any:
        if not isinstance(value, str) or value not in choices:
            raise SettingError(name, f"{name} must be one of {', '.join(choices)}, got {_shown(value)}")
        return value

    return check


def boolean(name: str, value: Any) -> bool:
    """A JSON boolean (true/false), not 0/1 or a string."""
    if not isinstance(value, bool):
        raise SettingError(name, f"{name} must be true or false, got {_shown(value)}")
    return value


def engines_map(name: str, value: Any) -> dict:
    """An object mapping known stage names to one of that stage's engine names."""
    if not isinstance(value, dict):
        raise SettingError(name, f"{name} must be an object mapping stage to engine name, got {_shown(value)}")
    unknown = [str(k) for k in value if k not in DEFAULT_ENGINES]
    if unknown:
        raise SettingError(name, f"unknown stage(s) in {name}: {', '.join(sorted(unknown))}")
    for stage, engine in value.items():
        if not isinstance(engine, str) or engine not in ENGINE_NAMES[stage]:
            raise SettingError(name, f"unknown {stage} engine {_shown(engine)} in {name}; valid: "
                                     f"{', '.join(ENGINE_NAMES[stage])}")
    return dict(value)


SEED_MAX = 2**32 - 1
"""Largest seed: numpy's legacy seeding and most samplers take 32-bit unsigned seeds."""

INFLATION_RANGE = (0.05, 3.0)
"""Inflation bounds: 1 is a round cross-section; below 0.05 the shape is a flat card, above 3 a tall spike."""

SETTING_VALIDATORS: dict[str, Validator] = {
    "frames": integer_in(2, 1000),
    "fps": number_in(0.0, 240.0, lo_open=True),
    "quality": one_of(QUALITIES),
    "seed": integer_in(0, SEED_MAX),
    "engines": engines_map,
    "frame_plys": boolean,
    "preview": boolean,
    "device": one_of(("auto", "cpu", "cuda")),
    "inflation": number_in(*INFLATION_RANGE),
}
"""One validator per ``GenerateSettings`` field: add a field here together with the dataclass field."""


@dataclass
class GenerateSettings:
    """Settings of one generation job.

    Attributes:
        frames: number of output frames T (>= 2).
        fps: playback rate, frames per second.
        quality: "draft" | "standard" | "high" (see ``PRESETS``).
        seed: random seed; the same inputs and seed give the same asset.
        engines: stage -> engine name; missing stages use ``DEFAULT_ENGINES``.
        frame_plys: also write one 3DGS PLY per frame.
        preview: write preview.mp4 (or .gif when no ffmpeg is available).
        device: "auto" | "cpu" | "cuda" for model engines.
        inflation: depth of the inflated 2.5D shape relative to a round cross-section.
    """

    frames: int = 49
    fps: float = 24.0
    quality: str = "standard"
    seed: int = 0
    engines: dict = field(default_factory=dict)
    frame_plys: bool = False
    preview: bool = True
    device: str = "auto"
    inflation: float = 0.7

    def __post_init__(self):
        """Validate and normalise every field with ``SETTING_VALIDATORS``.

        Raises:
            SettingError: (a ``ValueError``) naming the first bad field.
        """
        for f in fields(self):
            validator = SETTING_VALIDATORS.get(f.name)
            if validator is not None:
                setattr(self, f.name, validator(f.name, getattr(self, f.name)))

    @property
    def preset(self) -> QualityPreset:
        return PRESETS[self.quality]

    def engine(self, stage: str) -> str:
        """The engine name chosen for ``stage``."""
        return self.engines.get(stage, DEFAULT_ENGINES[stage])

    def to_dict(self) -> dict:
        d = asdict(self)
        d["engines"] = {s: self.engine(s) for s in DEFAULT_ENGINES}
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "GenerateSettings":
        """Build from a JSON object, ignoring unknown keys.

        Raises:
            SettingError: ``data`` is not an object, or a value has a wrong
                type or is out of range (the message names it).
        """
        if not isinstance(data, dict):
            raise SettingError("settings", f"settings must be an object, got {_shown(data)}")
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
