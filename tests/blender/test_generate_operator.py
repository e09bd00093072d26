"""tween4d.generate with the scripted fake backend: the blocking path in Blender, the modal path's driver.

One Blender subprocess (blender_scripts/generate_blocking.py) enables this
working tree as an extension, points the backend interpreter at the fake, and
runs: input errors, a good run (file + generated image inputs -> an asset in the
recent results, and imported), a crash, one-image mode, the check and install
operators, and unregister. Every panel is drawn through a recording UILayout at
each step. Background Blender runs no modal timers, so the modal path's logic
(``addon.job_driver.JobDriver``, which ``modal()`` ticks every 0.1 s) is tested
in plain Python against the fake backend.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import blender_subprocess_env, run_blender_script, write_fake_interpreter
from PIL import Image

from backend.asset import load_asset
from backend.asset.png import encode_png

SCRIPT = Path(__file__).resolve().parent / "blender_scripts" / "generate_blocking.py"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Run the Blender script once for the whole module; returns (result, work dir). Skips without bpy."""
    work = tmp_path_factory.mktemp("generate")
    start = work / "start.png"
    start.write_bytes(encode_png(np.full((6, 8, 3), 200, np.uint8)))
    fake = write_fake_interpreter(work / "fake-python")
    env = {**blender_subprocess_env(work / "blender-user"), "TWEEN4D_FAKE_MODE": "behave"}
    return run_blender_script(SCRIPT, str(fake), str(work), str(start), env=env), work


def test_inputs_are_checked_before_the_backend_starts(run):
    result, _ = run
    assert "No start image chosen" in result["no_input_error"]
    assert "does not exist" in result["missing_file_error"] and "missing.png" in result["missing_file_error"]
    assert result["client_after_input_errors"] is False
    assert any("does not exist" in label for label in result["error_draw"]["labels"])


def test_asset_folders_are_named_after_the_input(run):
    result, _ = run
    folder_name, file_name, image_name, asset_dir = result["auto_names"]
    assert (folder_name, file_name, image_name) == ("cat_jump", "lamp_open", "Robot Arm")
    # "cat jump?" + local time; characters unsafe in folder names become "_".
    assert re.fullmatch(r"cat_jump_-\d{8}-\d{6}", asset_dir), asset_dir


def test_successful_run_records_and_imports_the_asset(run):
    result, work = run
    ok = result["ok"]
    assert ok["status"] == ["FINISHED"]
    asset_dir = work / "out" / "ring"
    ((name, path, frames, gaussians),) = ok["recent"]
    assert Path(path).resolve() == asset_dir.resolve() and name == "ring"
    assert (frames, gaussians) == (5, 64)
    assert ok["job"] == {"running": False, "progress": 1.0, "stage": "Done", "error": "", "last_asset": path}
    asset = load_asset(asset_dir)
    assert asset.gaussians.means.shape == (5, 64, 3) and asset.manifest["fps"] == 12.0
    assert ok["collections_added"] >= 1  # imported by tween4d's importer
    assert ok["client_alive"]  # the backend stays up for the next job


def test_generated_end_image_reaches_the_backend_with_its_pixels(run):
    _, work = run
    rgba = np.asarray(Image.open(work / "out" / "ring" / "inputs" / "end.png").convert("RGBA"))
    assert rgba.shape == (3, 4, 4)
    # Blender's bottom-left pixel (red) is the PNG's last row, first column.
    assert rgba[2, 0].tolist() == [255, 0, 0, 255]
    assert (rgba[:2, :, 2] == 255).all() and (rgba[:2, :, 0] == 0).all()


def test_crash_is_reported_and_leaves_no_asset(run):
    result, _ = run
    assert "stopped in the middle of the job" in result["crash_error"]
    assert "fake backend boom" in result["crash_error"]
    assert result["crash"] == {"code": "backend.crashed", "running": False, "recent": 1, "asset_exists": False}
    assert any("stopped in the middle" in label for label in result["crash_draw"]["labels"])


def test_panels_draw_each_state_with_valid_layout_calls(run):
    result, _ = run
    idle = result["idle_draw"]
    assert "tween4d.generate" in idle["operators"] and not idle["progress"]
    assert "No results yet." in idle["labels"]
    assert "Generate or import an asset first." in idle["labels"]
    done = result["done_draw"]
    assert "wm.path_open" in done["operators"] and "tween4d.remove_recent" in done["operators"]
    assert "tween4d.import_asset" in done["operators"]
    assert "tween4d.bake_export" in done["operators"], "an imported asset offers Bake & Export"
    running = result["running_draw"]
    assert running["progress"] == [pytest.approx(0.3)]
    assert "tween4d.cancel" in running["operators"] and "tween4d.generate" not in running["operators"]
    assert result["generate_poll_while_running"] is False and result["cancel_requested"] is True
    prefs = result["preferences_draw"]
    assert {"tween4d.install_dependencies", "tween4d.check_backend"} <= set(prefs["operators"])


def test_one_image_panel_draws_each_motion_source(run):
    one = run[0]["one_image"]
    assert one["poll"] is True, "Generate is available in One Image mode"
    assert not any("coming soon" in label for label in one["empty_draw"]["labels"])
    assert "tween4d.generate" in one["empty_draw"]["operators"]
    assert "Image" in one["empty_draw"]["labels"]
    assert "tween4d.edit_drags" in one["drag_draw"]["operators"]
    assert {"tween4d.place_drags", "tween4d.drags_from_annotations"} <= set(one["drag_draw"]["operators"])
    assert {"tween4d.drag_add", "tween4d.drag_remove", "tween4d.drags_clear"} <= set(one["drag_draw"]["operators"])
    assert "tween4d.edit_drags" not in one["preset_draw"]["operators"]
    assert one["drag_list_draw"]["calls"] > 0


def test_one_image_requests_follow_the_single_image_job_format(run, tmp_path):
    one = run[0]["one_image"]
    image = str(Path(run[1]) / "start.png")
    preset, drag, video = (one["requests"][k] for k in ("preset", "drag", "video"))
    for req in (preset, drag, video):
        assert req["mode"] == "single_image"
        assert req["inputs"] == {"image": image}
        assert Path(req["output"]).name == "single"
        assert set(req["settings"]["engines"]) == {"foreground", "depth", "animate"}
        assert req["settings"]["engines"]["animate"] == req["settings"]["motion"]["source"]
    assert preset["settings"]["engines"]["depth"] == "depth"
    assert preset["settings"]["subject"] == "scene" and preset["settings"]["horizon"] == pytest.approx(0.4)
    assert preset["settings"]["motion"] == {"source": "preset", "preset": "wave", "amplitude": 1.5,
                                            "period_frames": 12, "direction_deg": pytest.approx(90.0),
                                            "loop": False}
    assert drag["settings"]["subject"] == "object" and drag["settings"]["horizon"] is None
    assert drag["settings"]["motion"] == {"source": "drag", "drags": [[1.0, 2.0, 6.5, 4.0], [7.0, 1.0, 8.0, 0.0]],
                                          "pins": [[4.0, 1.5]]}
    assert video["settings"]["motion"] == {"source": "video", "prompt": "the bear waves"}
    assert "no drag arrows" in one["no_drags_error"] and "Place Drags" in one["no_drags_error"]
    assert "cannot be pinned and dragged" in one["conflict_error"] and "drag list" in one["conflict_error"]
    assert "No input image chosen" in one["no_image_error"] and "to animate" in one["no_image_error"]


def test_drag_list_operators_and_gestures(run):
    one = run[0]["one_image"]
    assert one["after_remove"] == [["DRAG", [0.0, 0.0], [10.0, 0.0]], ["DRAG", [0.0, 0.0], [10.0, 0.0]]]
    assert one["after_clear"] == 0 and one["remove_poll_empty"] is False
    # drag, click (pin), press off the image (refused), release off the image (clamped to its edge)
    assert one["gestures"][0] == "" and one["gestures"][1] == "" and one["gestures"][3] == ""
    assert "on the image" in one["gestures"][2]
    assert one["list_after_gestures"] == [["DRAG", [1.0, 2.0], [6.5, 4.0]], ["PIN", [4.0, 1.5], [4.0, 1.5]],
                                          ["DRAG", [7.0, 1.0], [8.0, 0.0]]]


def test_one_image_run_adds_the_chosen_camera_rig(run):
    run_result = run[0]["one_image"]["run"]
    assert run_result["status"] == ["FINISHED"]
    assert run_result["rig_path"] == "ARC"
    assert run_result["recent"] == "single"


def test_unregister_stops_the_backend(run):
    result, _ = run
    assert result["backend_processes_after_disable"] and not any(result["backend_processes_after_disable"])


def test_check_operator_reports_the_handshake(run):
    result, _ = run
    assert result["check_ok"]["status"] == ["FINISHED"]
    assert result["check_ok"]["state"] == [True, "Backend fake ready (Python " + result["check_ok"]["python"]
                                           + ", protocol 1)."]
    assert "protocol version 999" in result["check_wrong_protocol"]["error"]
    assert result["check_wrong_protocol"]["state_ok"] is False


def test_install_operator_runs_install_deps_and_follows_its_steps(run):
    result, _ = run
    ok = result["install_ok"]
    assert ok["status"] == ["FINISHED"] and ok["state"] == [1.0, "Dependencies installed.", True, False]
    assert ok["args"][0] == "--target" and ok["args"][1].endswith("backend-venv")
    assert ok["progress_lines"] == ["install_deps: [1/3] Creating the venv", "install_deps: [2/3] Installing numpy",
                                    "install_deps: [3/3] Checking imports"]
    failed = result["install_failed"]
    assert "exit code 1" in failed["error"] and "no space left" in failed["error"]
    assert failed["state"] == ["Installation failed (exit code 1).", False, False]


# -- the modal path's driver (plain Python, no Blender) ----------------------


def _job_state():
    return SimpleNamespace(progress=0.0, stage="", message="", cancel_requested=False)


def _tick_until_final(driver, limit_s=30.0):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        final = driver.tick()
        if final is not None:
            return final
        time.sleep(0.02)
    raise AssertionError("the job never ended")


def _submit(make_client, tmp_path, mode, **kwargs):
    client = make_client(mode, **kwargs)
    client.wait_ready(30)  # so a cancel reaches the backend instead of dropping a job still held by the client
    job_id = client.generate({"mode": "two_image", "inputs": {"start": "", "end": ""},
                              "output": str(tmp_path / "asset"), "settings": {"frames": 4}})
    return client, job_id


def test_modal_driver_follows_a_job_to_its_result(addon_package, make_client, tmp_path):
    from tween4d.addon.job_driver import JobDriver

    client, job_id = _submit(make_client, tmp_path, "behave")
    state = _job_state()
    final = _tick_until_final(JobDriver(client, job_id, state, stall_timeout_s=30))
    assert final["type"] == "result" and Path(final["asset"], "asset.json").is_file()
    assert state.progress == 1.0 and state.stage == "5/5 Writing the asset 100%"


def test_modal_driver_cancel_stops_a_hung_backend(addon_package, make_client, tmp_path):
    from tween4d.addon.job_driver import JobDriver

    client, job_id = _submit(make_client, tmp_path, "hang", cancel_grace_s=0.2)
    state = _job_state()
    driver = JobDriver(client, job_id, state, stall_timeout_s=30)
    assert driver.tick() is None
    state.cancel_requested = True  # what the Cancel button does
    final = _tick_until_final(driver)
    assert final["type"] == "cancelled"
    client.process.wait(5)
    assert client.process.returncode == -signal.SIGTERM
    assert not (tmp_path / "asset").exists()


def test_modal_driver_stops_a_silent_backend(addon_package, make_client, tmp_path):
    from tween4d.addon.job_driver import JobDriver

    client, job_id = _submit(make_client, tmp_path, "hang", cancel_grace_s=0.2)
    state = _job_state()
    final = _tick_until_final(JobDriver(client, job_id, state, stall_timeout_s=0.3))
    assert final["type"] == "error" and final["code"] == "backend.timeout"
    assert "sent nothing for 0 s" in final["message"] and final["hint"]
