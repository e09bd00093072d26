"""Blender side of test_models_ui: the Models box and tween4d.download_model in real headless Blender.

Run by the test as ``python models_download.py FAKE_INTERPRETER WORK_DIR`` (the
fake interpreter is tests/fixtures/fake_models_python.py behind a shell
wrapper: scripted downloads, the real backend for everything else). Reports
JSON via blender_helpers.emit. The preferences are drawn through
generate_blocking's RecordingLayout, which checks every call against the real
UILayout RNA.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bpy  # noqa: E402
import addon_utils  # noqa: E402
from blender_helpers import ROOT, emit, enable_working_tree  # noqa: E402
from generate_blocking import RecordingLayout, summary  # noqa: E402


def draw_prefs(context, prefs) -> dict:
    """Draw the preferences; the summary plus the keys of the Download buttons."""
    log = []

    class Proxy:
        def __getattr__(self, key):
            return RecordingLayout(log) if key == "layout" else getattr(prefs, key)

    type(prefs).draw(Proxy(), context)
    out = summary(log)
    out["download_keys"] = [b.get("props", {}).get("key") for kind, *rest in log if kind == "operator"
                            for b in rest if b["operator"] == "tween4d.download_model"]
    return out


def call(op, **kwargs) -> dict:
    """Run an operator; its status, or the error it reported, and what it printed."""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            status = sorted(op(**kwargs))
        error = ""
    except RuntimeError as exc:
        status, error = ["ERROR"], str(exc)
    lines = [line for line in out.getvalue().splitlines() if line.startswith("models download: ")]
    return {"status": status, "error": error, "printed": lines}


def rows(state) -> dict:
    return {r.key: {"installed": r.installed, "missing": r.missing, "size_text": r.size_text} for r in state.rows}


def main(fake_interpreter: str, work_dir: str) -> None:
    context = bpy.context
    work = Path(work_dir)
    package = enable_working_tree()
    runner = sys.modules[f"{package}.addon.models_runner"]
    client_module = sys.modules[f"{package}.addon.client"]
    state = runner.STATE
    prefs = context.preferences.addons[package].preferences
    record = work / "download-record.json"
    os.environ["TWEEN4D_FAKE_RECORD"] = str(record)
    hf_home = work / "hf-home"
    result = {}

    # Online access off: refused with the message, no process started.
    context.preferences.system.use_online_access = False
    prefs.backend_python = fake_interpreter
    prefs.model_cache_dir = str(hf_home)
    offline = call(bpy.ops.tween4d.download_model, key="depth")
    result["offline"] = {**offline, "online_access": bpy.app.online_access, "recorded": record.exists(),
                         "download": state.download is not None, "last_result": state.last_result}

    # The list from the real backend (this venv's Python), with the model folder as HF_HOME.
    prefs.backend_python = sys.executable
    result["refresh"] = call(bpy.ops.tween4d.refresh_models)
    result["listed"] = {"status": state.status, "rows": rows(state)}
    result["offline_draw"] = draw_prefs(context, prefs)

    # Another model folder: the next draw lists again by itself, in a thread, and says so meanwhile.
    prefs.model_cache_dir = str(work / "other-hf-home")
    first = draw_prefs(context, prefs)
    fetch = state.fetch
    if fetch is not None:
        fetch._thread.join(60)
    result["auto_list"] = {"thread": fetch is not None, "first_labels": first["labels"],
                           "then": draw_prefs(context, prefs)["download_keys"], "status": state.status}
    prefs.model_cache_dir = str(hf_home)

    # No interpreter, or one without the backend's packages: "Install dependencies first".
    prefs.backend_python = str(work / "no-venv" / "bin" / "python")
    bpy.ops.tween4d.refresh_models()
    result["no_interpreter"] = {"status": state.status, "message": state.message,
                                "draw": draw_prefs(context, prefs)}
    prefs.backend_python = fake_interpreter
    os.environ["TWEEN4D_FAKE_DOWNLOAD"] = "no_deps"
    bpy.ops.tween4d.refresh_models()
    result["no_deps"] = {"status": state.status, "message": state.message}

    # Online access on: a download through the fake, then the real list sees it in HF_HOME.
    context.preferences.system.use_online_access = True
    os.environ["TWEEN4D_FAKE_DOWNLOAD"] = "ok"
    bpy.ops.tween4d.refresh_models()
    result["before_download"] = rows(state)
    ok = call(bpy.ops.tween4d.download_model, key="depth")
    result["download_ok"] = {**ok, "record": json.loads(record.read_text()), "rows": rows(state),
                             "last": [state.last_result, state.last_ok], "draw": draw_prefs(context, prefs)}
    result["root"] = str(ROOT)

    # The generation path sees the same model folder, offline.
    backend_env = prefs.backend_env()
    client_env = client_module.BackendClient(fake_interpreter, str(ROOT), backend_env).environment()
    result["generation_env"] = {k: client_env.get(k) for k in ("HF_HOME", "HF_HUB_OFFLINE")}

    # A failing download: the error and the backend's message, nothing installed.
    record.unlink()
    os.environ["TWEEN4D_FAKE_DOWNLOAD"] = "fail"
    failed = call(bpy.ops.tween4d.download_model, key="features")
    result["download_failed"] = {**failed, "rows": rows(state), "last": [state.last_result, state.last_ok],
                                 "draw": draw_prefs(context, prefs)}

    # A download in progress (as the modal operator leaves it between timer ticks): progress bar,
    # Cancel, no second download; Cancel terminates, then kills a process that ignores SIGTERM.
    os.environ["TWEEN4D_FAKE_DOWNLOAD"] = "hang"
    runner.KILL_GRACE_S = 0.3
    download = runner.ModelDownload(fake_interpreter, "features", str(ROOT), prefs.backend_env()).start()
    state.download = download
    while "%" not in download.step_text and download.returncode is None:
        download.tick()
        time.sleep(0.01)
    running = {"draw": draw_prefs(context, prefs), "fraction": download.fraction,
               "download_poll": bpy.ops.tween4d.download_model.poll()}
    bpy.ops.tween4d.cancel_model_download()
    outcome = download.wait(0.05)
    running["outcome"] = [outcome.ok, outcome.cancelled, outcome.returncode, outcome.message]
    state.download = None
    result["running"] = running

    # Disabling the add-on leaves no download behind.
    os.environ["TWEEN4D_FAKE_DOWNLOAD"] = "hang"
    download = runner.ModelDownload(fake_interpreter, "features", str(ROOT), prefs.backend_env()).start()
    state.download = download
    addon_utils.disable(package, default_set=True)
    result["after_disable"] = {"returncode": download.process.poll(), "download": state.download is not None}
    emit(result)


if __name__ == "__main__":
    main(*sys.argv[1:3])
