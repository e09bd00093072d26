"""The suite collects from any working directory, whatever the checkout's folder is called.

The repository root is the Blender extension and has an ``__init__.py``; pytest sets the root up
as a package and imports that file. In a checkout whose folder name is not a Python identifier
(``tween4d-main``) it used to be imported as a lone module and its relative import failed, so
every test errored. From a working directory outside the repository, ``backend`` resolved to the
namespace folder ``tests/backend`` instead of the real package.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hyphenated_checkout(tmp_path_factory) -> Path:
    """The repository seen through a folder named ``tween4d-main`` (one symlink per top-level entry)."""
    checkout = tmp_path_factory.mktemp("clone") / "tween4d-main"
    checkout.mkdir()
    for entry in ROOT.iterdir():
        if entry.name != ".git":
            (checkout / entry.name).symlink_to(entry)
    return checkout


@pytest.mark.parametrize("mode", ["prepend", "importlib"])
def test_tests_run_in_a_checkout_named_like_a_clone_and_from_elsewhere(hyphenated_checkout, tmp_path, mode):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    target = hyphenated_checkout / "tests" / "backend" / "test_rasterize.py"
    for cwd in (hyphenated_checkout, tmp_path):
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--import-mode={mode}",
                               str(target)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0 and "2 passed" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-2000:]


def test_extension_root_imports_without_its_package():
    """Loaded as a lone module (no parent package), the root defines register/unregister and imports nothing."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("__init__", ROOT / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.register) and callable(module.unregister)
