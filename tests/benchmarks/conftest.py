"""Fixtures for the 3D-truth benchmark tests: one small case built with headless Blender (bpy)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from truth3d_case_helpers import HAVE_BPY, build_small_case

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def small_truth_case(tmp_path_factory) -> Path:
    """The folder of the small truth case (skips when bpy is not installed)."""
    if not HAVE_BPY:
        pytest.skip("bpy (Blender as a Python module) is not installed: run install_deps.py --extra test")
    return build_small_case(tmp_path_factory.mktemp("truth3d"))
