"""scripts/test.py: a Blender release per run, each in its own environment."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("tween4d_test_script", ROOT / "scripts" / "test.py")
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)


def test_blender_version_is_taken_out_of_the_pytest_arguments():
    assert script.split_args(["--blender", "4.2.23", "-x", "-k", "asset"]) == ("4.2.23", ["-x", "-k", "asset"])
    assert script.split_args(["--blender=4.5.15"]) == ("4.5.15", [])
    assert script.split_args(["-q"]) == (script.DEFAULT_BLENDER, ["-q"])


def test_each_release_gets_its_own_environment():
    default, args = script.environment_for("5.0.1")
    assert default == ROOT / ".venv" and args == ["--extra", "test"]
    lts, args = script.environment_for("4.2.23")
    assert lts == ROOT / ".venv-bpy-4.2.23"
    assert args[:4] == ["--extra", "blender-tests", "--bpy", "4.2.23"] and args[-1] == str(lts)


def test_unknown_release_is_refused():
    assert script.main(["--blender", "3.6.0"]) == 2
