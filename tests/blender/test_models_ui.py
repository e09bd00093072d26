"""Model downloads from the add-on preferences: online access, the Models box, progress, failure, cancel.

One real headless Blender subprocess (blender_scripts/models_download.py)
enables this working tree and drives ``tween4d.refresh_models``,
``tween4d.download_model`` and ``tween4d.cancel_model_download``. The model
list is the real backend's (``models list --json`` run with this venv's
Python); downloads go through tests/fixtures/fake_models_python.py, which
prints tqdm-style bars, writes a snapshot into ``$HF_HOME`` and never touches
the network. ``bpy.app.online_access`` follows
``preferences.system.use_online_access`` when Blender was started without
``--offline-mode``/``--online-mode`` (the bpy module is), so both states are
set through the preference. The download runner's output handling is also
tested in plain Python.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, blender_subprocess_env, run_blender_script

from backend.models import MODELS

SCRIPT = Path(__file__).resolve().parent / "blender_scripts" / "models_download.py"
FAKE_MODELS_PYTHON = FIXTURES / "fake_models_python.py"


def write_fake_models_interpreter(path: Path) -> Path:
    """A shell wrapper standing in for the backend's Python: runs fake_models_python.py with the add-on's arguments."""
    if sys.platform == "win32":
        pytest.skip("the fake interpreter wrapper is a POSIX shell script")
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_MODELS_PYTHON}" "$@"\n')
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Run the Blender script once for the module; returns (result, work dir)."""
    work = tmp_path_factory.mktemp("models")
    fake = write_fake_models_interpreter(work / "fake-python")
    env = blender_subprocess_env(work / "blender-user")
    for spec in MODELS.values():
        env.pop(spec.env_var, None)
    return run_blender_script(SCRIPT, str(fake), str(work), env=env), work


def test_download_is_refused_while_online_access_is_off(run):
    result, _ = run
    offline = result["offline"]
    assert offline["online_access"] is False
    assert offline["status"] == ["ERROR"]
    assert "Online access is disabled" in offline["error"]
    assert "Preferences > System > Network > Allow Online Access" in offline["error"]
    assert offline["recorded"] is False and offline["download"] is False  # no process was started
    assert "Online access is disabled" in offline["last_result"]
    labels = result["offline_draw"]["labels"]
    assert any("Allow Online Access" in label for label in labels)


def test_models_box_lists_the_real_registry(run):
    result, _ = run
    assert result["refresh"]["status"] == ["FINISHED"]
    listed = result["listed"]
    assert listed["status"] == "ok"
    assert list(listed["rows"]) == list(MODELS)
    for key, row in listed["rows"].items():
        assert row["installed"] is False and row["missing"] == "model.missing"
        assert row["size_text"] == MODELS[key].size_text
    draw = result["offline_draw"]
    assert draw["download_keys"] == list(MODELS)  # one Download button per model, each with its key
    assert "tween4d.refresh_models" in draw["operators"]
    for key, spec in MODELS.items():
        # Each row shows the download size and the GPU memory the model needs.
        assert key in draw["labels"] and f"{spec.size_text} download, {spec.vram_text}" in draw["labels"]
        assert any(label.startswith(spec.purpose[:40]) for label in draw["labels"])
    assert {"tween4d.install_dependencies", "tween4d.check_backend"} <= set(draw["operators"])


def test_models_box_lists_again_in_a_thread_when_the_model_folder_changes(run):
    result, _ = run
    auto = result["auto_list"]
    assert auto["thread"] is True
    assert "Reading the model list from the backend..." in auto["first_labels"]
    assert auto["status"] == "ok" and auto["then"] == list(MODELS)


def test_missing_backend_says_install_dependencies_first(run):
    result, _ = run
    gone = result["no_interpreter"]
    assert gone["status"] == "needs_install" and "no-venv" in gone["message"]
    assert "Install dependencies first" in gone["draw"]["labels"]
    assert gone["draw"]["download_keys"] == []
    no_deps = result["no_deps"]
    assert no_deps["status"] == "needs_install" and "No module named 'numpy'" in no_deps["message"]


def test_download_runs_online_with_the_model_folder_and_shows_progress(run):
    result, work = run
    assert not any(row["installed"] for row in result["before_download"].values())
    ok = result["download_ok"]
    assert ok["status"] == ["FINISHED"], ok["error"]
    record = ok["record"]
    assert record["argv"] == ["-m", "backend", "models", "download", "depth"]
    assert Path(record["cwd"]).resolve() == ROOT.resolve()
    assert Path(record["env"]["PYTHONPATH"]).resolve() == ROOT.resolve()
    assert record["env"]["HF_HOME"] == str(work / "hf-home")
    # The test environment has HF_HUB_OFFLINE=1; the download must not inherit it.
    assert record["env"]["HF_HUB_OFFLINE"] is None and record["env"]["TRANSFORMERS_OFFLINE"] is None
    printed = ok["printed"]
    assert printed[0].startswith("models download: Downloading depth-anything/")
    bars = [line for line in printed if "model.safetensors:" in line]
    assert [line.split(":")[2].split("%")[0].strip() for line in bars] == ["0", "40", "70", "100"]
    assert printed[-1].startswith("models download: Done: ")
    # The real list, rerun after the download, finds the snapshot in HF_HOME.
    assert ok["rows"]["depth"]["installed"] is True and ok["rows"]["features"]["installed"] is False
    assert ok["last"] == ["Model 'depth' downloaded.", True]
    assert "depth" not in ok["draw"]["download_keys"] and "features" in ok["draw"]["download_keys"]
    assert "Model 'depth' downloaded." in ok["draw"]["labels"]


def test_generation_uses_the_same_model_folder_offline(run):
    result, work = run
    assert result["generation_env"] == {"HF_HOME": str(work / "hf-home"), "HF_HUB_OFFLINE": "1"}


def test_failed_download_reports_the_backend_error(run):
    result, _ = run
    failed = result["download_failed"]
    assert failed["status"] == ["ERROR"]
    assert "Downloading model 'features' failed (exit code 1)" in failed["error"]
    assert "fake network down" in failed["error"] and "Check the internet connection" in failed["error"]
    assert failed["rows"]["features"]["installed"] is False
    assert failed["last"][1] is False and "fake network down" in failed["last"][0]
    assert any("fake network down" in label for label in failed["draw"]["labels"])


def test_running_download_shows_progress_and_cancel_kills_it(run):
    result, _ = run
    running = result["running"]
    assert running["fraction"] == pytest.approx(0.1)
    draw = running["draw"]
    assert draw["progress"] == [pytest.approx(0.1)]
    assert "tween4d.cancel_model_download" in draw["operators"]
    assert running["download_poll"] is False  # one download at a time
    ok, cancelled, code, message = running["outcome"]
    assert (ok, cancelled) == (False, True) and code == -9  # SIGTERM ignored by the fake: killed
    assert "cancelled" in message
    assert result["after_disable"]["returncode"] is not None and result["after_disable"]["download"] is False


# -- the download runner in plain Python (no Blender) -------------------------


def test_runner_splits_carriage_return_bars_and_keeps_the_last(addon_package, tmp_path, monkeypatch):
    from tween4d.addon.models_runner import ModelDownload

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fake = write_fake_models_interpreter(tmp_path / "fake-python")
    download = ModelDownload(str(fake), "features", str(ROOT), {"HF_HOME": str(tmp_path / "hf")}).start()
    outcome = download.wait(0.02)
    assert outcome.ok and outcome.returncode == 0
    bars = [line for line in download.lines if line.startswith("model.safetensors:")]
    assert len(bars) == 4 and bars[-1].startswith("model.safetensors: 100%|")
    assert download.fraction == 1.0 and download.step_text.startswith("Done: ")
    assert (tmp_path / "hf" / "hub" / "models--facebook--dinov2-small" / "snapshots"
            / MODELS["features"].revision / "config.json").is_file()


def test_list_result_is_judged(addon_package):
    from tween4d.addon.models_runner import judge_list_result, parse_percent

    bad = judge_list_result(0, "not json", "")
    assert bad.status == "error" and "Could not read the model list" in bad.message
    crashed = judge_list_result(1, "", "Traceback ...\nRuntimeError: disk on fire\n")
    assert crashed.status == "error" and crashed.message.endswith("RuntimeError: disk on fire")
    assert parse_percent("x.bin:  45%|####5     | 45.0M/99.2M [00:02<00:02]") == pytest.approx(0.45)
    assert parse_percent("Downloading 100% of nothing") is None
