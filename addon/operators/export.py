"""``tween4d.bake_export``: bake an imported asset to shape keys and write .glb / .fbx for game engines."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty
from bpy.types import Operator

from ...backend.asset import AssetError
from .. import bake_export, importer


def _collection(context, name: str):
    if name:
        coll = bpy.data.collections.get(name)
        return coll if coll is not None and coll.get(importer.ASSET_DIR_PROP) else None
    return importer.asset_collection_of(context)


def needs_imported_asset(cls, context) -> bool:
    """``poll`` of operators that work on an imported asset (greyed out, with the reason, when none)."""
    if not importer.find_asset_collections():
        cls.poll_message_set("Import a Tween4D asset first")
        return False
    return True


class TWEEN4D_OT_bake_export(Operator):
    """Bake the asset's motion to shape keys and export .glb (morph targets) and/or .fbx (blend shapes)"""

    bl_idname = "tween4d.bake_export"
    bl_label = "Bake & Export for Games"
    bl_description = (
        "Bake the imported asset's motion to shape keys on a copy (one per kept frame, linear blends between) "
        "and export it as glTF binary (.glb, morph-target animation) and/or FBX (blend shapes) "
        "for game engines; the Mesh Cache original stays as it is"
    )
    bl_options = {"REGISTER"}

    filepath: StringProperty(
        name="File Path",
        description="Where to write; .glb / .fbx is added per format",
        subtype="FILE_PATH",
    )
    filter_glob: StringProperty(default="*.glb;*.fbx", options={"HIDDEN"})
    collection_name: StringProperty(
        name="Asset",
        description="The imported asset's collection (empty: the active object's, or the only one)",
    )
    target: EnumProperty(
        name="Bake",
        description="What to bake",
        items=(
            ("POINTS", "Points", "The Gaussian centres as a point cloud (glTF POINTS, colours as COLOR_0)"),
            ("MESH", "Mesh", "The textured mesh (needs an asset generated with a mesh)"),
        ),
        default="POINTS",
    )
    formats: EnumProperty(
        name="Formats",
        description="File formats to write",
        items=(
            ("GLB", "glTF Binary (.glb)", "Morph targets with weight animation"),
            ("FBX", "FBX (.fbx)", "Blend shapes with animated weights"),
        ),
        options={"ENUM_FLAG"},
        default={"GLB"},
    )
    max_points: IntProperty(
        name="Max Points",
        description="Keep at most this many points (deterministic subset); 0 keeps all. Meshes are not thinned",
        default=20000,
        min=0,
    )
    frame_step: IntProperty(
        name="Frame Step",
        description="Keep every n-th frame (and the last); engines blend linearly in between",
        default=1,
        min=1,
        soft_max=10,
    )
    keep_baked: BoolProperty(
        name="Keep Baked Copy",
        description="Leave the shape-key copy in the scene after export",
        default=False,
    )

    poll = classmethod(needs_imported_asset)

    def invoke(self, context, event):
        if self.filepath:
            return self.execute(context)
        coll = _collection(context, self.collection_name)
        stem = bpy.path.clean_name(coll.name) if coll is not None else "tween4d"
        self.filepath = bpy.path.abspath(f"//{stem}") if bpy.data.filepath else stem
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        coll = _collection(context, self.collection_name)
        if coll is None:
            self.report({"ERROR"}, "Which asset? Select one of its objects or set the Asset field")
            return {"CANCELLED"}
        if not self.filepath:
            self.report({"ERROR"}, "Choose where to write the export")
            return {"CANCELLED"}
        try:
            paths = bake_export.bake_and_export(
                context,
                coll,
                self.filepath,
                target=self.target,
                formats=tuple(self.formats),
                max_points=self.max_points,
                frame_step=self.frame_step,
                keep_baked=self.keep_baked,
            )
        except (AssetError, ValueError) as exc:
            self.report({"ERROR"}, f"Not exported: {exc}")
            return {"CANCELLED"}
        except (RuntimeError, OSError) as exc:
            self.report({"ERROR"}, f"Export failed: {exc}. Check the folder is writable and has space")
            return {"CANCELLED"}
        self.report({"INFO"}, "Wrote " + ", ".join(str(p) for p in paths))
        return {"FINISHED"}


classes = (TWEEN4D_OT_bake_export,)
