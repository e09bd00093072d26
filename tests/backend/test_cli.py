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
