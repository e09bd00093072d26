"""The engines the panel offers per pipeline stage: the one list the add-on keeps.

Each stage maps to ``(engine name, label, description)`` tuples; the first is
the default and must equal ``backend.settings.DEFAULT_ENGINES[stage]``, and
the names must be ``backend.settings.ENGINE_NAMES[stage]`` (a test checks
both). Engine names are sent to the backend as they are, in the job settings'
``engines``. The first engine of each stage is weight-free (CPU, no
download); the others are model engines that need their weights in the model
folder (Preferences > Download Models) and are best run on a CUDA GPU.
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
        ("video", "Video Diffusion (model)",
         "Generate the in-between video with Wan2.1 VACE 1.3B (first and last frame given), then track the shape "
         "through it. Needs the video-vace weights (about 30 GB) and a CUDA GPU with 8 GB or more"),
    ),
    "keyframes": (
        ("motion", "Motion Magnitude", "Pick keyframes where the accumulated 2D motion is largest"),
        ("features", "Feature Similarity (model)",
         "Pick keyframes where DINOv2 features of the in-between images change most. Needs the features weights"),
    ),
    "geometry": (
        ("inflate", "Silhouette Inflation",
         "Inflate the silhouette into a rounded 2.5D shape, textured front and back"),
        ("depth", "Monocular Depth (model)",
         "Shape the front with Depth Anything V2's depth, the back by inflation. Needs the depth weights"),
    ),
    "motion": (
        ("lift", "Lift 2D Motion", "Lift the 2D motion onto the 3D shape with a rigidity regulariser"),
        ("deformation", "Deformation Field (optimised)",
         "Fit per-segment deformation fields to the in-between frames through Gaussian-splatting renders "
         "(gsplat on CUDA; slow on a CPU)"),
    ),
}

STAGES = tuple(ENGINE_CHOICES)


def default_engine(stage: str) -> str:
    """The default engine name of ``stage``."""
    return ENGINE_CHOICES[stage][0][0]


def enum_items(stage: str) -> list[tuple[str, str, str]]:
    """``EnumProperty`` items of ``stage`` (identifier = engine name)."""
    return [tuple(item) for item in ENGINE_CHOICES[stage]]
