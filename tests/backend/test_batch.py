"""``python -m backend batch``: real pairs at draft quality through worker processes and a local Ray instance.

Each run is a real subprocess of the CLI (as a person runs it); jobs are
small (draft quality, 6 frames, no preview) so the file stays lean on a
2-core CI machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from backend.asset import load_asset

ROOT = Path(__file__).resolve().parents[2]
PAIRS = ("mill", "robot_arm", "turtle")
FAST = ("--quality", "draft", "--frames", "6", "--no-preview")


def batch_cmd(manifest: Path, out: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "backend", "batch", str(manifest), "-o", str(out), *FAST, *args]


def run_batch(manifest: Path, out: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    return subprocess.run(batch_cmd(manifest, out, *args), cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def report(out: Path) -> dict:
    doc = json.loads((out / "batch_report.json").read_text())
    return {j["name"]: j for j in doc["jobs"]} | {"_doc": doc}


def write_manifest(path: Path, examples_dir: Path, extra_rows: str = "", frames: dict | None = None) -> Path:
    """A CSV manifest of the PAIRS (frames: per-row frame counts overriding the command line's)."""
    frames = frames or {}
    rows = "".join(f"{p},{examples_dir / p / 'start.png'},{examples_dir / p / 'end.png'},{frames.get(p, '')}\n"
                   for p in PAIRS)
    path.write_text("name,start,end,frames\n" + rows + extra_rows)
    return path


def no_partial_folders(out: Path) -> bool:
    return not [p for p in out.iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, examples_dir):
    """3 real pairs (turtle with its own frame count), 1 corrupt image, 1 single image; --workers 2."""
    tmp = tmp_path_factory.mktemp("batch")
    corrupt = tmp / "corrupt.png"
    corrupt.write_bytes((examples_dir / "mill" / "start.png").read_bytes()[:300])  # a truncated PNG
    manifest = tmp / "jobs.csv"
    extra = (f"broken,{corrupt},{examples_dir / 'mill' / 'end.png'},\n"
             f"single,{examples_dir / 'robot_arm' / 'start.png'},,\n")  # one image: a single-image job
    write_manifest(manifest, examples_dir, extra, {"turtle": 8})
    out = tmp / "out"
    proc = run_batch(manifest, out, "--workers", "2")
    return manifest, out, proc


def test_batch_runs_pairs_and_a_corrupt_input_fails_only_its_own_job(first_run):
    manifest, out, proc = first_run
    assert proc.returncode == 1, proc.stderr[-3000:]  # 1: some job failed
    rep = report(out)
    assert rep["_doc"]["counts"]["ok"] + rep["_doc"]["counts"]["failed"] == 5
    assert rep["_doc"]["workers"] == 2 and rep["_doc"]["runner"] == "local"
    for name in PAIRS:
        job = rep[name]
        assert job["status"] == "ok" and job["seconds"] > 0 and job["asset"] == str(out / name)
        asset = load_asset(out / name)
        assert asset.manifest["frame_count"] == (8 if name == "turtle" else 6), "per-row settings override defaults"
        assert asset.manifest["settings"]["quality"] == "draft"
    broken = rep["broken"]
    assert broken["status"] == "failed" and broken["asset"] is None
    assert broken["error"]["code"].startswith("input") and "corrupt.png" in broken["error"]["message"]
    assert not (out / "broken").exists() and no_partial_folders(out)
    # the summary table on stdout and one line per finished job on stderr
    assert all(name in proc.stdout for name in (*PAIRS, "broken", "single"))
    assert sum(line.startswith("ok ") for line in proc.stderr.replace("\r", "\n").splitlines()) == \
        rep["_doc"]["counts"]["ok"]


def test_a_row_with_one_image_is_a_single_image_job(first_run):
    from backend.jobs import MODES

    _, out, _ = first_run
    single = report(out)["single"]
    assert single["mode"] == "single_image"
    if "single_image" in MODES:  # the backend has single-image mode: the row makes an asset from its one image
        assert single["status"] == "ok"
        assert [i["role"] for i in load_asset(out / "single").manifest["inputs"]] == ["image"]
    else:  # the backend's own error for the mode, for that row only
        assert single["status"] == "failed" and "single_image" in single["error"]["message"]


def test_rerun_skips_complete_assets_and_keeps_the_failure(first_run):
    manifest, out, _ = first_run
    mtimes = {n: (out / n / "asset.json").stat().st_mtime_ns for n in PAIRS}
    proc = run_batch(manifest, out, "--workers", "2")
    assert proc.returncode == 1, proc.stderr[-3000:]
    rep = report(out)
    assert [rep[n]["status"] for n in PAIRS] == ["skipped"] * 3
    assert {n: (out / n / "asset.json").stat().st_mtime_ns for n in PAIRS} == mtimes, "nothing was regenerated"
    assert rep["broken"]["status"] == "failed" and rep["broken"]["carried_over"] is True
    retry = run_batch(manifest, out, "--workers", "2", "--retry-failed")
    rep = report(out)
    assert retry.returncode == 1 and rep["broken"]["carried_over"] is False and rep["broken"]["seconds"] > 0
    assert [rep[n]["status"] for n in PAIRS] == ["skipped"] * 3


def _job_processes(batch: psutil.Process) -> list[psutil.Process]:
    """The batch's job processes (multiprocessing spawn children, not its resource tracker)."""
    out = []
    for child in batch.children(recursive=True):
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                out.append(child)
        except psutil.NoSuchProcess:
            pass
    return out


def test_stopped_batch_reruns_only_the_missing_jobs(tmp_path, examples_dir):
    manifest = write_manifest(tmp_path / "jobs.csv", examples_dir)
    out = tmp_path / "out"
    proc = subprocess.Popen(batch_cmd(manifest, out, "--workers", "1"), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    batch = psutil.Process(proc.pid)
    deadline = time.monotonic() + 240
    seen: set = set()
    while not any((out / n / "asset.json").exists() for n in PAIRS) and time.monotonic() < deadline:
        seen.update(_job_processes(batch))
        time.sleep(0.1)
    seen.update(_job_processes(batch))
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the batch and its job processes get it
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-3000:]
    assert seen and not [p for p in seen if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], "no orphan job process"
    rep = report(out)
    assert rep["_doc"]["interrupted"] is True
    done = {n for n in PAIRS if rep[n]["status"] == "ok"}
    missing = set(PAIRS) - done
    assert done and missing, "stopped after the first job and before the last"
    assert {rep[n]["status"] for n in missing} <= {"cancelled", "not_started"}
    assert all(not (out / n).exists() for n in missing) and no_partial_folders(out)
    rerun = run_batch(manifest, out, "--workers", "1")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    rep = report(out)
    assert {n for n in PAIRS if rep[n]["status"] == "skipped"} == done
    assert {n for n in PAIRS if rep[n]["status"] == "ok"} == missing


def test_a_killed_worker_fails_only_its_own_job(tmp_path, examples_dir):
    manifest = write_manifest(tmp_path / "jobs.csv", examples_dir)
    out = tmp_path / "out"
    proc = subprocess.Popen(batch_cmd(manifest, out, "--workers", "2"), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    batch = psutil.Process(proc.pid)
    deadline = time.monotonic() + 120
    victim = None
    while victim is None and time.monotonic() < deadline:
        jobs = _job_processes(batch)
        if jobs:
            time.sleep(0.5)  # let it start working
            victim = jobs[0]
        time.sleep(0.05)
    assert victim is not None
    victim.kill()
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1, stderr[-3000:]
    rep = report(out)
    failed = [n for n in PAIRS if rep[n]["status"] == "failed"]
    assert len(failed) == 1 and [rep[n]["status"] for n in PAIRS].count("ok") == 2
    err = rep[failed[0]]["error"]
    assert err["code"] == "worker.crash" and "SIGKILL" in err["message"] and err["hint"]
    assert not (out / failed[0]).exists() and no_partial_folders(out)


def test_same_manifest_through_a_local_ray_instance(tmp_path, examples_dir, monkeypatch):
    """The manifest through ``--ray`` (the CLI's run_batch, local instance with 2 CPUs), then one job whose
    input paths the worker cannot see, so its images travel through Ray's object store."""
    ray = pytest.importorskip("ray")
    from backend.batch.ray_runner import RayRunner
    from backend.batch.ray_task import run_ray_job
    from backend.batch.resume import sha256_file
    from backend.batch.run import BatchOptions, run_batch
    from backend.batch.transfer import install_asset

    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    manifest = write_manifest(tmp_path / "jobs.csv", examples_dir)
    out = tmp_path / "out"
    opts = BatchOptions(manifest=manifest, out_root=out, workers=2, ray="local", quiet=True,
                        defaults={"quality": "draft", "frames": 6, "preview": False})
    assert RayRunner("local", 2, False, out)._init(ray), "a fresh local Ray instance"
    try:
        assert ray.cluster_resources()["CPU"] == 2
        result = run_batch(opts)
        assert not result.interrupted and [r.status for r in result.records] == ["ok"] * 3
        rep = report(out)
        assert rep["_doc"]["runner"] == "ray"
        for name in PAIRS:
            assert rep[name]["asset"] == str(out / name)
            asset = load_asset(out / name)
            assert asset.manifest["frame_count"] == 6 and [i["role"] for i in asset.manifest["inputs"]] == ["start", "end"]
        assert no_partial_folders(out)

        pair = examples_dir / "mill"
        inputs = {role: {"path": f"/nonexistent/{role}.png", "sha256": sha256_file(pair / f"{role}.png"),
                         "data": [ray.put((pair / f"{role}.png").read_bytes())]} for role in ("start", "end")}
        job = {"mode": "two_image", "inputs": {}, "output": str(out / "shipped"),
               "settings": {"quality": "draft", "frames": 6, "preview": False}}
        shipped = ray.get(ray.remote(run_ray_job).options(num_cpus=1).remote(job, inputs, False))
        assert shipped["status"] == "ok", shipped["error"]
        installed = load_asset(install_asset(shipped["tar"], out / "shipped"))
        assert [i["sha256"] for i in installed.manifest["inputs"]] == [inputs[r]["sha256"] for r in ("start", "end")]
        assert [i["original_name"] for i in installed.manifest["inputs"]] == ["start.png", "end.png"]
        # --shared-output: the task writes OUT_ROOT/<name> itself and sends no archive back
        shared = ray.get(ray.remote(run_ray_job).options(num_cpus=1).remote(
            {**job, "output": str(out / "shared")}, inputs, True))
        assert shared["status"] == "ok" and "tar" not in shared and load_asset(out / "shared").manifest["frame_count"] == 6
    finally:
        ray.shutdown()
    again = run_batch(opts)  # resumable the same way: nothing to run, so no Ray instance is started
    assert [r.status for r in again.records] == ["skipped"] * 3 and not ray.is_initialized()
