"""Drag arrows and pins for One Image mode, placed in the Image Editor.

* ``tween4d.place_drags`` (modal, Image Editor): press on the image where a
  point is and release where it should go: one drag arrow; click without
  moving: a pin. The arrow being dragged follows the mouse; the drags and
  pins of the list are drawn over the input image whenever the motion source
  is Drag (an Image Editor overlay).
  Backspace removes the last entry; Enter, Esc or right-click finish. Middle
  mouse, the wheel and trackpad gestures still pan and zoom.
* ``tween4d.edit_drags`` (the 3D view sidebar's button): shows the input
  image in an open Image Editor and starts ``place_drags`` there.
* ``tween4d.drags_from_annotations`` (Image Editor): each annotation stroke
  drawn on the image becomes an arrow from its first to its last point, or a
  pin when it is a dot (Blender's Annotate tool, placement "Image" or "View").
* ``tween4d.drag_add`` / ``drag_remove`` / ``drags_clear``: list editing.

Coordinates are input-image pixels, origin top-left, v down (``addon.drags``).
"""

from __future__ import annotations

import os

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty
from bpy.types import Operator

from .. import drags

STATUS_TEXT = ("Tween4D drags: drag from a point to where it should go | click: pin | Backspace: remove last | "
               "Enter / Esc / right-click: done | middle mouse, wheel: pan, zoom")
_NAVIGATION = {"MIDDLEMOUSE", "WHEELUPMOUSE", "WHEELDOWNMOUSE", "WHEELINMOUSE", "WHEELOUTMOUSE", "TRACKPADPAN",
               "TRACKPADZOOM", "NDOF_MOTION", "NUMPAD_PLUS", "NUMPAD_MINUS", "HOME", "NUMPAD_PERIOD"}


def window_region(area):
    """The main (WINDOW) region of ``area``, where the image is drawn; None if it has none."""
    return next((r for r in area.regions if r.type == "WINDOW"), None)


def input_image_datablock(image_input, load: bool = True):
    """The One Image input as a Blender image (a FILE input is loaded, reusing an already loaded one).

    Returns:
        The ``bpy.types.Image``, or None when nothing is chosen (or the file
        does not exist and ``load`` is on).
    """
    if image_input.source == "IMAGE":
        return image_input.image
    raw = image_input.filepath.strip()
    if not raw:
        return None
    path = os.path.normpath(bpy.path.abspath(raw))
    for image in bpy.data.images:
        if image.source == "FILE" and image.filepath and \
                os.path.normpath(bpy.path.abspath(image.filepath, library=image.library)) == path:
            return image
    if not load or not os.path.isfile(path):
        return None
    return bpy.data.images.load(path, check_existing=True)


def is_input_image(image_input, image) -> bool:
    """True when ``image`` is what the One Image input names (the same data-block or the same file)."""
    if image is None:
        return False
    if image_input.source == "IMAGE":
        return image_input.image == image
    raw = image_input.filepath.strip()
    if not raw or image.source != "FILE" or not image.filepath:
        return False
    return os.path.normpath(bpy.path.abspath(raw)) == \
        os.path.normpath(bpy.path.abspath(image.filepath, library=image.library))


def bind_input_image(settings, image) -> str:
    """Make sure the drags refer to ``image``: adopt it as the input when none is chosen.

    Returns:
        "" when ``image`` is (now) the input, else an error sentence.
    """
    current = settings.image
    if is_input_image(current, image):
        return ""
    if (current.source == "IMAGE" and current.image is None) or (current.source == "FILE" and not current.filepath.strip()):
        current.source = "IMAGE"
        current.image = image
        return ""
    return (f"The Image Editor shows '{image.name}', not the One Image input; drags are measured on the input "
            "image. Use Place Drags in the Tween4D sidebar of the 3D view, or pick this image as the input")


def apply_gesture(items, press_region, release_region, press_px, release_px, size) -> str:
    """Add the pin or drag a press + release made to the list (the modal operator's list handling).

    Args:
        items: ``Scene.tween4d.drags``.
        press_region, release_region: (x, y) main-region pixels.
        press_px, release_px: the same points in image pixels.
        size: (width, height) of the image in pixels.

    Returns:
        "" on success, else why nothing was added (the press was off the
        image, or the list is full). A release off the image is clamped to
        its edge: a drag may point to the border, not beyond it.
    """
    w, h = size
    if not drags.inside_image(press_px[0], press_px[1], w, h):
        return "Start a drag or place a pin on the image"
    end = (min(max(release_px[0], 0.0), float(w)), min(max(release_px[1], 0.0), float(h)))
    kind, coords = drags.classify_gesture(press_region, release_region, press_px, end)
    try:
        drags.add_entry(items, kind, coords)
    except ValueError as exc:
        return str(exc)
    return ""


def _draw_segments(groups) -> None:
    """Draw (segments, RGBA colour) groups of region-pixel line segments (POST_PIXEL handlers)."""
    import gpu
    from gpu_extras.batch import batch_for_shader

    shader = gpu.shader.from_builtin("UNIFORM_COLOR")
    gpu.state.blend_set("ALPHA")
    gpu.state.line_width_set(2.0)
    for segments, color in groups:
        if segments:
            batch = batch_for_shader(shader, "LINES", {"pos": segments})
            shader.uniform_float("color", color)
            batch.draw(shader)
    gpu.state.line_width_set(1.0)
    gpu.state.blend_set("NONE")


DRAG_COLOR = (1.0, 0.55, 0.1, 1.0)
PIN_COLOR = (0.2, 0.8, 1.0, 1.0)
LIVE_COLOR = (1.0, 1.0, 1.0, 0.8)


def _draw_overlay() -> None:
    """Image Editor overlay: the One Image drags and pins, on the input image, whenever the source is Drag."""
    context = bpy.context
    scene = context.scene
    settings = getattr(scene, "tween4d", None)
    space = context.space_data
    image = getattr(space, "image", None)
    if settings is None or settings.mode != "ONE_IMAGE" or settings.motion_source != "drag" or image is None \
            or context.region is None or not len(settings.drags) or not is_input_image(settings.image, image):
        return
    w, h = image.size
    if not w or not h:
        return
    view2d = context.region.view2d

    def to_region(u, v):
        return drags.image_px_to_region(view2d, u, v, w, h)

    drag_list, pins = drags.motion_lists(settings.drags)
    _draw_segments(((drags.arrow_segments(drag_list, [], to_region), DRAG_COLOR),
                    (drags.arrow_segments([], pins, to_region), PIN_COLOR)))


def _draw_live(op) -> None:
    """``place_drags``' draw handler: the arrow being dragged (the overlay draws the rest)."""
    context = bpy.context
    if getattr(context.space_data, "image", None) != op.image or context.region is None \
            or op.press_px is None or op.current_px is None:
        return
    view2d = context.region.view2d
    w, h = op.size
    live = [list(op.press_px) + list(op.current_px)]
    _draw_segments(((drags.arrow_segments(live, [], lambda u, v: drags.image_px_to_region(view2d, u, v, w, h)),
                     LIVE_COLOR),))


_overlay_handle = None


def register_overlay() -> None:
    """Add the Image Editor overlay (``addon.register`` calls it)."""
    global _overlay_handle
    if _overlay_handle is None and not bpy.app.background:
        _overlay_handle = bpy.types.SpaceImageEditor.draw_handler_add(_draw_overlay, (), "WINDOW", "POST_PIXEL")


def unregister_overlay() -> None:
    """Remove the overlay again."""
    global _overlay_handle
    if _overlay_handle is not None:
        bpy.types.SpaceImageEditor.draw_handler_remove(_overlay_handle, "WINDOW")
        _overlay_handle = None


class TWEEN4D_OT_place_drags(Operator):
    """Place drag arrows (press on a point, release where it should go) and pins (click) on the input image"""

    bl_idname = "tween4d.place_drags"
    bl_label = "Place Drags"
    bl_options = {"REGISTER", "UNDO"}

    image = None
    size = (0, 0)
    press_region = None
    press_px = None
    current_px = None
    _region = None
    _handle = None

    @classmethod
    def poll(cls, context):
        area = context.area
        if area is None or area.type != "IMAGE_EDITOR" or getattr(context.space_data, "image", None) is None:
            cls.poll_message_set("Show the input image in an Image Editor")
            return False
        return hasattr(context.scene, "tween4d")

    def invoke(self, context, event):
        settings = context.scene.tween4d
        image = context.space_data.image
        w, h = image.size
        if w == 0 or h == 0:
            self.report({"ERROR"}, f"The image '{image.name}' has no pixels (its file may be missing)")
            return {"CANCELLED"}
        problem = bind_input_image(settings, image)
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        self._region = window_region(context.area)
        if self._region is None:
            return {"CANCELLED"}
        self.image, self.size = image, (int(w), int(h))
        self.press_region = self.press_px = self.current_px = None
        settings.motion_source = "drag"
        self._handle = bpy.types.SpaceImageEditor.draw_handler_add(_draw_live, (self,), "WINDOW",
                                                                   "POST_PIXEL")
        context.window_manager.modal_handler_add(self)
        context.workspace.status_text_set(STATUS_TEXT)
        context.area.tag_redraw()
        return {"RUNNING_MODAL"}

    def _finish(self, context) -> None:
        if self._handle is not None:
            bpy.types.SpaceImageEditor.draw_handler_remove(self._handle, "WINDOW")
            self._handle = None
        context.workspace.status_text_set(None)
        if context.area is not None:
            context.area.tag_redraw()

    def _mouse(self, event):
        region = self._region
        rx, ry = event.mouse_x - region.x, event.mouse_y - region.y
        inside = 0 <= rx < region.width and 0 <= ry < region.height
        return (rx, ry), drags.region_to_image_px(region.view2d, rx, ry, *self.size), inside

    def modal(self, context, event):
        settings = context.scene.tween4d
        if context.area is not None:
            context.area.tag_redraw()
        if event.type in _NAVIGATION:
            return {"PASS_THROUGH"}
        if event.type in {"ESC", "RIGHTMOUSE", "RET", "NUMPAD_ENTER"} and event.value == "PRESS":
            self._finish(context)
            return {"FINISHED"}
        if event.type in {"BACK_SPACE", "DEL"} and event.value == "PRESS":
            if len(settings.drags):
                settings.drags.remove(len(settings.drags) - 1)
                settings.drag_index = max(0, len(settings.drags) - 1)
            return {"RUNNING_MODAL"}
        if event.type == "MOUSEMOVE":
            if self.press_px is not None:
                self.current_px = self._mouse(event)[1]
            return {"RUNNING_MODAL"}
        if event.type == "LEFTMOUSE":
            region_xy, px, inside = self._mouse(event)
            if event.value == "PRESS":
                if not inside:
                    return {"PASS_THROUGH"}  # the header, the sidebar: not ours
                if not drags.inside_image(px[0], px[1], *self.size):
                    self.report({"WARNING"}, "Start a drag or place a pin on the image")
                    return {"RUNNING_MODAL"}
                self.press_region, self.press_px, self.current_px = region_xy, px, px
            elif event.value == "RELEASE" and self.press_px is not None:
                problem = apply_gesture(settings.drags, self.press_region, region_xy, self.press_px, px, self.size)
                if problem:
                    self.report({"WARNING"}, problem)
                settings.drag_index = max(0, len(settings.drags) - 1)
                self.press_region = self.press_px = self.current_px = None
            return {"RUNNING_MODAL"}
        return {"RUNNING_MODAL"}

    def cancel(self, context):
        self._finish(context)


class TWEEN4D_OT_edit_drags(Operator):
    """Show the input image in an Image Editor and start placing drags there"""

    bl_idname = "tween4d.edit_drags"
    bl_label = "Place Drags in Image Editor"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        return hasattr(context.scene, "tween4d") and context.window is not None

    def execute(self, context):
        settings = context.scene.tween4d
        image = input_image_datablock(settings.image)
        if image is None:
            self.report({"ERROR"}, "Choose the input image first (a file or a Blender image)")
            return {"CANCELLED"}
        window = context.window
        area = next((a for a in window.screen.areas if a.type == "IMAGE_EDITOR"), None)
        if area is None:
            window, area = self._new_image_editor_window(context)
        if area is None:
            self.report({"ERROR"}, "Open an Image Editor (split an area, or use the Shading workspace), "
                                   "then press Place Drags again")
            return {"CANCELLED"}
        area.spaces.active.image = image
        region = window_region(area)
        with context.temp_override(window=window, area=area, region=region, space_data=area.spaces.active):
            bpy.ops.tween4d.place_drags("INVOKE_DEFAULT")
        return {"FINISHED"}

    @staticmethod
    def _new_image_editor_window(context):
        """Open the current area in a new window and turn it into an Image Editor (as View Render does).

        Returns:
            (window, area), or (None, None) when Blender refused.
        """
        if context.area is None:
            return None, None
        before = {w.as_pointer() for w in context.window_manager.windows}
        try:
            with context.temp_override(area=context.area):
                bpy.ops.screen.area_dupli("INVOKE_DEFAULT")
        except RuntimeError:
            return None, None
        new = [w for w in context.window_manager.windows if w.as_pointer() not in before]
        if not new or not new[0].screen.areas:
            return None, None
        area = new[0].screen.areas[0]
        area.type = "IMAGE_EDITOR"
        return new[0], area


class TWEEN4D_OT_drags_from_annotations(Operator):
    """Turn the annotation strokes drawn on the image into drag arrows (first point to last) and pins (dots)"""

    bl_idname = "tween4d.drags_from_annotations"
    bl_label = "Drags From Annotations"
    bl_options = {"REGISTER", "UNDO"}

    replace: BoolProperty(name="Replace", description="Replace the current drags and pins", default=True)
    hide_annotations: BoolProperty(name="Hide Annotations", default=True,
                                   description="Hide the annotation layer afterwards (its strokes are kept)")

    @classmethod
    def poll(cls, context):
        area = context.area
        if area is None or area.type != "IMAGE_EDITOR" or getattr(context.space_data, "image", None) is None:
            cls.poll_message_set("Show the input image in an Image Editor")
            return False
        if context.space_data.annotation is None:
            cls.poll_message_set("Draw arrows on the image with the Annotate tool first")
            return False
        return hasattr(context.scene, "tween4d")

    def execute(self, context):
        settings = context.scene.tween4d
        space = context.space_data
        image = space.image
        w, h = image.size
        problem = bind_input_image(settings, image)
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        layers = space.annotation.layers
        layer = layers.active_note or (layers[-1] if len(layers) else None)
        frame = layer.active_frame if layer is not None else None
        if frame is None or not len(frame.strokes):
            self.report({"ERROR"}, "The active annotation layer has no strokes on this frame")
            return {"CANCELLED"}
        if context.scene.tool_settings.annotation_stroke_placement_view2d == "IMAGE":
            def to_px(x, y):
                return drags.view_to_image_px(x, y, w, h)
        else:  # "View": percentages of the region
            region = window_region(context.area)

            def to_px(x, y):
                return drags.region_to_image_px(region.view2d, x / 100.0 * region.width,
                                                y / 100.0 * region.height, w, h)
        strokes = [[tuple(p.co) for p in stroke.points] for stroke in frame.strokes]
        drag_list, pins, skipped = drags.strokes_to_drags(strokes, to_px, w, h)
        if not drag_list and not pins:
            self.report({"ERROR"}, "No stroke starts and ends on the image")
            return {"CANCELLED"}
        if self.replace:
            settings.drags.clear()
        try:
            for d in drag_list:
                drags.add_entry(settings.drags, drags.KIND_DRAG, d)
            for p in pins:
                drags.add_entry(settings.drags, drags.KIND_PIN, p)
        except ValueError as exc:
            self.report({"WARNING"}, str(exc))
        settings.motion_source = "drag"
        settings.drag_index = max(0, len(settings.drags) - 1)
        if self.hide_annotations:
            layer.annotation_hide = True
        note = f"; {skipped} stroke(s) off the image skipped" if skipped else ""
        self.report({"INFO"}, f"{len(drag_list)} drag(s) and {len(pins)} pin(s) from annotations{note}")
        return {"FINISHED"}


class TWEEN4D_OT_drag_add(Operator):
    """Add a drag arrow or pin to edit by hand (pixels of the input image, origin top-left)"""

    bl_idname = "tween4d.drag_add"
    bl_label = "Add Drag"
    bl_options = {"REGISTER", "UNDO", "INTERNAL"}

    kind: EnumProperty(name="Kind", items=[(drags.KIND_DRAG, "Drag", ""), (drags.KIND_PIN, "Pin", "")],
                       default=drags.KIND_DRAG)

    def execute(self, context):
        settings = context.scene.tween4d
        coords = (0.0, 0.0, 10.0, 0.0) if self.kind == drags.KIND_DRAG else (0.0, 0.0)
        try:
            drags.add_entry(settings.drags, self.kind, coords)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        settings.drag_index = len(settings.drags) - 1
        return {"FINISHED"}


class TWEEN4D_OT_drag_remove(Operator):
    """Remove the selected drag arrow or pin"""

    bl_idname = "tween4d.drag_remove"
    bl_label = "Remove Drag"
    bl_options = {"REGISTER", "UNDO", "INTERNAL"}

    index: IntProperty(name="Index", default=-1, description="Entry to remove; -1: the selected one")

    @classmethod
    def poll(cls, context):
        return hasattr(context.scene, "tween4d") and len(context.scene.tween4d.drags) > 0

    def execute(self, context):
        settings = context.scene.tween4d
        index = settings.drag_index if self.index < 0 else self.index
        if not 0 <= index < len(settings.drags):
            return {"CANCELLED"}
        settings.drags.remove(index)
        settings.drag_index = min(index, max(0, len(settings.drags) - 1))
        return {"FINISHED"}


class TWEEN4D_OT_drags_clear(Operator):
    """Remove every drag arrow and pin"""

    bl_idname = "tween4d.drags_clear"
    bl_label = "Clear Drags"
    bl_options = {"REGISTER", "UNDO", "INTERNAL"}

    @classmethod
    def poll(cls, context):
        return hasattr(context.scene, "tween4d") and len(context.scene.tween4d.drags) > 0

    def execute(self, context):
        context.scene.tween4d.drags.clear()
        context.scene.tween4d.drag_index = 0
        return {"FINISHED"}


classes = (TWEEN4D_OT_place_drags, TWEEN4D_OT_edit_drags, TWEEN4D_OT_drags_from_annotations, TWEEN4D_OT_drag_add,
           TWEEN4D_OT_drag_remove, TWEEN4D_OT_drags_clear)
