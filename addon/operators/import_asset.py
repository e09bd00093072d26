"""``tween4d.import_asset``: bring a Tween4D asset folder into the scene (also File > Import)."""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy.types import Operator

from ...backend.asset import MANIFEST, AssetError
from .. import importer


class TWEEN4D_OT_import_asset(Operator):
    """Import a Tween4D asset folder: animated Gaussians (Mesh Cache + splats), its mesh and the input camera"""

    bl_idname = "tween4d.import_asset"
    bl_label = "Import Tween4D Asset"
    bl_description = (
        "Import a Tween4D asset folder as one collection: the Gaussians as animated splats "
        "(streamed from disk, no per-frame Python), the textured mesh if any, and the input-view camera. "
        "Sets the scene's frame rate and range; importing the same folder again replaces it"
    )
    bl_options = {"REGISTER", "UNDO"}

    directory: StringProperty(
        name="Asset Folder",
        description="Folder holding asset.json (a Tween4D asset)",
        subtype="DIR_PATH",
    )
    filepath: StringProperty(
        name="File",
        description="asset.json inside the asset folder (alternative to choosing the folder)",
        subtype="FILE_PATH",
        options={"HIDDEN", "SKIP_SAVE"},
    )
    filter_glob: StringProperty(default=MANIFEST, options={"HIDDEN"})
    filter_folder: bpy.props.BoolProperty(default=True, options={"HIDDEN"})
    make_active_camera: EnumProperty(
        name="Scene Camera",
        description="Whether the input-view camera becomes the scene camera (and sets the render resolution)",
        items=(
            ("AUTO", "If None", "Only when the scene has no camera, or its camera came from a Tween4D import"),
            ("ALWAYS", "Always", "Always look through the input view"),
            ("NEVER", "Never", "Keep the scene camera and render resolution"),
        ),
        default="AUTO",
    )

    def _asset_dir(self) -> str:
        path = bpy.path.abspath(self.filepath) if self.filepath else ""
        if path and Path(path).name == MANIFEST:
            return str(Path(path).parent)
        return bpy.path.abspath(self.directory)

    def invoke(self, context, event):
        if self.directory or self.filepath:  # called from the panel with a folder: no file browser
            return self.execute(context)
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        asset_dir = self._asset_dir()
        if not asset_dir:
            self.report({"ERROR"}, "Choose a Tween4D asset folder (the folder holding asset.json)")
            return {"CANCELLED"}
        try:
            coll = importer.import_asset(context, asset_dir, make_active_camera=self.make_active_camera)
        except AssetError as exc:
            self.report({"ERROR"}, f"Not imported: {exc}. Choose a complete asset folder, or generate it again")
            return {"CANCELLED"}
        except OSError as exc:
            self.report({"ERROR"}, f"Not imported: cannot read {asset_dir}: {exc}")
            return {"CANCELLED"}
        n = coll.get(importer.GAUSSIAN_COUNT_PROP, 0)
        t = coll.get(importer.FRAME_COUNT_PROP, 0)
        self.report({"INFO"}, f"Imported {coll.name}: {n} Gaussians, {t} frames")
        return {"FINISHED"}


def menu_func_import(self, context):
    """File > Import entry (the add-on's register() appends it to TOPBAR_MT_file_import)."""
    self.layout.operator(TWEEN4D_OT_import_asset.bl_idname, text="Tween4D Asset (folder)")


class TWEEN4D_OT_filled_display(Operator):
    """Show, tint or hide the Gaussians a one-image asset filled in behind what the image shows"""

    bl_idname = "tween4d.filled_display"
    bl_label = "Filled-In Gaussians"
    bl_options = {"REGISTER", "UNDO"}

    display: EnumProperty(
        name="Display",
        items=(
            ("SHOW", "Show", "Draw them like the others"),
            ("TINT", "Tint", "Draw them tinted magenta, to see what was invented"),
            ("HIDE", "Hide", "Do not draw them: only what the image shows"),
        ),
        default="SHOW",
    )
    collection_name: StringProperty(name="Asset", description="The asset's collection (empty: the active one)")

    @classmethod
    def poll(cls, context):
        if not importer.find_asset_collections():
            cls.poll_message_set("Import a Tween4D asset first")
            return False
        return True

    def execute(self, context):
        coll = bpy.data.collections.get(self.collection_name) if self.collection_name \
            else importer.asset_collection_of(context)
        if coll is None:
            self.report({"ERROR"}, "Which asset? Select one of its objects")
            return {"CANCELLED"}
        if not coll.get(importer.FILLED_COUNT_PROP):
            self.report({"WARNING"}, f"{coll.name} has no filled-in Gaussians")
            return {"CANCELLED"}
        importer.set_filled_display(coll, self.display)
        return {"FINISHED"}


classes = (TWEEN4D_OT_import_asset, TWEEN4D_OT_filled_display)
