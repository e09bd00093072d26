"""The Models box of the add-on preferences: each registry model, its download size and VRAM, installed or not.

The list comes from the backend interpreter (``models_runner.ModelListFetch``,
in a thread); a ``bpy.app.timers`` function redraws the preferences until it
arrives. The box lists again by itself when the interpreter or the model
folder changed since the last list, when Install Dependencies created the
interpreter, and on Refresh.
"""

from __future__ import annotations

import os
import textwrap

import bpy

from . import paths
from .models_runner import NEEDS_INSTALL_TEXT, STATE

POLL_INTERVAL_S = 0.25
RESULT_WRAP, RESULT_LINES = 90, 5  # the last download's message: characters per line, lines at most
OFFLINE_LABEL = "Downloading needs online access (Preferences > System > Network > Allow Online Access)"
MISSING_TEXT = {
    "model.missing": "Not installed",
    "model.libraries": "Needs the model engines' packages",
    "model.path": "Override folder is not a model",
}


def list_key(prefs) -> tuple:
    """What a model list depends on: the interpreter (and whether it exists yet) and the backend environment."""
    interpreter = prefs.interpreter()
    return (interpreter, os.path.isfile(interpreter), tuple(sorted(prefs.backend_env().items())))


def refresh(prefs, *, blocking: bool = False) -> None:
    """List the models again with the current preferences (in a thread unless ``blocking``)."""
    key = list_key(prefs)
    STATE.start_list(prefs.interpreter(), paths.backend_root(), prefs.backend_env(), blocking=blocking)
    STATE.list_key = key
    if not blocking and not bpy.app.timers.is_registered(_redraw_until_listed):
        bpy.app.timers.register(_redraw_until_listed, first_interval=POLL_INTERVAL_S)


def _redraw_until_listed():
    still_running = STATE.absorb()
    try:
        from .operators.generate import tag_redraw

        tag_redraw(bpy.context)
    except (AttributeError, ReferenceError):  # no window (background mode, during unregister)
        pass
    return POLL_INTERVAL_S if still_running else None


def shutdown() -> None:
    """Stop the list timer and a running download (add-on unregister)."""
    if bpy.app.timers.is_registered(_redraw_until_listed):
        bpy.app.timers.unregister(_redraw_until_listed)
    STATE.stop()


def draw_models_box(layout, context, prefs) -> None:
    """Draw the Models box: a Refresh button, one row per model with a Download button, the running download."""
    STATE.absorb()
    if STATE.fetch is None and not STATE.downloading and STATE.list_key != list_key(prefs):
        refresh(prefs)  # first draw, or the interpreter / model folder changed

    box = layout.box()
    header = box.row()
    header.label(text="Models", icon="FILE_3D")
    sub = header.row()
    sub.enabled = STATE.fetch is None
    sub.operator("tween4d.refresh_models", text="Refresh", icon="FILE_REFRESH")

    download = STATE.download if STATE.downloading else None
    if download is not None:
        col = box.column()
        col.progress(factor=download.fraction, type="BAR",
                     text=_clip(download.step_text or f"Downloading {download.key}..."))
        col.operator("tween4d.cancel_model_download", text=f"Cancel Download of {download.key}", icon="CANCEL")
    elif STATE.last_result:
        col = box.column(align=True)
        for i, line in enumerate(textwrap.wrap(STATE.last_result, RESULT_WRAP)[:RESULT_LINES]):
            col.label(text=line, icon=("CHECKMARK" if STATE.last_ok else "ERROR") if i == 0 else "BLANK1")

    if STATE.status == "loading":
        box.label(text="Reading the model list from the backend...", icon="SORTTIME")
        if not STATE.rows:
            return
    if STATE.status == "needs_install":
        box.label(text=NEEDS_INSTALL_TEXT, icon="INFO")
        box.label(text=_clip(STATE.message))
        return
    if STATE.status == "error":
        box.label(text=_clip(STATE.message), icon="ERROR")

    for model in STATE.rows:
        col = box.column(align=True)
        row = col.row()
        split = row.split(factor=0.3)
        split.label(text=model.key, icon="CHECKMARK" if model.installed else "BLANK1")
        right = split.row()
        right.label(text=f"{model.size_text} download" + (f", {model.vram_text}" if model.vram_text else ""))
        right.label(text="Installed" if model.installed else MISSING_TEXT.get(model.missing, "Not installed"))
        if model.installed:
            right.label(text="", icon="BLANK1")  # keeps the columns of installed and missing rows aligned
        else:
            button = right.row()
            button.enabled = download is None
            button.operator("tween4d.download_model", text="Download", icon="IMPORT").key = model.key
        col.label(text=_clip(f"{model.purpose} ({model.licence})"), icon="BLANK1")

    if not bpy.app.online_access:
        box.label(text=OFFLINE_LABEL, icon="INTERNET_OFFLINE")
    elif any(m.missing == "model.libraries" for m in STATE.rows):
        box.label(text="Tick 'Model Engines' and press Install/Repair Dependencies before downloading.", icon="INFO")


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
