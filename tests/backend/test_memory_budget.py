"""A job that would not fit in memory is refused before any work, with the frame counts that would fit
(issue 9, item 7: frames=1000 at high quality peaked at 12.2 GB with no warning)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.pipeline.memory import MemoryBudgetError, available_bytes, check_memory, estimate_peak_bytes
from backend.settings import GenerateSettings

ROOT = Path(__file__).resolve().parents[2]


def test_estimate_grows_with_frames_and_quality():
    draft = [estimate_peak_bytes(GenerateSettings(quality="draft", frames=t)) for t in (10, 100, 1000)]
    high = [estimate_peak_bytes(GenerateSettings(quality="high", frames=t)) for t in (10, 100, 1000)]
    assert draft == sorted(draft) and high == sorted(high)
    assert all(h > d for h, d in zip(high, draft))


def test_refusal_names_what_fits_and_what_fits_really_fits():
    settings = GenerateSettings(quality="high", frames=1000)
    available = estimate_peak_bytes(GenerateSettings(quality="high", frames=120))
    with pytest.raises(MemoryBudgetError) as info:
        check_memory(settings, available=available)
    err = info.value
    assert "1000 frames at high quality need about" in err.message and "available" in err.message
    assert "frames at high" in err.hint and "frames at draft" in err.hint
    suggested = int(err.hint.split("Use at most ")[1].split(" frames at high")[0])
    assert 100 <= suggested <= 120
    assert check_memory(GenerateSettings(quality="high", frames=suggested), available=available) <= available


def test_this_machine_reports_its_available_memory():
    free = available_bytes()
    assert free is not None and free > 0


def test_cli_refuses_before_the_first_stage(examples_dir, tmp_path):
    pair = examples_dir / "mill"
    env = dict(os.environ, TWEEN4D_MEMORY_BYTES=str(300 * 2**20))
    proc = subprocess.run([sys.executable, "-m", "backend", "generate", str(pair / "start.png"),
                           str(pair / "end.png"), "-o", str(tmp_path / "o"), "--quality", "high", "--frames", "1000"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "need about" in proc.stderr and "what to do: Use at most" in proc.stderr
    assert "[2/9]" not in proc.stderr
    assert not (tmp_path / "o").exists()
