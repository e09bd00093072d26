"""The batch driver: manifest -> resume plan -> runner -> report.

1. Read the manifest (``manifest.read_manifest``); command-line settings are the defaults.
2. For each job: hash its inputs, skip it when ``OUT_ROOT/<name>`` is complete for the same
   inputs and settings (``resume.check_asset``), keep an earlier run's failure with the same
   key unless ``retry_failed``; the rest run.
3. Run them on this machine (``local.LocalRunner``) or on Ray (``ray_runner.RayRunner``),
   with one overall progress bar and one line per finished job.
4. Rewrite ``OUT_ROOT/batch_report.json`` after every finished job; print the summary table.

Ctrl-C and SIGTERM stop the batch cleanly: running jobs are cancelled (nothing half-written),
finished assets stay, the report marks what ran.
"""

from __future__ import annotations

import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..errors import OutputError
from . import resources
from .local import Events, LocalRunner, Task
from .manifest import REPORT_NAME, BatchJob, read_manifest
from .report import JobRecord, format_table, job_line, now_iso, read_report, write_report
from .resume import check_asset, input_digests, job_key


@dataclass
class BatchOptions:
    """What ``python -m backend batch`` was asked to do.

    Attributes:
        manifest: CSV / JSON Lines file. out_root: folder receiving one asset folder per job.
        defaults: settings for every row (command line), overridden by the row's own columns.
        workers: jobs at once (None: ``resources.default_workers``); for Ray, the local instance's CPUs.
        retry_failed: rerun jobs that failed in an earlier run with the same inputs and settings.
        ray: None to run here; "local" for a local Ray instance; else a Ray cluster address.
        shared_output: Ray workers see OUT_ROOT at the same path and write there directly.
        quiet: no progress bar or per-job lines.
    """

    manifest: Path
    out_root: Path
    defaults: dict = field(default_factory=dict)
    workers: Optional[int] = None
    retry_failed: bool = False
    ray: Optional[str] = None
    shared_output: bool = False
    quiet: bool = False


@dataclass
class BatchResult:
    """What a batch did: records (one per manifest row, in order), whether it was interrupted, the report path."""

    records: list
    interrupted: bool
    report: Path

    @property
    def failed(self) -> int:
        """Number of jobs whose status is ``failed`` (this run's or carried over)."""
        return sum(r.status == "failed" for r in self.records)


class _Bar:
    """One overall tqdm bar (jobs done + fractions of running ones) and one line per finished job."""

    def __init__(self, total: int, quiet: bool):
        self.quiet = quiet
        self.total = total
        self.done = 0
        self.fractions: dict[str, float] = {}
        self.failed = 0
        self.bar = None
        if not quiet and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="batch", file=sys.stderr, unit="job", dynamic_ncols=True,
                            bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")
            self._refresh()

    def _refresh(self) -> None:
        if self.bar is None:
            return
        self.bar.n = min(self.total, self.done + sum(self.fractions.values()))
        self.bar.set_description_str(f"batch {self.done}/{self.total} done, {len(self.fractions)} running"
                                     + (f", {self.failed} failed" if self.failed else ""), refresh=False)
        self.bar.refresh()

    def start(self, name: str) -> None:
        self.fractions[name] = 0.0
        self._refresh()

    def progress(self, name: str, fraction: float) -> None:
        if name in self.fractions:
            self.fractions[name] = max(0.0, min(1.0, fraction))
            self._refresh()

    def finish(self, record: JobRecord) -> None:
        self.fractions.pop(record.name, None)
        if record.status in ("ok", "failed"):
            self.done += 1
        self.failed += record.status == "failed"
        self.write(job_line(record))
        self._refresh()

    def write(self, line: str) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _plan(jobs: list[BatchJob], out_root: Path, previous: dict, retry_failed: bool):
    records, tasks = [], []
    for job in jobs:
        digests = input_digests(job)
        rec = JobRecord(name=job.name, row=job.row, mode=job.mode, key=job_key(job, digests))
        records.append(rec)
        asset_dir = out_root / job.name
        if job.error:
            code, message, hint = job.error
            rec.status, rec.error = "failed", {"code": code, "message": message, "hint": hint}
            continue
        done, reason = check_asset(job, digests, asset_dir)
        if done:
            rec.status, rec.asset, rec.reason = "skipped", str(asset_dir), "complete for the same inputs and settings"
            continue
        prev = previous.get(job.name) or {}
        if not retry_failed and prev.get("status") == "failed" and prev.get("key") == rec.key and prev.get("error"):
            rec.status, rec.error, rec.carried_over = "failed", prev["error"], True
            rec.seconds = float(prev.get("seconds") or 0.0)
            rec.reason = "failed in an earlier run with the same inputs and settings"
            continue
        rec.status, rec.reason = "not_started", reason
        tasks.append(Task(name=job.name, job=job.job_dict(asset_dir),
                          est_bytes=resources.estimate_job_bytes(job.settings),
                          gpu=resources.needs_gpu(job.settings), payload={"digests": digests}))
    return records, tasks


class _StopSignals:
    """While active, Ctrl-C (SIGINT) and SIGTERM set ``event`` instead of interrupting whatever runs.

    The runners check the event between steps, so a job that finishes while the
    signal arrives is still recorded; a second signal raises ``KeyboardInterrupt``
    (stop waiting for running jobs to cancel themselves).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.event = threading.Event()
        self.old: dict = {}

    def _handle(self, signum, frame):
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self.old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, old in self.old.items():
            signal.signal(sig, old)
        return False


def run_batch(opts: BatchOptions) -> BatchResult:
    """Run a manifest; see the module docstring.

    Returns:
        ``BatchResult`` (records in manifest order; ``interrupted`` after Ctrl-C / SIGTERM).

    Raises:
        backend.batch.manifest.ManifestError: the manifest cannot be used.
        backend.errors.OutputError: OUT_ROOT cannot be created.
        backend.batch.ray_runner.RayUnavailableError: ``--ray`` without Ray installed, or no cluster there.
    """
    jobs = read_manifest(opts.manifest, opts.defaults)
    out_root = Path(opts.out_root).expanduser().resolve()
    try:
        out_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {out_root}: {exc}",
                          "Choose a folder you can write to.", code="output.root") from exc
    if (out_root / "asset.json").exists():
        raise OutputError(f"{out_root} is itself an asset folder", "Choose a folder for many assets, e.g. a new one.",
                          code="output.root")
    report_path = out_root / REPORT_NAME
    records, tasks = _plan(jobs, out_root, read_report(report_path), opts.retry_failed)
    by_name = {r.name: r for r in records}

    if opts.ray is not None:
        from .ray_runner import RayRunner

        runner = RayRunner(opts.ray, num_cpus=opts.workers, shared_output=opts.shared_output, out_root=out_root)
        runner_name, workers = "ray", opts.workers
    else:
        workers = opts.workers or resources.default_workers(t.job["settings"] for t in tasks)
        runner = LocalRunner(workers, threads_per_worker=max(1, resources.cpu_count() // workers),
                             gpu_ids=resources.gpu_ids() if any(t.gpu for t in tasks) else [])
        runner_name = "local"
    meta = {"manifest": str(Path(opts.manifest).resolve()), "out_root": str(out_root), "runner": runner_name,
            "ray_address": opts.ray, "workers": workers, "retry_failed": opts.retry_failed,
            "started": now_iso(), "finished": None, "interrupted": False}
    write_report(report_path, records, meta)

    bar = _Bar(len(tasks), opts.quiet)
    skipped = sum(r.status == "skipped" for r in records)
    if skipped:
        bar.write(f"skipped {skipped} job(s) whose asset is complete for the same inputs and settings")
    for r in records:
        if r.status == "failed":
            bar.write(job_line(r))

    def on_done(name: str, result: dict) -> None:
        rec = by_name[name]
        rec.status = result["status"]
        rec.seconds = float(result.get("seconds") or 0.0)
        rec.error = result.get("error")
        rec.warnings = result.get("warnings") or None
        rec.asset = result.get("asset") if rec.status == "ok" else None
        bar.finish(rec)
        write_report(report_path, records, meta)

    events = Events(on_start=bar.start, on_progress=bar.progress, on_done=on_done)
    interrupted = False
    try:
        with _StopSignals() as stop:
            if tasks:
                runner.run(tasks, events, stop.event)
            interrupted = stop.event.is_set()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        meta.update(finished=now_iso(), interrupted=interrupted)
        write_report(report_path, records, meta)
    return BatchResult(records=records, interrupted=interrupted, report=report_path)


def print_summary(result: BatchResult, file=None) -> None:
    """Print the summary table and where the report is."""
    file = file or sys.stdout
    print(format_table(result.records), file=file)
    print(f"report: {result.report}", file=file)
    if result.interrupted:
        print("stopped: finished assets are kept; run the same command again to do the rest", file=file)
