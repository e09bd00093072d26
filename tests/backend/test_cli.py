"""The command line: a real generation with a summary, and exit codes plus messages for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "backend", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_generate_prints_summary_and_writes_asset(examples_dir, tmp_path):
    pair = examples_dir / "mill"
    out = tmp_path / "mill"
    proc = run_cli("generate", pair / "start.png", pair / "end.png", "-o", out, "--quality", "draft",
                   "--frames", "6", "--frame-plys", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["asset"] == str(out.resolve()) and summary["frames"] == 6
    assert set(summary["timings_s"]) >= {"foreground", "inbetween", "motion", "gaussians"}
    assert "[1/9] load" in proc.stderr, "a progress bar per stage is shown on stderr"
    assert len(list((out / "frames").glob("*.ply"))) == 6
    assert run_cli("validate", out).returncode == 0


def test_bad_inputs_exit_with_code_and_advice(tmp_path, examples_dir):
    pair = examples_dir / "mill"
    missing = run_cli("generate", tmp_path / "nope.png", pair / "end.png", "-o", tmp_path / "o")
    assert missing.returncode == 3 and "nope.png" in missing.stderr and "what to do:" in missing.stderr
    bad_engine = run_cli("generate", pair / "start.png", pair / "end.png", "-o", tmp_path / "o", "--engine", "warp=fast")
    assert bad_engine.returncode == 2 and "STAGE=NAME" in bad_engine.stderr
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    refused = run_cli("generate", pair / "start.png", pair / "end.png", "-o", foreign, "--quality", "draft", "--frames", "4")
    assert refused.returncode == 4 and "not a Tween4D asset" in refused.stderr
    assert (foreign / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "o").exists()


def test_folder_with_a_foreign_asset_json_is_refused_and_kept(examples_dir, tmp_path):
    """Issue 9, item 1: the exact reproduction (a folder whose asset.json is someone else's) exits 4, loses nothing."""
    folder = tmp_path / "x" / "p"
    folder.mkdir(parents=True)
    (folder / "asset.json").write_text('{"name":"mine"}\n')
    (folder / "thesis.txt").write_text("IMPORTANT\n")
    pair = examples_dir / "robot_arm"
    proc = run_cli("generate", pair / "start.png", pair / "end.png", "-o", folder, "--quality", "draft",
                   "--frames", "6", "--no-preview")
    assert proc.returncode == 4, proc.stderr
    assert "not a Tween4D asset" in proc.stderr and "what to do:" in proc.stderr
    assert (folder / "thesis.txt").read_text() == "IMPORTANT\n"
    assert (folder / "asset.json").read_text() == '{"name":"mine"}\n'
    assert sorted(p.name for p in folder.parent.iterdir()) == ["p"]


def test_regenerating_keeps_the_artists_blend(examples_dir, tmp_path):
    """A .blend saved inside a Tween4D asset folder survives regenerating into that folder."""
    pair = examples_dir / "robot_arm"
    out = tmp_path / "robot"
    args = ("generate", pair / "start.png", pair / "end.png", "-o", out, "--quality", "draft", "--no-preview")
    assert run_cli(*args, "--frames", "6").returncode == 0
    (out / "scene.blend").write_bytes(b"BLENDER precious")
    proc = run_cli(*args, "--frames", "5", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["frames"] == 5
    assert (out / "scene.blend").read_bytes() == b"BLENDER precious"
    assert run_cli("validate", out).returncode == 0
