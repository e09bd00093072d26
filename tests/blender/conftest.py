"""Shared fixtures for tests that use real headless Blender (the ``bpy`` 5.0.1 wheel in the venv).

Every Blender these tests start, in this process or in a subprocess, gets:

* ``BLENDER_USER_RESOURCES``: a fresh temporary folder, so this machine's user
  preferences, extensions and startup file never leak in (and nothing is
  written to the real user folder);
* ``HF_HUB_OFFLINE=1``: no test may reach the Hugging Face Hub.

Both are set when this conftest is imported, before any test imports ``bpy``
(Blender reads them at start-up). ``bpy`` can be imported only once per
process and keeps its state, so tests that install or enable the extension run
Blender in a subprocess (:func:`run_blender`); in-process users take
``bpy_factory`` for factory settings and an empty file.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from blender_helpers import RESULT_MARKER

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
FAKE_BACKEND = FIXTURES / "fake_backend.py"

_SESSION_USER_DIR = tempfile.mkdtemp(prefix="tween4d-blender-user-")
os.environ["BLENDER_USER_RESOURCES"] = _SESSION_USER_DIR
os.environ["HF_HUB_OFFLINE"] = "1"
atexit.register(shutil.rmtree, _SESSION_USER_DIR, True)

HAVE_BPY = importlib.util.find_spec("bpy") is not None
requires_bpy = pytest.mark.skipif(not HAVE_BPY, reason="bpy (Blender as a Python module) is not installed: "
                                  "run install_deps.py --extra test")


def blender_ext_cli() -> Path:
    """Blender's own extension tool, ``bl_pkg/cli/blender_ext.py``, shipped inside the bpy wheel."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("bpy is not installed")
    base = Path(list(spec.submodule_search_locations)[0])
    found = sorted(base.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not found:
        pytest.skip(f"blender_ext.py not found under {base}")
    return found[-1]


def blender_subprocess_env(user_dir: Path) -> dict:
    """Environment for a Blender subprocess: ``user_dir`` as its user resources, offline Hub."""
    user_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["BLENDER_USER_RESOURCES"] = str(user_dir)
    env["HF_HUB_OFFLINE"] = "1"
    env.pop("PYTHONPATH", None)
    return env


def run_blender_script(script: Path, *args: str, env: dict, timeout: float = 240.0) -> dict:
    """Run ``script`` with the venv Python (which imports bpy) and return the JSON it reports.

    The script prints one line ``TWEEN4D_TEST_RESULT {json}`` (``blender_helpers.emit``).
    A non-zero exit status or a missing result line fails the test with the
    script's output.
    """
    if not HAVE_BPY:
        pytest.skip("bpy is not installed")
    proc = subprocess.run([sys.executable, str(script), *map(str, args)], cwd=str(ROOT), env=env,
                          capture_output=True, text=True, timeout=timeout)
    output = f"--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
    assert proc.returncode == 0, f"Blender script failed with exit status {proc.returncode}\n{output}"
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    assert lines, f"Blender script reported no result\n{output}"
    return json.loads(lines[-1][len(RESULT_MARKER):])


def write_fake_interpreter(path: Path) -> Path:
    """Write an executable that stands in for the backend's Python: it runs tests/fixtures/fake_backend.py.

    The add-on starts ``[interpreter, "-u", "-m", "backend", "serve"]``; the
    wrapper passes those arguments on. ``TWEEN4D_FAKE_MODE`` picks the behaviour.
    """
    if sys.platform == "win32":
        pytest.skip("the fake interpreter wrapper is a POSIX shell script")
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_BACKEND}" "$@"\n')
    path.chmod(0o755)
    return path


@pytest.fixture
def blender_env(tmp_path) -> dict:
    """Environment for a Blender subprocess with its own temporary user folder."""
    return blender_subprocess_env(tmp_path / "blender-user")


@pytest.fixture
def run_blender(blender_env):
    """``run_blender(script, *args, env=None)``: :func:`run_blender_script` with :func:`blender_env`."""

    def run(script: Path, *args: str, timeout: float = 240.0, env: dict | None = None) -> dict:
        return run_blender_script(script, *args, env={**blender_env, **(env or {})}, timeout=timeout)

    return run


@pytest.fixture
def bpy_factory():
    """``bpy`` in this process, reset to factory settings with an empty file."""
    if not HAVE_BPY:
        pytest.skip("bpy is not installed")
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy


@pytest.fixture
def fake_interpreter(tmp_path) -> Path:
    """The fake backend's interpreter wrapper (see :func:`write_fake_interpreter`)."""
    return write_fake_interpreter(tmp_path / "fake-python")


@pytest.fixture(scope="session")
def addon_package():
    """The extension root imported as package ``tween4d`` (as Blender would name it), without bpy.

    Returns the ``tween4d.addon`` package; ``tween4d.addon.client`` and
    ``tween4d.addon.install_runner`` work in plain Python.
    """
    holder = Path(tempfile.mkdtemp(prefix="tween4d-pkg-"))
    (holder / "tween4d").symlink_to(ROOT, target_is_directory=True)
    sys.path.insert(0, str(holder))
    try:
        yield importlib.import_module("tween4d.addon")
    finally:
        sys.path.remove(str(holder))
        shutil.rmtree(holder, ignore_errors=True)


@pytest.fixture
def client_mod(addon_package):
    """``tween4d.addon.client`` (plain Python)."""
    from tween4d.addon import client

    return client


@pytest.fixture
def make_client(client_mod, fake_interpreter):
    """``make_client(mode, step_s=0.02, **kwargs)``: a ``BackendClient`` of the fake backend in ``mode``.

    Every client made is closed after the test.
    """
    made = []

    def make(mode: str, step_s: float = 0.02, **kwargs):
        c = client_mod.BackendClient(fake_interpreter, str(ROOT),
                                     env={"TWEEN4D_FAKE_MODE": mode, "TWEEN4D_FAKE_STEP_S": str(step_s)}, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close(timeout=2.0)
