"""Blender side of test_generate_operator: the generate operator's blocking path with the fake backend.

Run by conftest.run_blender as
``python generate_blocking.py FAKE_INTERPRETER WORK_DIR START_PNG`` with
``TWEEN4D_FAKE_MODE=behave`` in the environment; reports JSON via
blender_helpers.emit. Also draws every panel through a recording stand-in for
``UILayout`` that checks each call against the real UILayout RNA (background
Blender has no regions to draw into).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bpy  # noqa: E402  (first Blender import: puts addon_utils on sys.path)
import addon_utils  # noqa: E402
from blender_helpers import emit, enable_working_tree  # noqa: E402

PANELS = ("VIEW3D_PT_tween4d", "VIEW3D_PT_tween4d_settings", "VIEW3D_PT_tween4d_engines", "VIEW3D_PT_tween4d_asset",
          "VIEW3D_PT_tween4d_recent", "IMAGE_PT_tween4d_drags")


class DrawError(AssertionError):
    """A draw() call that the real UILayout would reject."""


class RecordingLayout:
    """Records UILayout calls; raises DrawError on an unknown function, argument, property, icon or operator."""

    _functions = bpy.types.UILayout.bl_rna.functions
    _properties = bpy.types.UILayout.bl_rna.properties

    def __init__(self, log: list):
        object.__setattr__(self, "_log", log)

    def __setattr__(self, name, value):
        if name not in self._properties:
            raise DrawError(f"UILayout has no property {name!r}")
        self._log.append(("set", name, value))

    def __getattr__(self, name):
        if name not in self._functions:
            raise DrawError(f"UILayout has no function {name!r}")
        func = self._functions[name]
        inputs = [p for p in func.parameters if not p.is_output]
        outputs = [p for p in func.parameters if p.is_output]

        def call(*args, **kwargs):
            bound = dict(zip([p.identifier for p in inputs], args))
            for key in kwargs:
                if key not in {p.identifier for p in inputs}:
                    raise DrawError(f"UILayout.{name}() has no argument {key!r}")
            bound.update(kwargs)
            for p in inputs:
                if p.identifier in bound and p.type == "ENUM" and not p.is_enum_flag:
                    value = bound[p.identifier]
                    if value not in p.enum_items.keys():
                        raise DrawError(f"UILayout.{name}({p.identifier}={value!r}) is not a valid value")
            if name in ("prop", "template_ID"):
                data, prop = bound["data"], bound["property"]
                if prop not in data.bl_rna.properties:
                    raise DrawError(f"{data!r} has no property {prop!r}")
            if name == "template_list":
                for data_key, prop_key in (("dataptr", "propname"), ("active_dataptr", "active_propname")):
                    if bound[prop_key] not in bound[data_key].bl_rna.properties:
                        raise DrawError(f"template_list: {bound[data_key]!r} has no property {bound[prop_key]!r}")
                if not hasattr(bpy.types, bound["listtype_name"]):
                    raise DrawError(f"UIList {bound['listtype_name']!r} is not registered")
            self._log.append((name, bound))
            if name == "operator":
                return RecordingOperator(bound["operator"], bound)
            if outputs and outputs[0].type == "POINTER" and outputs[0].fixed_type.identifier == "UILayout":
                return RecordingLayout(self._log)
            return None

        return call


class RecordingOperator:
    """Operator properties returned by layout.operator(); checks the operator exists and its property names."""

    def __init__(self, idname: str, bound: dict):
        group, _, name = idname.partition(".")
        try:
            rna = getattr(getattr(bpy.ops, group), name).get_rna_type()
        except (AttributeError, KeyError) as exc:
            raise DrawError(f"operator {idname!r} is not registered") from exc
        object.__setattr__(self, "_rna", rna)
        object.__setattr__(self, "_bound", bound)

    def __setattr__(self, key, value):
        if key not in self._rna.properties:
            raise DrawError(f"operator {self._rna.identifier} has no property {key!r}")
        self._bound.setdefault("props", {})[key] = value


def draw_all(context) -> list:
    """Draw every panel and the preferences; return the call log."""
    log = []
    for name in PANELS:
        cls = getattr(bpy.types, name)
        if hasattr(cls, "poll") and not cls.poll(context):
            continue
        cls.draw(SimpleNamespace(layout=RecordingLayout(log)), context)
    return log


def summary(log: list) -> dict:
    """The operators, labels and progress bars a draw produced."""
    return {
        "operators": [b["operator"] for kind, *rest in log if kind == "operator" for b in rest],
        "labels": [b.get("text", "") for kind, *rest in log if kind == "label" for b in rest],
        "progress": [b.get("factor") for kind, *rest in log if kind == "progress" for b in rest],
        "calls": len(log),
    }


def draw_preferences(context, prefs) -> dict:
    log = []

    class Proxy:
        def __getattr__(self, key):
            return RecordingLayout(log) if key == "layout" else getattr(prefs, key)

    type(prefs).draw(Proxy(), context)
    return summary(log)


def painted_image() -> bpy.types.Image:
    """A generated 4x3 image: blue, with its bottom-left pixel red (Blender rows start at the bottom)."""
    image = bpy.data.images.new("EndPainted", 4, 3, alpha=True)
    pixels = [0.0, 0.0, 1.0, 1.0] * 12
    pixels[0:4] = [1.0, 0.0, 0.0, 1.0]
    image.pixels.foreach_set(pixels)
    image.update()
    return image


def main(fake_interpreter: str, work_dir: str, start_png: str) -> None:
    context = bpy.context
    package = enable_working_tree()
    session = sys.modules[f"{package}.addon.session"]
    client_module = sys.modules[f"{package}.addon.client"]
    prefs = context.preferences.addons[package].preferences
    prefs.backend_python = fake_interpreter
    prefs.default_quality = "draft"
    settings = context.scene.tween4d
    job = context.window_manager.tween4d_job
    result = {}

    # Inputs are checked before any backend starts.
    result["idle_draw"] = summary(draw_all(context))
    result["preferences_draw"] = draw_preferences(context, prefs)
    try:
        bpy.ops.tween4d.generate()
        result["no_input_error"] = ""
    except RuntimeError as exc:
        result["no_input_error"] = str(exc)
    settings.start.filepath = os.path.join(work_dir, "missing.png")
    try:
        bpy.ops.tween4d.generate()
        result["missing_file_error"] = ""
    except RuntimeError as exc:
        result["missing_file_error"] = str(exc)
    result["client_after_input_errors"] = session.current_client() is not None
    result["error_draw"] = summary(draw_all(context))

    # Automatic asset names: the start image's name, or its folder's when the file name is generic.
    job_module = sys.modules[f"{package}.addon.job"]
    labels = []
    for path in ("/data/pairs/cat_jump/start.png", "/data/lamp_open.jpg"):
        settings.start.filepath = path
        labels.append(job_module.input_label(settings.start))
    settings.end.source = "IMAGE"
    settings.end.image = bpy.data.images.new("Robot Arm.png", 2, 2)
    labels.append(job_module.input_label(settings.end))
    labels.append(os.path.basename(job_module.asset_dir_for(settings, "cat jump?")))
    result["auto_names"] = labels

    # A good run: a file start image, a generated (unsaved) end image.
    settings.start.filepath = start_png
    settings.end.source = "IMAGE"
    settings.end.image = painted_image()
    settings.frames = 5
    settings.fps = 12.0
    settings.output_dir = os.path.join(work_dir, "out")
    settings.asset_name = "ring"
    collections_before = len(bpy.data.collections)
    status = bpy.ops.tween4d.generate()
    result["ok"] = {
        "status": sorted(status),
        "recent": [[r.name, r.path, r.frames, r.gaussians] for r in settings.recent],
        "job": {"running": job.running, "progress": job.progress, "stage": job.stage,
                "error": job.error_message, "last_asset": job.last_asset},
        "collections_added": len(bpy.data.collections) - collections_before,
        "client_alive": session.current_client().alive,
    }
    result["done_draw"] = summary(draw_all(context))

    # The running state (normally set by the modal operator) draws a progress bar and Cancel.
    job.running, job.progress, job.stage = True, 0.3, "2/5 In-betweening 40%"
    result["running_draw"] = summary(draw_all(context))
    result["generate_poll_while_running"] = bpy.ops.tween4d.generate.poll()
    bpy.ops.tween4d.cancel()
    result["cancel_requested"] = job.cancel_requested
    job.running = job.cancel_requested = False

    # A backend that crashes mid-job: an error, no asset, nothing added to the recent results.
    session.shutdown()
    os.environ["TWEEN4D_FAKE_MODE"] = "crash"
    settings.asset_name = "crashed"
    try:
        bpy.ops.tween4d.generate()
        result["crash_error"] = ""
    except RuntimeError as exc:
        result["crash_error"] = str(exc)
    result["crash"] = {"code": job.error_code, "running": job.running, "recent": len(settings.recent),
                       "asset_exists": os.path.exists(os.path.join(work_dir, "out", "crashed"))}
    result["crash_draw"] = summary(draw_all(context))

    session.shutdown()
    os.environ["TWEEN4D_FAKE_MODE"] = "behave"
    one_image(context, package, prefs, work_dir, start_png, result)
    settings.mode = "TWO_IMAGE"

    check_and_install(context, package, prefs, work_dir, result)

    # Disabling the add-on leaves no backend process behind.
    os.environ["TWEEN4D_FAKE_MODE"] = "behave"
    session.get_client(prefs).wait_ready(30)
    processes = [c.process for c in list(client_module._LIVE_CLIENTS) if c.process is not None]
    addon_utils.disable(package, default_set=True)
    result["backend_processes_after_disable"] = [p.poll() is None for p in processes]
    emit(result)


def draw_ui_list(settings) -> list:
    """Draw every row of the drag list through TWEEN4D_UL_drags (checked like the panels)."""
    log = []
    ul = bpy.types.TWEEN4D_UL_drags
    for index, item in enumerate(settings.drags):
        ul.draw_item(None, bpy.context, RecordingLayout(log), settings, item, 0, settings, "drag_index", index)
    return log


def one_image(context, package, prefs, work_dir, image_png, result) -> None:
    """One Image mode: panel draws, the request per motion source, the drag list operators, a run with a rig."""
    import math

    job_module = sys.modules[f"{package}.addon.job"]
    drags = sys.modules[f"{package}.addon.drags"]
    input_problem = sys.modules[f"{package}.addon.image_inputs"].InputProblem
    settings = context.scene.tween4d
    out = {}
    settings.mode = "ONE_IMAGE"
    out["poll"] = bpy.ops.tween4d.generate.poll()
    out["empty_draw"] = summary(draw_all(context))
    try:
        bpy.ops.tween4d.generate()
        out["no_image_error"] = ""
    except RuntimeError as exc:
        out["no_image_error"] = str(exc)

    def request():
        prepared = job_module.prepare_job(context, prefs)
        prepared.cleanup()
        return prepared.request

    settings.image.filepath = image_png
    settings.asset_name = "single"
    settings.subject = "scene"
    settings.horizon_auto = False
    settings.horizon = 0.4
    settings.motion_source = "preset"
    settings.motion_preset = "wave"
    settings.motion_amplitude = 1.5
    settings.motion_period = 12
    settings.motion_direction = math.radians(90.0)
    settings.motion_loop = False
    settings.engine_depth = "depth"
    requests = {"preset": request()}
    out["preset_draw"] = summary(draw_all(context))
    settings.subject = "object"
    settings.horizon_auto = True
    settings.motion_period = 0
    settings.motion_source = "drag"
    try:
        job_module.prepare_job(context, prefs)
        out["no_drags_error"] = ""
    except input_problem as exc:
        out["no_drags_error"] = str(exc)
    # The list operators, as the panel's buttons call them.
    bpy.ops.tween4d.drag_add(kind="DRAG")
    bpy.ops.tween4d.drag_add(kind="PIN")
    bpy.ops.tween4d.drag_add(kind="DRAG")
    settings.drag_index = 1
    bpy.ops.tween4d.drag_remove()  # the selected pin
    out["after_remove"] = [(d.kind, list(d.start), list(d.end)) for d in settings.drags]
    bpy.ops.tween4d.drags_clear()
    out["after_clear"] = len(settings.drags)
    out["remove_poll_empty"] = bpy.ops.tween4d.drag_remove.poll()
    # What the modal operator adds for a drag gesture and a click (its list handling).
    size = (8, 6)
    out["gestures"] = [
        job_gesture(package, settings, (10, 10), (60, 40), (1.0, 2.0), (6.5, 4.0), size),
        job_gesture(package, settings, (30, 30), (31, 31), (4.0, 1.5), (4.1, 1.6), size),
        job_gesture(package, settings, (0, 0), (50, 50), (-1.0, 2.0), (5.0, 5.0), size),
        job_gesture(package, settings, (10, 10), (99, 99), (7.0, 1.0), (20.0, -3.0), size),
    ]
    out["list_after_gestures"] = [(d.kind, list(d.start), list(d.end)) for d in settings.drags]
    # a pin on an arrow's start is refused before any job starts, with the backend's own message
    drags.add_entry(settings.drags, "PIN", (1.5, 2.5))
    try:
        job_module.prepare_job(context, prefs)
        out["conflict_error"] = ""
    except input_problem as exc:
        out["conflict_error"] = str(exc)
    settings.drags.remove(len(settings.drags) - 1)
    out["drag_list_draw"] = summary(draw_ui_list(settings))
    out["drag_draw"] = summary(draw_all(context))
    requests["drag"] = request()
    settings.motion_source = "video"
    settings.motion_prompt = "  the bear waves  "
    requests["video"] = request()
    out["requests"] = requests
    out["panel_drags_limit"] = drags.MAX_DRAGS

    # A run through the fake backend; the chosen camera rig is added on import.
    settings.motion_source = "preset"
    settings.camera_path = "ARC"
    status = bpy.ops.tween4d.generate()
    rig = context.scene.camera
    out["run"] = {"status": sorted(status), "rig_path": rig.get("tween4d_rig_path") if rig else None,
                  "recent": settings.recent[0].name}
    result["one_image"] = out


def job_gesture(package, settings, press_region, release_region, press_px, release_px, size) -> str:
    """``apply_gesture`` as the modal operator calls it on a mouse release."""
    ops = sys.modules[f"{package}.addon.operators.drags"]
    return ops.apply_gesture(settings.drags, press_region, release_region, press_px, release_px, size)


FAKE_INSTALLER = """
import json, os, sys
for k, text in enumerate(("Creating the venv", "Installing numpy", "Checking imports"), 1):
    print(f"[{k}/3] {text}", flush=True)
if os.environ.get("FAKE_INSTALL_FAIL"):
    print("error: no space left on device", file=sys.stderr)
    sys.exit(1)
with open(os.environ["FAKE_INSTALL_ARGS"], "w") as fh:
    json.dump(sys.argv[1:], fh)
"""


def check_and_install(context, package, prefs, work_dir, result) -> None:
    """tween4d.check_backend against the fake; tween4d.install_dependencies with a stand-in install_deps.py."""
    import contextlib
    import io
    import json

    session = sys.modules[f"{package}.addon.session"]
    paths = sys.modules[f"{package}.addon.paths"]
    install = context.window_manager.tween4d_install

    session.shutdown()
    status = bpy.ops.tween4d.check_backend()
    result["check_ok"] = {"status": sorted(status), "state": [install.status_ok, install.status],
                          "python": session.current_client().hello["python"]}
    session.shutdown()
    os.environ["TWEEN4D_FAKE_MODE"] = "wrong_protocol"
    try:
        bpy.ops.tween4d.check_backend()
        error = ""
    except RuntimeError as exc:
        error = str(exc)
    result["check_wrong_protocol"] = {"error": error, "state_ok": install.status_ok}
    os.environ["TWEEN4D_FAKE_MODE"] = "behave"

    installer = Path(work_dir) / "install_deps_standin.py"
    installer.write_text(FAKE_INSTALLER)
    paths.INSTALL_SCRIPT = installer
    os.environ["FAKE_INSTALL_ARGS"] = os.path.join(work_dir, "install-args.json")
    context.preferences.system.use_online_access = True
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = bpy.ops.tween4d.install_dependencies()
    result["install_ok"] = {
        "status": sorted(status),
        "state": [install.progress, install.status, install.status_ok, install.running],
        "args": json.loads(Path(os.environ["FAKE_INSTALL_ARGS"]).read_text()),
        "progress_lines": [line for line in out.getvalue().splitlines() if line.startswith("install_deps: [")],
    }
    os.environ["FAKE_INSTALL_FAIL"] = "1"
    try:
        bpy.ops.tween4d.install_dependencies()
        error = ""
    except RuntimeError as exc:
        error = str(exc)
    result["install_failed"] = {"error": error, "state": [install.status, install.status_ok, install.running]}
    del os.environ["FAKE_INSTALL_FAIL"]


if __name__ == "__main__":
    main(*sys.argv[1:4])
