"""``tween4d.generate`` (modal in the UI, blocking in background mode) and ``tween4d.cancel``.

The UI path never waits: ``invoke`` submits the job and a 0.1 s window timer
drives ``modal``, whose ``JobDriver.tick()`` drains ``BackendClient.poll()``
into ``WindowManager.tween4d_job``; then the sidebar is redrawn. ESC or the Cancel
button cancels (the client escalates to terminate/kill if the backend does not
stop). Background mode (``blender -b``, scripts, tests) runs no timers, so
``execute`` uses ``BackendClient.run_blocking``. Pattern after Blender's
extension manager (``bl_pkg``: modal timer + ESC, blocking path when
``bpy.app.background``).
"""

from __future__ import annotations

import time
import uuid
from typing import Optional

import bpy
from bpy.types import Operator

from ...backend.asset import AssetError
from .. import camera_rigs, session
from ..client import BackendError
from ..image_inputs import InputProblem
from ..importer import import_asset
from ..job import PreparedJob, prepare_job
from ..job_driver import JobDriver, apply_event
from ..preferences import get_preferences
from ..properties import add_recent
from .timer_modal import TimerModal

TIMER_INTERVAL_S = 0.1


def tag_redraw(context) -> None:
    """Redraw the 3D views' sidebars and the preferences (where the panels live)."""
    wm = context.window_manager
    for window in wm.windows:
        for area in window.screen.areas:
            if area.type in {"VIEW_3D", "PREFERENCES"}:
                area.tag_redraw()


class TWEEN4D_OT_generate(TimerModal, Operator):
    """Generate an animated 3D asset from the start and end images, or from one image (ESC cancels)"""

    bl_idname = "tween4d.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER"}

    _client = None
    _prepared: Optional[PreparedJob] = None
    _job_id: str = ""
    _driver: Optional[JobDriver] = None

    @classmethod
    def poll(cls, context):
        if context.scene is None or not hasattr(context.scene, "tween4d"):
            return False
        if context.window_manager.tween4d_job.running:
            cls.poll_message_set("A generation is already running")
            return False
        return True

    # -- shared ------------------------------------------------------------

    def _begin(self, context) -> bool:
        """Validate inputs and start (or reuse) the backend. Reports and returns False on failure."""
        state = context.window_manager.tween4d_job
        state.error_code = state.error_message = state.error_hint = ""
        prefs = get_preferences(context)
        try:
            self._prepared = prepare_job(context, prefs)
        except InputProblem as exc:
            self._fail(context, "input", exc.message, exc.hint)
            return False
        try:
            self._client = session.get_client(prefs)
        except BackendError as exc:
            self._prepared.cleanup()
            self._fail(context, exc.code, exc.message, exc.hint)
            return False
        self._job_id = uuid.uuid4().hex[:12]
        self._prepared.request["id"] = self._job_id
        state.running = True
        state.cancel_requested = False
        state.job_id = self._job_id
        state.progress = 0.0
        state.stage = "Starting the backend..."
        state.message = ""
        return True

    def _fail(self, context, code: str, message: str, hint: str) -> None:
        state = context.window_manager.tween4d_job
        state.error_code, state.error_message, state.error_hint = code, message, hint
        state.running = False
        self.report({"ERROR"}, f"{message} {hint}".strip())

    def _finish(self, context, final: dict) -> set:
        """Handle the job's terminal event: import + recent results, or the error, or the cancel."""
        state = context.window_manager.tween4d_job
        state.running = False
        state.cancel_requested = False
        if self._prepared is not None:
            self._prepared.cleanup()
        kind = final.get("type")
        if kind == "result":
            return self._on_result(context, final)
        if kind == "cancelled":
            state.stage = "Cancelled"
            self.report({"WARNING"}, "Generation cancelled; nothing was written.")
            return {"CANCELLED"}
        self._fail(context, str(final.get("code", "error")), str(final.get("message", "Generation failed.")),
                   str(final.get("hint", "")))
        state.stage = "Failed"
        return {"CANCELLED"}

    def _on_result(self, context, final: dict) -> set:
        state = context.window_manager.tween4d_job
        settings = context.scene.tween4d
        asset = str(final.get("asset") or self._prepared.output)
        summary = final.get("summary") or {}
        frames, gaussians = summary.get("frames", 0), summary.get("gaussians", 0)
        if not (frames and gaussians):
            try:
                from ...backend.asset import read_manifest

                manifest = read_manifest(asset)
                frames, gaussians = manifest.get("frame_count", 0), manifest.get("gaussian_count", 0)
            except Exception:  # noqa: BLE001 - the counts are only shown in the list
                pass
        add_recent(settings, asset, int(frames or 0), int(gaussians or 0), time.strftime("%Y-%m-%d %H:%M"))
        state.progress = 1.0
        state.stage = "Done"
        state.last_asset = asset
        if not settings.import_result:
            self.report({"INFO"}, f"Asset written to {asset}")
            return {"FINISHED"}
        try:
            collection = import_asset(context, asset)
        except Exception as exc:  # noqa: BLE001 - any importer failure is shown, the asset stays on disk
            state.error_code = "import"
            state.error_message = f"The asset was written to {asset} but could not be imported: {exc}"
            state.error_hint = "Fix the problem and use Import in Recent Results."
            self.report({"WARNING"}, state.error_message)
            return {"FINISHED"}
        rig_note = self._add_chosen_rig(context, collection)
        if not bpy.app.background:
            # The modal operator has no undo step of its own: give the import one.
            bpy.ops.ed.undo_push(message="Tween4D Import")
        self.report({"INFO"}, f"Imported '{getattr(collection, 'name', asset)}' from {asset}{rig_note}")
        return {"FINISHED"}

    def _add_chosen_rig(self, context, collection) -> str:
        """One Image mode: add the camera rig chosen in the panel. Returns a note for the report."""
        settings = context.scene.tween4d
        if settings.mode != "ONE_IMAGE" or settings.camera_path == "NONE":
            return ""
        try:
            rig = camera_rigs.add_camera_rig(context, collection, settings.camera_path,
                                             strength=float(settings.camera_strength))
        except (AssetError, ValueError) as exc:
            self.report({"WARNING"}, f"Imported, but no camera rig was added: {exc}")
            return ""
        return f" with camera rig '{rig.name}'"

    # -- blocking path (background mode, scripts) --------------------------

    def execute(self, context):
        if not self._begin(context):
            return {"CANCELLED"}
        state = context.window_manager.tween4d_job
        last_stage = [""]

        def on_event(event: dict) -> None:
            apply_event(state, event, self._job_id)
            if bpy.app.background and event.get("type") == "progress" and event.get("stage") != last_stage[0]:
                last_stage[0] = event.get("stage")
                print(f"Tween4D: {state.stage}", flush=True)

        prefs = get_preferences(context)
        try:
            final = self._client.run_blocking(self._prepared.request, on_event=on_event,
                                              idle_timeout=float(prefs.stall_timeout_s))
        except BackendError as exc:
            final = exc.as_event(self._job_id)
        except KeyboardInterrupt:
            self._client.cancel(self._job_id)
            final = {"type": "cancelled", "id": self._job_id}
        return self._finish(context, final)

    # -- modal path (UI) ---------------------------------------------------

    def invoke(self, context, event):
        if bpy.app.background:
            return self.execute(context)
        if not self._begin(context):
            return {"CANCELLED"}
        try:
            self._client.generate(self._prepared.request)
        except BackendError as exc:
            self._prepared.cleanup()
            self._fail(context, exc.code, exc.message, exc.hint)
            return {"CANCELLED"}
        wm = context.window_manager
        self._driver = JobDriver(self._client, self._job_id, wm.tween4d_job,
                                 get_preferences(context).stall_timeout_s)
        self.start_timer(context, TIMER_INTERVAL_S)
        tag_redraw(context)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC" and event.value == "PRESS":
            context.window_manager.tween4d_job.cancel_requested = True
            self._driver.request_cancel()
            return {"RUNNING_MODAL"}
        if not self.own_tick(event):
            return {"PASS_THROUGH"}
        final = self._driver.tick()
        tag_redraw(context)
        if final is None:
            return {"PASS_THROUGH"}
        self.stop_timer(context)
        return self._finish(context, final)

    def cancel(self, context):
        """Blender ends the operator (file load, window closed): stop the job too."""
        if self._driver is not None:
            self._driver.request_cancel()
        self.stop_timer(context)
        state = context.window_manager.tween4d_job
        state.running = False
        state.cancel_requested = False
        if self._prepared is not None:
            self._prepared.cleanup()


class TWEEN4D_OT_cancel(Operator):
    """Cancel the running generation (nothing is written)"""

    bl_idname = "tween4d.cancel"
    bl_label = "Cancel Generation"
    bl_options = {"REGISTER", "INTERNAL"}

    @classmethod
    def poll(cls, context):
        return context.window_manager.tween4d_job.running

    def execute(self, context):
        context.window_manager.tween4d_job.cancel_requested = True
        context.window_manager.tween4d_job.stage = "Cancelling..."
        return {"FINISHED"}


class TWEEN4D_OT_clear_error(Operator):
    """Dismiss the last error"""

    bl_idname = "tween4d.clear_error"
    bl_label = "Dismiss"
    bl_options = {"REGISTER", "INTERNAL"}

    def execute(self, context):
        state = context.window_manager.tween4d_job
        state.error_code = state.error_message = state.error_hint = ""
        return {"FINISHED"}


class TWEEN4D_OT_remove_recent(Operator):
    """Remove this entry from the recent results (the asset folder stays on disk)"""

    bl_idname = "tween4d.remove_recent"
    bl_label = "Remove From List"
    bl_options = {"REGISTER", "UNDO", "INTERNAL"}

    index: bpy.props.IntProperty(name="Index", min=0)

    def execute(self, context):
        recent = context.scene.tween4d.recent
        if self.index >= len(recent):
            return {"CANCELLED"}
        recent.remove(self.index)
        return {"FINISHED"}


classes = (TWEEN4D_OT_generate, TWEEN4D_OT_cancel, TWEEN4D_OT_clear_error, TWEEN4D_OT_remove_recent)
