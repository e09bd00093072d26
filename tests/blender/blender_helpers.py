"""Helpers for scripts that run inside a Blender subprocess started by the tests (see conftest.run_blender)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

sys.path.insert(0, str(ROOT / "scripts"))
from blender_dev import DEV_REPO_MODULE, enable_working_tree  # noqa: E402,F401  (shared with the demo)

RESULT_MARKER = "TWEEN4D_TEST_RESULT "


def emit(result: dict) -> None:
    """Report the script's result to the test (one marked JSON line on stdout)."""
    print(RESULT_MARKER + json.dumps(result), flush=True)


