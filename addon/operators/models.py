"""Download model weights from the preferences, only with Blender's online access on.

``tween4d.download_model`` runs ``<backend python> -m backend models download KEY``
(``models_runner.ModelDownload``) with the model folder as ``HF_HOME`` and
without ``HF_HUB_OFFLINE``; a modal timer follows its output (the last tqdm
line and its percentage) into the preferences' progress bar. In background
mode it blocks. It refuses while ``bpy.app.online_access`` is off: the
manifest's ``network`` permission covers this download only. One download
runs at a time; ``tween4d.cancel_model_download`` terminates it (then kills
it). ``tween4d.refresh_models`` lists the models again.
"""

from __future__ import annotations

import bpy
from bpy.props import StringProperty
from bpy.types import Operator

from .. import models_ui, paths
from ..models_runner import STATE, ModelDownload, interpreter_exists
from ..preferences import get_preferences
from .generate import tag_redraw
from .timer_modal import TimerModal

TIMER_INTERVAL_S = 0.2

OFFLINE_MESSAGE = ("Online access is disabled in Blender, and downloading model weights needs the internet "
                   "(Hugging Face Hub).")
OFFLINE_HINT = "Enable Preferences > System > Network > Allow Online Access, then try again."


def online_access_allowed() -> bool:
    """True when Blender allows add-ons to use the internet (``bpy.app.online_access``).

    It follows Preferences > System > Network > Allow Online Access, unless
    Blender was started with ``--offline-mode`` / ``--online-mode``.
    """
    return bool(bpy.app.online_access)


class TWEEN4D_OT_download_model(TimerModal, Operator):
    """Download this model's weights from the Hugging Face Hub into the model folder (needs online access)"""

    bl_idname = "tween4d.download_model"
    bl_label = "Download Model"
    bl_options = {"REGISTER", "INTERNAL"}

    key: StringProperty(name="Model", description="Key of the model in the backend's registry")

    _download: ModelDownload = None

    @classmethod
    def poll(cls, context):
        if STATE.downloading:
            cls.poll_message_set("A model download is already running")
            return False
        return True

    def _start(self, context) -> bool:
        if not online_access_allowed():
            STATE.last_result, STATE.last_ok = OFFLINE_MESSAGE, False
            self.report({"ERROR"}, f"{OFFLINE_MESSAGE} {OFFLINE_HINT}")
            return False
        if not self.key:
            self.report({"ERROR"}, "No model chosen: press Download next to a model in the add-on preferences.")
            return False
        prefs = get_preferences(context)
        interpreter = prefs.interpreter()
        if not interpreter_exists(interpreter):
            STATE.last_result, STATE.last_ok = "Install dependencies first.", False
            self.report({"ERROR"}, f"No backend interpreter at {interpreter}: press Install Dependencies first.")
            return False
        download = ModelDownload(interpreter, self.key, paths.backend_root(), prefs.backend_env())
        if bpy.app.background:
            download.on_line = lambda line: print(f"models download: {line}", flush=True)
        try:
            download.start()
        except OSError as exc:
            STATE.last_result, STATE.last_ok = f"Could not run {interpreter}: {exc}", False
            self.report({"ERROR"}, STATE.last_result)
            return False
        self._download = STATE.download = download
        STATE.last_result = ""
        return True

    def _finish(self, context, outcome) -> set:
        STATE.download = None
        STATE.last_result, STATE.last_ok = outcome.message, outcome.ok
        prefs = get_preferences(context)
        if outcome.ok:
            self.report({"INFO"}, outcome.message)
            models_ui.refresh(prefs, blocking=bpy.app.background)
            return {"FINISHED"}
        if outcome.cancelled:
            self.report({"WARNING"}, outcome.message)
        else:
            self.report({"ERROR"}, outcome.message)
        models_ui.refresh(prefs, blocking=bpy.app.background)  # a partial download may have changed things
        return {"CANCELLED"}

    def execute(self, context):
        # Blocking path: background mode and scripts.
        if not self._start(context):
            return {"CANCELLED"}
        return self._finish(context, self._download.wait(TIMER_INTERVAL_S))

    def invoke(self, context, event):
        if bpy.app.background:
            return self.execute(context)
        if not self._start(context):
            return {"CANCELLED"}
        self.start_timer(context, TIMER_INTERVAL_S)
        tag_redraw(context)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if not self.own_tick(event):
            return {"PASS_THROUGH"}
        outcome = self._download.tick()
        tag_redraw(context)
        if outcome is None:
            return {"PASS_THROUGH"}
        self.stop_timer(context)
        return self._finish(context, outcome)

    def cancel(self, context):
        # Blender ends the modal operator (file load, window closed): no orphan download.
        self.stop_timer(context)
        if STATE.download is self._download:
            STATE.stop()


class TWEEN4D_OT_cancel_model_download(Operator):
    """Stop the running model download (files already fetched stay; pressing Download again resumes)"""

    bl_idname = "tween4d.cancel_model_download"
    bl_label = "Cancel Model Download"
    bl_options = {"REGISTER", "INTERNAL"}

    @classmethod
    def poll(cls, context):
        return STATE.downloading

    def execute(self, context):
        STATE.download.request_cancel()
        return {"FINISHED"}


class TWEEN4D_OT_refresh_models(Operator):
    """Read again which models are installed (asks the backend interpreter)"""

    bl_idname = "tween4d.refresh_models"
    bl_label = "Refresh Models"
    bl_options = {"REGISTER", "INTERNAL"}

    @classmethod
    def poll(cls, context):
        if STATE.fetch is not None:
            cls.poll_message_set("The model list is being read")
            return False
        return True

    def execute(self, context):
        prefs = get_preferences(context)
        models_ui.refresh(prefs, blocking=bpy.app.background)
        if bpy.app.background and STATE.status != "ok":
            self.report({"WARNING"}, STATE.message)
        return {"FINISHED"}


classes = (TWEEN4D_OT_download_model, TWEEN4D_OT_cancel_model_download, TWEEN4D_OT_refresh_models)
