"""The engines the panel offers per pipeline stage: the one list the add-on keeps.

Each stage maps to ``(engine name, label, description)`` tuples; the first is
the default and must equal ``backend.settings.DEFAULT_ENGINES[stage]``, and
the names must be ``backend.settings.ENGINE_NAMES[stage]`` (a test checks
both). Engine names are sent to the backend as they are, in the job settings'
``engines``. The first engine of each stage is weight-free (CPU, no
download); the others are model engines that need their weights in the model
folder (Preferences > Download Models) and are best run on a CUDA GPU.

Two-image jobs use ``TWO_IMAGE_STAGES``, one-image jobs ``ONE_IMAGE_STAGES``
(``backend.pipeline.one_image``). The one-image ``animate`` engine is not a
separate choice in the panel: it is the motion source (preset, drag, video).
"""

from __future__ import annotations

STAGE_LABELS = {
    "foreground": "Foreground",
    "inbetween": "In-betweening",
    "keyframes": "Keyframes",
    "geometry": "Geometry",
    "motion": "Motion",
    "depth": "Depth",
    "animate": "Motion Source",
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
    # one-image stages
    "depth": (
        ("popup", "Photo Pop-up",
         "Objects: inflate the silhouette. Scenes: ground plane, backdrop and inflated foreground layers "
         "from the horizon (Automatic Photo Pop-up)"),
        ("depth", "Monocular Depth (model)",
         "Depth Anything V2's depth, scaled to the scene and aligned to the layers. Needs the depth weights"),
    ),
    "animate": (
        ("preset", "Preset", "A named loop on the lifted shape (sway, breathe, turn, bob, nod, wave) or a "
                             "scene motion texture (ripple, drift)"),
        ("drag", "Drag", "Drag arrows (this point goes there) and pins: the shape is deformed "
                         "as-rigidly-as-possible to reach them and animated from the image to that state"),
        ("video", "Video (model)", "Image-to-video diffusion, tracked and lifted to 3D trajectories. "
                                   "Needs a video model's weights and a large CUDA GPU"),
    ),
}

STAGES = tuple(ENGINE_CHOICES)
TWO_IMAGE_STAGES = ("foreground", "inbetween", "keyframes", "geometry", "motion")
ONE_IMAGE_STAGES = ("foreground", "depth", "animate")
#: Stages the Engines sub-panel shows per mode (the motion source stands for ``animate``).
PANEL_STAGES = {"TWO_IMAGE": TWO_IMAGE_STAGES, "ONE_IMAGE": ("foreground", "depth")}


def default_engine(stage: str) -> str:
    """The default engine name of ``stage``."""
    return ENGINE_CHOICES[stage][0][0]


def enum_items(stage: str) -> list[tuple[str, str, str]]:
    """``EnumProperty`` items of ``stage`` (identifier = engine name)."""
    return [tuple(item) for item in ENGINE_CHOICES[stage]]


#: One-image motion presets (``backend.single_settings.PRESETS``, same order; a test keeps them equal).
MOTION_PRESETS: tuple[tuple[str, str, str], ...] = (
    ("sway", "Sway", "Bend back and forth about the base: plants, trees, a standing figure"),
    ("breathe", "Breathe", "Swell and shrink gently about the centre"),
    ("turn", "Turn", "Yaw back and forth about the vertical axis"),
    ("bob", "Bob", "Move up and down, as if floating"),
    ("nod", "Nod", "Tip forward and back about a horizontal axis"),
    ("wave", "Wave", "A wave travelling along the object's long axis: flags, tails, cloth"),
    ("ripple", "Ripple (scene)", "Scene motion texture: water ripples in the lower layers"),
    ("drift", "Drift (scene)", "Scene motion texture: clouds and background drifting sideways"),
)

#: Subjects of a one-image job (``backend.single_settings.SUBJECTS``).
SUBJECTS: tuple[tuple[str, str, str], ...] = (
    ("auto", "Auto", "Decide from the image: a cut-out or plain background is an object, a full photo a scene"),
    ("object", "Object", "One object: centred, about 1 m tall, back filled in"),
    ("scene", "Scene", "A whole scene: ground, backdrop and layers at their depths; the camera stays at the input view"),
)
