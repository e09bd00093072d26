"""Job settings and quality presets, shared by the CLI, the server and the add-on."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

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
        inflation: depth of the inflated 2.5D shape relative to round cross-sections (1 = a tube as deep
            as it is wide, a ball as deep as its diameter; the part-aware engine measures best at 1).
    """

    frames: int = 49
    fps: float = 24.0
    quality: str = "standard"
    seed: int = 0
    engines: dict = field(default_factory=dict)
    frame_plys: bool = False
    preview: bool = True
    device: str = "auto"
    inflation: float = 1.0

    def __post_init__(self):
        if self.quality not in QUALITIES:
            raise ValueError(f"quality must be one of {', '.join(QUALITIES)}, got {self.quality!r}")
        if not isinstance(self.frames, int) or self.frames < 2 or self.frames > 1000:
            raise ValueError(f"frames must be an integer from 2 to 1000, got {self.frames!r}")
        if not (0 < float(self.fps) <= 240):
            raise ValueError(f"fps must be in (0, 240], got {self.fps!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        unknown = set(self.engines) - set(DEFAULT_ENGINES)
        if unknown:
            raise ValueError(f"unknown stage(s) in engines: {', '.join(sorted(unknown))}")
        for stage, name in self.engines.items():
            if name not in ENGINE_NAMES[stage]:
                raise ValueError(f"unknown {stage} engine {name!r}; valid: {', '.join(ENGINE_NAMES[stage])}")
        self.fps = float(self.fps)

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
            ValueError: a value is out of range (the message names it).
        """
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
