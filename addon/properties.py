"""Scene settings (saved with the .blend) and job/install state (per session, on the window manager).

* ``Scene.tween4d`` (:class:`TWEEN4D_PG_settings`): inputs, frames, fps,
  quality, seed, engines per stage, output folder, recent results; in One
  Image mode also the subject, the motion source and its settings (preset,
  drag arrows and pins, video prompt) and the camera rig added on import.
* ``WindowManager.tween4d_job`` (:class:`TWEEN4D_PG_job`): the running
  generation's progress, stage and last error. Transient state lives on the
  window manager, not the scene, so a saved file never claims a job is running.
* ``WindowManager.tween4d_install`` (:class:`TWEEN4D_PG_install`): the
  dependency installer's progress and the backend check result.
"""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    FloatVectorProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)
from bpy.types import PropertyGroup

from . import engines
from .drags import KIND_DRAG, KIND_PIN

RECENT_LIMIT = 8

QUALITY_ITEMS = [
    ("draft", "Draft", "Fast preview: 256 px working size, about 8k Gaussians"),
    ("standard", "Standard", "Balanced: 512 px working size, about 30k Gaussians"),
    ("high", "High", "Slow: 1024 px working size, about 100k Gaussians"),
]


class TWEEN4D_PG_image_input(PropertyGroup):
    """One input image: a file on disk or an image already in Blender."""

    source: EnumProperty(
        name="Source",
        items=[
            ("FILE", "File", "An image file on disk", "FILE_IMAGE", 0),
            ("IMAGE", "Blender Image", "An image data-block of this file (packed and generated images are saved "
                                       "to a temporary file for the backend)", "IMAGE_DATA", 1),
        ],
        default="FILE",
    )
    filepath: StringProperty(
        name="Image File",
        description="Path of the image file (PNG, JPEG, WebP; an alpha channel is used as the object mask)",
        subtype="FILE_PATH",
    )
    image: PointerProperty(name="Image", type=bpy.types.Image, description="Image data-block to use")


class TWEEN4D_PG_drag(PropertyGroup):
    """One drag arrow (this point goes there) or pin (this point stays), in input-image pixels.

    Pixels: origin at the image's top-left corner, u right, v down (the job's
    ``motion.drags`` / ``motion.pins``). A pin uses ``start`` only.
    """

    kind: EnumProperty(
        name="Kind",
        items=[
            (KIND_DRAG, "Drag", "Move the image point at Start to End", "FORWARD", 0),
            (KIND_PIN, "Pin", "Keep the image point at Start where it is", "PINNED", 1),
        ],
        default=KIND_DRAG,
    )
    start: FloatVectorProperty(name="Start", description="Image pixel (u right, v down) the arrow starts at, "
                               "or the pinned pixel", size=2, precision=1)
    end: FloatVectorProperty(name="End", description="Image pixel (u right, v down) the point should move to",
                             size=2, precision=1)


CAMERA_PATH_ITEMS = [
    ("NONE", "None", "Add no camera rig (the input camera is still imported)"),
    ("MATCH_INPUT", "Static", "The input camera, still (MoRe4D 'static')"),
    ("DOLLY", "Dolly In-Out", "Move toward the subject and back out along the view (MoRe4D 'dolly')"),
    ("CIRCLE", "Circle", "A small circle in the image plane, looking at the subject (MoRe4D 'circle')"),
    ("ARC", "Arc", "Swing round the subject by 45 degrees, rising a little (MoRe4D 'surrounding')"),
    ("ROTATE", "Rotate +-30", "Yaw 30 degrees each way about the subject and back (MoRe4D 'rotation')"),
    ("ORBIT", "Orbit", "One full turn around the asset (objects; scenes show their unseen back)"),
]


class TWEEN4D_PG_recent_result(PropertyGroup):
    """One generated asset directory, newest first in ``Scene.tween4d.recent``."""

    # ``name`` (from PropertyGroup) is the label shown in the list.
    path: StringProperty(name="Asset Folder", subtype="DIR_PATH", description="The asset directory")
    frames: IntProperty(name="Frames", min=0)
    gaussians: IntProperty(name="Gaussians", min=0)
    created: StringProperty(name="Created", description="Local time the asset was written")


class TWEEN4D_PG_settings(PropertyGroup):
    """Generation settings of a scene (``Scene.tween4d``)."""

    mode: EnumProperty(
        name="Mode",
        items=[
            ("TWO_IMAGE", "Two Images", "Start and end state of the object: the motion in between is generated"),
            ("ONE_IMAGE", "One Image", "A single image (an object or a whole scene) lifted to 3D and animated by a "
                                       "motion preset, drag arrows or a video model"),
        ],
        default="TWO_IMAGE",
    )
    start: PointerProperty(type=TWEEN4D_PG_image_input, name="Start Image")
    end: PointerProperty(type=TWEEN4D_PG_image_input, name="End Image")
    image: PointerProperty(type=TWEEN4D_PG_image_input, name="Image", description="The one input image")
    subject: EnumProperty(name="Subject", items=list(engines.SUBJECTS), default="auto",
                          description="Is the image one object or a whole scene")
    horizon_auto: BoolProperty(name="Auto Horizon", default=True,
                               description="Estimate the horizon of a scene from the image")
    horizon: FloatProperty(name="Horizon", description="Horizon row of a scene, as a fraction of the image height "
                           "from the top (0 = top edge, 1 = bottom edge)", default=0.5, min=0.0, max=1.0,
                           subtype="FACTOR")
    motion_source: EnumProperty(name="Motion", items=engines.enum_items("animate"),
                                default=engines.default_engine("animate"), description="What makes the image move")
    motion_preset: EnumProperty(name="Preset", items=list(engines.MOTION_PRESETS), default="sway",
                                description="The named motion")
    motion_amplitude: FloatProperty(name="Amplitude", description="Motion scale: 1 is the preset's gentle "
                                    "default, 0 still", default=1.0, min=0.0, max=5.0, soft_max=3.0)
    motion_period: IntProperty(name="Period", description="Frames per motion cycle; 0 = one cycle over the clip",
                               default=0, min=0, max=10000, soft_max=240)
    motion_direction: FloatProperty(name="Direction", description="Direction of the motion, counter-clockwise "
                                    "from image right", default=0.0, subtype="ANGLE", unit="ROTATION")
    motion_loop: BoolProperty(name="Seamless Loop", default=True,
                              description="The clip loops: the frame after the last would equal the first")
    motion_prompt: StringProperty(name="Prompt", description="What should happen in the image (video model)")
    drags: CollectionProperty(type=TWEEN4D_PG_drag, name="Drags")
    drag_index: IntProperty(name="Active Drag", default=0, min=0)
    camera_path: EnumProperty(name="Camera", items=CAMERA_PATH_ITEMS, default="ARC",
                              description="Camera rig added when the asset is imported")
    camera_strength: FloatProperty(name="Camera Strength", description="How far the camera path moves "
                                   "(1 = MoRe4D-like defaults)", default=1.0, min=0.0, max=3.0)
    frames: IntProperty(name="Frames", description="Number of frames of the animation (two images: first = start "
                        "image, last = end image; one image: first = the image)", default=49, min=2, max=1000,
                        soft_max=241)
    fps: FloatProperty(name="FPS", description="Playback rate of the generated animation, frames per second",
                       default=24.0, min=1.0, max=240.0, precision=2)
    quality: EnumProperty(
        name="Quality",
        items=[("DEFAULT", "Preferences Default", "Use the default quality set in the add-on preferences")]
        + QUALITY_ITEMS,
        default="DEFAULT",
    )
    seed: IntProperty(name="Seed", description="Random seed: the same images, settings and seed give the same asset",
                      default=0, min=0)
    output_dir: StringProperty(
        name="Output Folder",
        description="Folder that receives the asset folders. '//' is the folder of the .blend file; "
                    "while the file is unsaved, relative paths go to the add-on's user folder",
        default="//tween4d/", subtype="DIR_PATH",
    )
    asset_name: StringProperty(
        name="Asset Name",
        description="Name of the asset folder; empty: the start image's name and the time",
    )
    frame_plys: BoolProperty(name="Per-Frame PLY", description="Also write one standard 3DGS PLY per frame",
                             default=False)
    preview: BoolProperty(name="Preview Video", description="Also render a preview video of the asset",
                          default=True)
    import_result: BoolProperty(name="Import Result", description="Import the asset into the scene when it is ready",
                                default=True)
    recent: CollectionProperty(type=TWEEN4D_PG_recent_result, name="Recent Results")
    recent_index: IntProperty(name="Active Recent Result", default=0, min=0)


# One engine enum per stage, generated from engines.ENGINE_CHOICES (the single list).
for _stage in engines.STAGES:
    TWEEN4D_PG_settings.__annotations__[f"engine_{_stage}"] = EnumProperty(
        name=engines.STAGE_LABELS[_stage],
        description=f"Engine of the {engines.STAGE_LABELS[_stage].lower()} stage",
        items=engines.enum_items(_stage),
        default=engines.default_engine(_stage),
    )
del _stage


class TWEEN4D_PG_job(PropertyGroup):
    """State of the running (or last) generation (``WindowManager.tween4d_job``)."""

    running: BoolProperty(name="Running", default=False)
    cancel_requested: BoolProperty(name="Cancel Requested", default=False)
    job_id: StringProperty(name="Job")
    progress: FloatProperty(name="Progress", min=0.0, max=1.0, subtype="FACTOR")
    stage: StringProperty(name="Stage")
    message: StringProperty(name="Message", description="Last progress or log message")
    error_code: StringProperty(name="Error Code")
    error_message: StringProperty(name="Error")
    error_hint: StringProperty(name="What To Do")
    last_asset: StringProperty(name="Last Asset", subtype="DIR_PATH")


class TWEEN4D_PG_install(PropertyGroup):
    """Dependency installer and backend check state (``WindowManager.tween4d_install``)."""

    running: BoolProperty(name="Installing", default=False)
    cancel_requested: BoolProperty(name="Cancel Requested", default=False)
    progress: FloatProperty(name="Progress", min=0.0, max=1.0, subtype="FACTOR")
    step: StringProperty(name="Step")
    status: StringProperty(name="Status", description="Result of the last install or check")
    status_ok: BoolProperty(name="Status OK", default=False)
    checking: BoolProperty(name="Checking", default=False)


classes = (
    TWEEN4D_PG_image_input,
    TWEEN4D_PG_drag,
    TWEEN4D_PG_recent_result,
    TWEEN4D_PG_settings,
    TWEEN4D_PG_job,
    TWEEN4D_PG_install,
)


def register_properties() -> None:
    """Attach the property groups to Scene and WindowManager (after the classes are registered)."""
    bpy.types.Scene.tween4d = PointerProperty(type=TWEEN4D_PG_settings, name="Tween4D")
    bpy.types.WindowManager.tween4d_job = PointerProperty(type=TWEEN4D_PG_job, name="Tween4D Job")
    bpy.types.WindowManager.tween4d_install = PointerProperty(type=TWEEN4D_PG_install, name="Tween4D Install")


def unregister_properties() -> None:
    """Remove what :func:`register_properties` attached."""
    for owner, name in ((bpy.types.Scene, "tween4d"), (bpy.types.WindowManager, "tween4d_job"),
                        (bpy.types.WindowManager, "tween4d_install")):
        if hasattr(owner, name):
            delattr(owner, name)


def settings_of(context) -> TWEEN4D_PG_settings:
    """The scene's Tween4D settings."""
    return context.scene.tween4d


def add_recent(settings: TWEEN4D_PG_settings, path: str, frames: int = 0, gaussians: int = 0,
               created: str = "") -> TWEEN4D_PG_recent_result:
    """Put ``path`` first in the recent results (removing an older entry for it), keeping RECENT_LIMIT entries."""
    import os

    recent = settings.recent
    for i in reversed(range(len(recent))):
        if os.path.normpath(recent[i].path) == os.path.normpath(path):
            recent.remove(i)
    item = recent.add()
    item.name = os.path.basename(os.path.normpath(path))
    item.path = path
    item.frames = int(frames)
    item.gaussians = int(gaussians)
    item.created = created
    recent.move(len(recent) - 1, 0)
    while len(recent) > RECENT_LIMIT:
        recent.remove(len(recent) - 1)
    settings.recent_index = 0
    return recent[0]
