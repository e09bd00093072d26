"""The engines the panel offers per pipeline stage: the one list the add-on keeps.

Each stage maps to ``(engine name, label, description)`` tuples; the first is
the default and must equal ``backend.settings.DEFAULT_ENGINES[stage]`` (a
test checks it). Engine names are sent to the backend as they are, in the job
settings' ``engines``. Only weight-free CPU engines are listed; model engines
are added here when their backend engines land.
"""

from __future__ import annotations

STAGE_LABELS = {
    "foreground": "Foreground",
    "inbetween": "In-betweening",
    "keyframes": "Keyframes",
    "geometry": "Geometry",
    "motion": "Motion",
}

ENGINE_CHOICES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "foreground": (
        ("auto", "Auto", "Use the image's alpha channel if it has one, else key out a plain background"),
        ("alpha", "Alpha Channel", "Use the image's alpha channel as the object mask"),
        ("key", "Plain Background", "Key out a plain, evenly coloured background"),
        ("u2netp", "U2-Net-P Matting",
         "Small salient-object matting network run on the CPU (bundled, no download)"),
    ),
    "inbetween": (
        ("arap", "ARAP Interpolation",
         "Match the two silhouettes and interpolate the shape as-rigid-as-possible; texture follows the flow"),
    ),
    "keyframes": (
        ("motion", "Motion Magnitude", "Pick keyframes where the accumulated 2D motion is largest"),
    ),
    "geometry": (
        ("inflate", "Silhouette Inflation",
         "Inflate the silhouette into a rounded 2.5D shape, textured front and back"),
    ),
    "motion": (
        ("lift", "Lift 2D Motion", "Lift the 2D motion onto the 3D shape with a rigidity regulariser"),
    ),
}

STAGES = tuple(ENGINE_CHOICES)


def default_engine(stage: str) -> str:
    """The default engine name of ``stage``."""
    return ENGINE_CHOICES[stage][0][0]


def enum_items(stage: str) -> list[tuple[str, str, str]]:
    """``EnumProperty`` items of ``stage`` (identifier = engine name)."""
    return [tuple(item) for item in ENGINE_CHOICES[stage]]
