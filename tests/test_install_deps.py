"""install_deps.py: groups, clear errors for old Python and a full disk, --check, and idempotent re-runs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("install_deps", ROOT / "install_deps.py")
install_deps = importlib.util.module_from_spec(spec)
spec.loader.exec_module(install_deps)


def test_test_extra_pulls_in_models_and_blender():
    assert install_deps.extras_closure([]) == ["core"]
    assert install_deps.extras_closure(["blender"]) == ["core", "blender"]
    assert install_deps.extras_closure(["ray"]) == ["core", "ray"]
    assert install_deps.extras_closure(["test"]) == ["core", "models", "blender", "ray", "test"]


def test_too_old_python_is_refused_with_advice(monkeypatch):
    monkeypatch.setattr(install_deps.sys, "version_info", (3, 9, 18, "final", 0))
    with pytest.raises(install_deps.InstallError, match="too old.*3.10 or newer"):
        install_deps.check_python(["core"])


def test_blender_extra_needs_python_311(monkeypatch):
    monkeypatch.setattr(install_deps.sys, "version_info", (3, 12, 1, "final", 0))
    install_deps.check_python(["core"])  # the backend alone is fine on 3.12
    with pytest.raises(install_deps.InstallError, match="Python 3.11"):
        install_deps.check_python(["core", "blender"])


def test_full_disk_is_refused_before_installing(monkeypatch, tmp_path):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(install_deps.shutil, "disk_usage", lambda p: usage(10 * 2**30, 10 * 2**30 - 2**28, 2**28))
    with pytest.raises(install_deps.InstallError, match="Not enough disk space.*0.2 GiB free"):
        install_deps.check_disk(tmp_path / "venv", ["core", "models"], "cpu")


def test_check_reports_a_missing_environment(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "install_deps.py"), "--check", "--target", str(tmp_path / "none")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "no virtual environment here" in proc.stdout


def test_rerun_on_the_installed_environment_is_quick_and_changes_nothing():
    venv = Path(sys.prefix)
    if not (venv / install_deps.STAMP).is_file():
        pytest.skip("this interpreter's environment was not made by install_deps.py")
    before = (venv / install_deps.STAMP).read_text()
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, str(ROOT / "install_deps.py"), "--extra", "test", "--target", str(venv)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "already installed" in proc.stdout
    assert time.monotonic() - t0 < 30
    assert (venv / install_deps.STAMP).read_text() == before
    check = subprocess.run([sys.executable, str(ROOT / "install_deps.py"), "--check", "--extra", "test", "--target", str(venv)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0 and "core    ok" in check.stdout and "blender ok" in check.stdout


def test_gsplat_build_report_says_whether_nvcc_is_there(monkeypatch, tmp_path):
    monkeypatch.setattr(install_deps.shutil, "which", lambda name: None)
    monkeypatch.delenv("CUDA_PATH", raising=False)
    monkeypatch.setenv("CUDA_HOME", str(tmp_path))
    monkeypatch.setattr(install_deps.Path, "is_file", lambda self: str(self).startswith(str(tmp_path / "bin")))
    (tmp_path / "bin").mkdir()
    assert "can build" in install_deps.gsplat_build_report()
    monkeypatch.setenv("CUDA_HOME", str(tmp_path / "none"))
    report = install_deps.gsplat_build_report()
    assert "cannot build" in report and "torch splatter" in report


def test_blender_release_environments_pin_their_bpy(tmp_path):
    assert install_deps.extras_closure(["blender-tests"]) == ["core", "models", "blender", "test"]
    cons = install_deps.bpy_constraints("4.2.23", tmp_path).read_text().splitlines()
    assert "bpy==4.2.23" in cons and "bpy==5.0.1" not in cons and any(c.startswith("numpy") for c in cons)
    assert install_deps.stamp_for(["core", "blender", "test"], "cpu", "4.2.23")["bpy"] == "4.2.23"
    assert "bpy" not in install_deps.stamp_for(["core", "blender", "test"], "cpu")
