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
    assert run_cli(*args, "--frames", "4").returncode == 0
    (out / "scene.blend").write_bytes(b"BLENDER precious")
    proc = run_cli(*args, "--frames", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["frames"] == 3
    assert (out / "scene.blend").read_bytes() == b"BLENDER precious"
    assert run_cli("validate", out).returncode == 0


def test_validate_refuses_a_deeply_nested_manifest_without_a_traceback(tmp_path):
    """Issue 9, item 2: json's RecursionError in the reader printed a traceback."""
    (tmp_path / "asset.json").write_text('{"format":' + "[" * 100_000 + "]" * 100_000 + "}")
    proc = run_cli("validate", tmp_path)
    assert proc.returncode == 1 and "invalid:" in proc.stderr and "nested too deeply" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_settings_exit_2_before_any_work(examples_dir, tmp_path):
    """Issue 9, item 5: --seed -1 or an infinite fps ran the whole pipeline and ended as an internal error."""
    pair = examples_dir / "mill"
    for flag, value, field in (("--seed", "-1", "seed"), ("--fps", "inf", "fps"), ("--fps", "nan", "fps")):
        proc = run_cli("generate", pair / "start.png", pair / "end.png", "-o", tmp_path / "o", flag, value)
        assert proc.returncode == 2, (flag, value, proc.stderr)
        assert f"{field} must be" in proc.stderr and "[1/9]" not in proc.stderr
    assert not (tmp_path / "o").exists()


def _signal_once_writing(proc, parent: Path, sig, limit_s: float = 240.0) -> bool:
    """Send ``sig`` to ``proc`` as soon as a hidden partial folder appears in ``parent``; False if it never did."""
    import time

    deadline = time.monotonic() + limit_s
    while proc.poll() is None and time.monotonic() < deadline:
        if any(".partial-" in p.name for p in parent.iterdir()):
            proc.send_signal(sig)
            return True
        time.sleep(0.001)
    return False


def test_sigterm_during_the_write_cleans_up_and_exits_143(examples_dir, tmp_path):
    """Issue 9, item 4: SIGTERM during the write left the hidden partial folder forever."""
    import signal

    pair = examples_dir / "mill"
    out = tmp_path / "mill"
    proc = subprocess.Popen([sys.executable, "-m", "backend", "generate", str(pair / "start.png"),
                             str(pair / "end.png"), "-o", str(out), "--quality", "draft", "--frames", "40",
                             "--frame-plys", "--no-preview", "--quiet"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    caught = _signal_once_writing(proc, tmp_path, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert caught, "the write was over before the signal could be sent"
    assert proc.returncode == 143, err
    assert "cancelled: nothing was written" in err
    assert list(tmp_path.iterdir()) == [], "nothing may remain, hidden or not"


def test_huge_png_text_chunk_is_not_copied_into_the_asset(examples_dir, tmp_path):
    """Issue 9, item 7: a PNG's 200 MB text chunk was accepted and copied into inputs/ (here 8 MiB)."""
    import numpy as np
    from PIL import Image, PngImagePlugin

    pair = examples_dir / "mill"
    info = PngImagePlugin.PngInfo()
    info.add_text("workflow", "x" * (8 * 2**20))  # uncompressed tEXt
    start = tmp_path / "start_with_metadata.png"
    Image.open(pair / "start.png").save(start, pnginfo=info)
    assert start.stat().st_size > 8 * 2**20
    out = tmp_path / "asset"
    proc = run_cli("generate", start, pair / "end.png", "-o", out, "--quality", "draft", "--frames", "4",
                   "--no-preview", "--quiet")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "asset.json").read_text())
    entry = next(e for e in manifest["inputs"] if e["role"] == "start")
    kept = out / entry["file"]
    assert entry["file"] == "inputs/start.png" and "re-encoded" in entry["note"]
    assert kept.stat().st_size < 2**20, "the metadata was left out"
    assert "workflow" not in Image.open(kept).info
    np.testing.assert_array_equal(np.asarray(Image.open(kept)), np.asarray(Image.open(pair / "start.png")))
    assert (out / "inputs/end.png").read_bytes() == (pair / "end.png").read_bytes(), "plain files are copied as given"
    assert run_cli("validate", out).returncode == 0
