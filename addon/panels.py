"""View3D > Sidebar > Tween4D: inputs, Generate/progress/Cancel, errors, settings, engines, asset tools, recent results.

One Image mode adds the subject, the motion source with its settings (preset,
drag arrows + pins as a list, video prompt) and the camera rig added on
import; Image Editor > Sidebar > Tween4D holds the drag list and the buttons
that place drags on the image (``addon.operators.drags``).
"""

from __future__ import annotations

import os

import bpy
from bpy.types import Panel, UIList

from . import engines
from .job import output_root

PANEL_CATEGORY = "Tween4D"


def operator_available(idname: str) -> bool:
    """True when the operator ``idname`` ("tween4d.import_asset") is registered."""
    group, _, name = idname.partition(".")
    try:
        getattr(getattr(bpy.ops, group), name).get_rna_type()
    except (AttributeError, KeyError):
        return False
    return True


def _draw_image_input(layout, image_input, label: str) -> None:
    col = layout.column(align=True)
    row = col.row(align=True)
    row.label(text=label)
    row.prop(image_input, "source", expand=True)
    if image_input.source == "FILE":
        col.prop(image_input, "filepath", text="")
    else:
        col.template_ID(image_input, "image", open="image.open")


class TWEEN4D_UL_drags(UIList):
    """Drag arrows (start -> end) and pins of One Image mode, in input-image pixels (origin top-left)."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0, flt_flag=0):
        row = layout.row(align=True)
        if item.kind == "DRAG":
            row.label(text="", icon="FORWARD")
            row.prop(item, "start", text="")
            row.label(text="", icon="RIGHTARROW_THIN")
            row.prop(item, "end", text="")
        else:
            row.label(text="", icon="PINNED")
            row.prop(item, "start", text="")


def _draw_drag_list(layout, settings) -> None:
    row = layout.row()
    row.template_list("TWEEN4D_UL_drags", "", settings, "drags", settings, "drag_index", rows=3)
    col = row.column(align=True)
    op = col.operator("tween4d.drag_add", text="", icon="ADD")
    op.kind = "DRAG"
    col.operator("tween4d.drag_remove", text="", icon="REMOVE")
    col.separator()
    col.operator("tween4d.drags_clear", text="", icon="TRASH")


def _draw_motion(layout, settings) -> None:
    box = layout.box()
    box.prop(settings, "motion_source", expand=True)
    source = settings.motion_source
    if source == "preset":
        col = box.column(align=True)
        col.prop(settings, "motion_preset", text="")
        col.prop(settings, "motion_amplitude")
        col.prop(settings, "motion_period", text="Period (0 = clip)")
        col.prop(settings, "motion_direction")
        box.prop(settings, "motion_loop")
    elif source == "drag":
        _draw_drag_list(box, settings)
        box.operator("tween4d.edit_drags", icon="IMAGE_DATA")
        col = box.column(align=True)
        col.scale_y = 0.8
        col.label(text="Drag from a point to where it should go;")
        col.label(text="click to pin a point. Pixels, origin top-left.")
    else:
        box.prop(settings, "motion_prompt", text="", placeholder="What happens (video model)")


def _draw_one_image(layout, settings) -> None:
    _draw_image_input(layout, settings.image, "Image")
    layout.row().prop(settings, "subject", expand=True)
    if settings.subject != "object":
        row = layout.row(align=True)
        row.prop(settings, "horizon_auto", text="Auto Horizon", toggle=True)
        sub = row.row(align=True)
        sub.enabled = not settings.horizon_auto
        sub.prop(settings, "horizon", text="Horizon")
    _draw_motion(layout, settings)
    row = layout.row(align=True)
    row.prop(settings, "camera_path")
    if settings.camera_path not in ("NONE", "MATCH_INPUT", "ORBIT"):
        row.prop(settings, "camera_strength", text="")


def _draw_error(layout, job) -> None:
    box = layout.box()
    box.alert = True
    lines = [line for line in job.error_message.splitlines() if line.strip()][:10]
    header = box.row()
    header.label(text=lines[0] if lines else "Error", icon="ERROR")
    header.operator("tween4d.clear_error", text="", icon="X", emboss=False)
    col = box.column(align=True)
    col.scale_y = 0.8
    for line in lines[1:]:
        col.label(text=line)
    if job.error_hint:
        box.alert = False
        box.label(text=job.error_hint, icon="INFO")


class VIEW3D_PT_tween4d(Panel):
    """Two images in, an animated 3D asset out"""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = PANEL_CATEGORY
    bl_label = "Tween4D"

    @classmethod
    def poll(cls, context):
        return context.scene is not None and hasattr(context.scene, "tween4d")

    def draw(self, context):
        layout = self.layout
        settings = context.scene.tween4d
        job = context.window_manager.tween4d_job

        layout.prop(settings, "mode", expand=True)
        col = layout.column()
        col.enabled = not job.running
        if settings.mode == "ONE_IMAGE":
            _draw_one_image(col, settings)
        else:
            _draw_image_input(col, settings.start, "Start")
            _draw_image_input(col, settings.end, "End")

        if job.running:
            layout.progress(factor=job.progress, type="BAR", text=job.stage or "Starting...")
            if job.message:
                layout.label(text=job.message, icon="INFO")
            row = layout.row()
            row.enabled = not job.cancel_requested
            row.operator("tween4d.cancel", text="Cancel", icon="CANCEL")
        else:
            row = layout.row()
            row.scale_y = 1.5
            row.operator("tween4d.generate", text="Generate", icon="PLAY")

        if job.error_message:
            _draw_error(layout, job)


class VIEW3D_PT_tween4d_settings(Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = PANEL_CATEGORY
    bl_label = "Settings"
    bl_parent_id = "VIEW3D_PT_tween4d"

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        settings = context.scene.tween4d
        layout.enabled = not context.window_manager.tween4d_job.running
        col = layout.column(align=True)
        col.prop(settings, "frames")
        col.prop(settings, "fps")
        layout.prop(settings, "quality")
        layout.prop(settings, "seed")
        col = layout.column()
        col.prop(settings, "output_dir")
        col.prop(settings, "asset_name", placeholder="start image name + time")
        if settings.output_dir.startswith("//") and not bpy.data.filepath:
            col.label(text=f"Unsaved file: {output_root(settings)}", icon="INFO")
        col = layout.column(heading="Also Write")
        col.prop(settings, "preview")
        col.prop(settings, "frame_plys")
        layout.prop(settings, "import_result")


class VIEW3D_PT_tween4d_engines(Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = PANEL_CATEGORY
    bl_label = "Engines"
    bl_parent_id = "VIEW3D_PT_tween4d"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        layout.enabled = not context.window_manager.tween4d_job.running
        settings = context.scene.tween4d
        for stage in engines.PANEL_STAGES[settings.mode]:
            layout.prop(settings, f"engine_{stage}")


class VIEW3D_PT_tween4d_recent(Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = PANEL_CATEGORY
    bl_label = "Recent Results"
    bl_parent_id = "VIEW3D_PT_tween4d"

    def draw(self, context):
        layout = self.layout
        recent = context.scene.tween4d.recent
        if not recent:
            layout.label(text="No results yet.")
            return
        can_import = operator_available("tween4d.import_asset")
        for index, item in enumerate(recent):
            exists = os.path.isfile(os.path.join(item.path, "asset.json"))
            row = layout.row(align=True)
            sub = row.row(align=True)
            sub.alert = not exists
            detail = f"{item.frames} fr, {item.gaussians:,} G" if exists else "missing"
            sub.label(text=f"{item.name} ({detail})", icon="OUTLINER_OB_POINTCLOUD")
            if can_import:
                imp = row.row(align=True)
                imp.enabled = exists
                op = imp.operator("tween4d.import_asset", text="", icon="IMPORT")
                op.directory = item.path
            op = row.operator("wm.path_open", text="", icon="FILE_FOLDER")
            op.filepath = item.path
            op = row.operator("tween4d.remove_recent", text="", icon="X")
            op.index = index


class VIEW3D_PT_tween4d_asset(Panel):
    """What to do with an imported asset: camera rigs and game export."""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = PANEL_CATEGORY
    bl_label = "Animated Asset"
    bl_parent_id = "VIEW3D_PT_tween4d"

    def draw(self, context):
        from . import importer
        from .importer import asset_collection_of, find_asset_collections

        layout = self.layout
        if not find_asset_collections():
            layout.label(text="Generate or import an asset first.", icon="INFO")
            return
        coll = asset_collection_of(context)
        if coll is None:
            layout.label(text="Select an object of the asset to work on.", icon="RESTRICT_SELECT_OFF")
        else:
            layout.label(text=coll.name, icon="OUTLINER_COLLECTION")
        col = layout.column(align=True)
        col.enabled = coll is not None
        col.operator_menu_enum("tween4d.add_camera_rig", "path", text="Add Camera Rig", icon="VIEW_CAMERA")
        col.operator("tween4d.bake_export", text="Bake & Export glTF / FBX", icon="EXPORT")
        if coll is not None and coll.get(importer.FILLED_COUNT_PROP):
            current = importer.filled_display(coll)
            layout.label(text=f"Filled in: {coll[importer.FILLED_COUNT_PROP]:,} Gaussians")
            row = layout.row(align=True)
            for display, text in (("SHOW", "Show"), ("TINT", "Tint"), ("HIDE", "Hide")):
                op = row.operator("tween4d.filled_display", text=text, depress=current == display)
                op.display = display


class IMAGE_PT_tween4d_drags(Panel):
    """Image Editor > Sidebar > Tween4D: place One Image drag arrows and pins on the input image."""

    bl_space_type = "IMAGE_EDITOR"
    bl_region_type = "UI"
    bl_category = PANEL_CATEGORY
    bl_label = "Tween4D Drags"

    @classmethod
    def poll(cls, context):
        return context.scene is not None and hasattr(context.scene, "tween4d")

    def draw(self, context):
        from .operators.drags import is_input_image

        layout = self.layout
        settings = context.scene.tween4d
        if settings.mode != "ONE_IMAGE":
            layout.label(text="Switch Tween4D to One Image mode.", icon="INFO")
            layout.prop(settings, "mode", expand=True)
            return
        image = getattr(context.space_data, "image", None)
        if image is not None and not is_input_image(settings.image, image):
            layout.label(text="Not the One Image input:", icon="ERROR")
            layout.label(text="drags are measured on the input.")
        _draw_drag_list(layout, settings)
        col = layout.column(align=True)
        col.operator("tween4d.place_drags", icon="FORWARD")
        col.operator("tween4d.drags_from_annotations", icon="GREASEPENCIL")
        if settings.motion_source != "drag":
            layout.label(text="Motion source is not Drag.", icon="INFO")


classes = (TWEEN4D_UL_drags, VIEW3D_PT_tween4d, VIEW3D_PT_tween4d_settings, VIEW3D_PT_tween4d_engines,
           VIEW3D_PT_tween4d_asset, VIEW3D_PT_tween4d_recent, IMAGE_PT_tween4d_drags)
