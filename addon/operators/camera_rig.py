"""``tween4d.add_camera_rig``: a keyframed camera framed on the imported asset."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, StringProperty
from bpy.types import Operator

from ...backend.asset import AssetError
from .. import camera_rigs, importer
from .export import needs_imported_asset

PATH_ITEMS = (
    ("ORBIT", "Orbit", "One full turn around the asset, slightly from above"),
    ("DOLLY_IN", "Dolly In", "Move toward the asset from the input-view side"),
    ("DOLLY_OUT", "Dolly Out", "Move away from the asset on the input-view side"),
    ("PAN", "Pan", "Turn in place across the asset, keeping it in frame"),
    ("CRANE", "Crane", "Rise from eye level to above, tilting down to the asset"),
    ("MATCH_INPUT", "Match Input", "The camera that saw the input image(s), static (MoRe4D 'static')"),
    ("DOLLY", "Dolly In-Out", "From the input view: move toward the subject and back out (MoRe4D 'dolly')"),
    ("CIRCLE", "Circle", "From the input view: a small circle in the image plane, looking at the subject"),
    ("ARC", "Arc", "From the input view: swing 45 degrees round the subject, rising a little (MoRe4D 'surrounding')"),
    ("ROTATE", "Rotate +-30", "From the input view: yaw 30 degrees each way about the subject and back"),
)


class TWEEN4D_OT_add_camera_rig(Operator):
    """Add a camera keyframed over the asset's frame range along a path, framed on the asset"""

    bl_idname = "tween4d.add_camera_rig"
    bl_label = "Add Camera Rig"
    bl_description = (
        "Add a camera that moves along a path (orbit, dolly, pan, crane, the input view, or MoRe4D's dolly, "
        "circle, arc and rotate from the input view) over the asset's "
        "frame range, framed so the whole asset stays in view, and make it the scene camera"
    )
    bl_options = {"REGISTER", "UNDO"}

    path: EnumProperty(name="Path", description="How the camera moves", items=PATH_ITEMS, default="ORBIT")
    collection_name: StringProperty(
        name="Asset",
        description="The imported asset's collection (empty: the active object's, or the only one)",
    )
    make_active: BoolProperty(name="Make Scene Camera", description="Render through the new camera", default=True)
    strength: FloatProperty(name="Strength", description="How far the input-view paths (dolly, circle, arc, "
                            "rotate) move; 1 = MoRe4D-like defaults", default=1.0, min=0.0, max=3.0)

    poll = classmethod(needs_imported_asset)

    def execute(self, context):
        if self.collection_name:
            coll = bpy.data.collections.get(self.collection_name)
        else:
            coll = importer.asset_collection_of(context)
        if coll is None or not coll.get(importer.ASSET_DIR_PROP):
            self.report({"ERROR"}, "Which asset? Select one of its objects or set the Asset field")
            return {"CANCELLED"}
        try:
            obj = camera_rigs.add_camera_rig(context, coll, self.path, make_active=self.make_active,
                                             strength=self.strength)
        except (AssetError, ValueError) as exc:
            self.report({"ERROR"}, f"No rig added: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Added {obj.name}")
        return {"FINISHED"}


classes = (TWEEN4D_OT_add_camera_rig,)
