"""The repository is a valid Blender extension: Blender's validator, build, headless install and enable.

Uses Blender's own ``blender_ext.py`` (bl_pkg/cli, shipped in the bpy wheel) to
validate and build, then installs the zip into a fresh user folder with
``extensions.package_install_files`` in a Blender subprocess
(blender_scripts/install_and_enable.py) and checks what got registered.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, blender_ext_cli, requires_bpy

SCRIPTS = Path(__file__).resolve().parent / "blender_scripts"

pytestmark = requires_bpy

REQUIRED_IN_ZIP = ("blender_manifest.toml", "__init__.py", "addon/__init__.py", "addon/client.py",
                   "addon/operators/generate.py", "backend/__init__.py", "backend/__main__.py",
                   "backend/protocol.py", "backend/server.py", "backend/asset/__init__.py", "install_deps.py")
FORBIDDEN_PREFIXES = (".venv/", ".git", "tests/", "benchmarks/", "scripts/", "examples/", ".ci/", "out/",
                      ".pytest_cache/")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(blender_ext_cli()), *args], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ext-build")
    proc = _cli("build", "--source-dir", str(ROOT), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (zip_path,) = out.glob("*.zip")
    return zip_path


def test_manifest_declares_what_the_extension_needs():
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    assert manifest["schema_version"] == "1.0.0" and manifest["id"] == "tween4d" and manifest["name"] == "Tween4D"
    assert manifest["type"] == "add-on" and manifest["blender_version_min"] == "4.2.0"
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    assert set(manifest["permissions"]) == {"files", "network"}
    assert "model weights" in manifest["permissions"]["network"]


def test_blenders_validator_accepts_the_manifest():
    proc = _cli("validate", str(ROOT))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zip_carries_addon_backend_and_installer_but_no_dev_files(built_zip):
    names = zipfile.ZipFile(built_zip).namelist()
    for required in REQUIRED_IN_ZIP:
        assert required in names, f"{required} missing from {built_zip.name}"
    # install_deps.py reads requirements/: every file of it ships.
    for req in (ROOT / "requirements").glob("*.txt"):
        assert f"requirements/{req.name}" in names
    bad = [n for n in names if n.startswith(FORBIDDEN_PREFIXES) or "__pycache__" in n or n.endswith((".pyc", ".zip"))]
    assert not bad, bad
    assert built_zip.stat().st_size < 2_000_000


def test_zip_installs_headless_and_registers_the_addon(built_zip, run_blender):
    result = run_blender(SCRIPTS / "install_and_enable.py", str(built_zip))
    assert result["install"] == ["FINISHED"]
    assert result["enabled"] is True
    assert set(result["installed_files"]) >= {"backend", "addon", "install_deps.py", "blender_manifest.toml"}
    assert set(result["operators"]) >= {"tween4d.generate", "tween4d.cancel", "tween4d.install_dependencies",
                                        "tween4d.check_backend", "tween4d.import_asset", "tween4d.bake_export",
                                        "tween4d.add_camera_rig"}
    assert result["panels"] == [True, True, True, True]
    assert result["scene_defaults"] == {"frames": 49, "fps": 24.0, "mode": "TWO_IMAGE"}
    assert result["interpreter"].endswith("backend-venv/bin/python")
    # The venv lives in the extension's user folder, which survives upgrades, not in the extension folder.
    assert not result["interpreter"].startswith(result["extension_folder"])
    # Online access is off in background mode: installing refuses with a clear message.
    assert "Allow Online Access" in result["install_offline_error"]
    assert result["import_menu"] == 1
    assert result["after_disable"] == {"panel": False, "scene_prop": False, "import_menu": 0}
