"""``batch_report.json`` and the summary table.

The report lists every manifest row with its status:

* ``ok``: generated in this run; ``skipped``: already complete for the same inputs and settings;
* ``failed``: with ``error`` {code, message, hint} (``carried_over`` when it failed in an earlier
  run with the same inputs and settings and ``--retry-failed`` was not given);
* ``cancelled``: was running when the batch was stopped; ``not_started``: never started (stopped first).

It is rewritten atomically (temp file + ``os.replace``) after every finished
job, so a batch killed at any moment leaves a report of what ran.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Optional

REPORT_FORMAT = "tween4d.batch_report"
REPORT_VERSION = 1
STATUSES = ("ok", "skipped", "failed", "cancelled", "not_started")


@dataclass
class JobRecord:
    """One job's line in the report.

    Attributes:
        name: job (asset folder) name. row: manifest line. mode: two_image | single_image.
        key: ``resume.job_key`` (mode + input SHA-256 + settings).
        status: one of ``STATUSES`` (None while still queued).
        seconds: wall time of the job in this run (0 for skipped ones).
        asset: absolute asset directory when it exists, else None.
        error: {code, message, hint[, traceback]} for failed jobs.
        carried_over: a failure recorded by an earlier run, not rerun.
        reason: why the job ran (e.g. "the settings changed"), or why it was skipped.
        warnings: the job's warning log lines.
    """

    name: str
    row: int
    mode: str
    key: str
    status: Optional[str] = None
    seconds: float = 0.0
    asset: Optional[str] = None
    error: Optional[dict] = None
    carried_over: bool = False
    reason: str = ""
    warnings: Optional[list] = None


def now_iso() -> str:
    """UTC time now, ISO 8601 with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_report(path: Path) -> dict:
    """The previous report's jobs by name ({} when there is none or it is unreadable)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict) or doc.get("format") != REPORT_FORMAT:
        return {}
    return {j.get("name"): j for j in doc.get("jobs", []) if isinstance(j, dict)}


def counts(records: list[JobRecord]) -> dict:
    """Status -> number of jobs."""
    out = dict.fromkeys(STATUSES, 0)
    for r in records:
        if r.status in out:
            out[r.status] += 1
    return out


def write_report(path: Path, records: list[JobRecord], meta: dict) -> None:
    """Write the report atomically: a temp file next to it, fsync, then ``os.replace``.

    Args:
        path: ``OUT_ROOT/batch_report.json``.
        records: every job of the manifest.
        meta: run facts (manifest, out_root, runner, workers, started, finished, interrupted).
    """
    doc = {"format": REPORT_FORMAT, "version": REPORT_VERSION, **meta, "counts": counts(records),
           "jobs": [asdict(r) for r in records]}
    tmp = path.parent / f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def job_line(r: JobRecord) -> str:
    """One line for a finished job: status, name, seconds, then the asset or the error."""
    what = r.asset or ""
    if r.error:
        what = f"{r.error.get('code')}: {r.error.get('message')}"
        if r.carried_over:
            what += " (earlier run; --retry-failed runs it again)"
    return f"{r.status:<11} {r.name}  {r.seconds:.1f}s  {what}".rstrip()


def format_table(records: list[JobRecord]) -> str:
    """The summary table: one row per job, then the counts."""
    width = max([4] + [len(r.name) for r in records])
    lines = [f"{'job':<{width}}  {'status':<11} {'seconds':>8}  asset / error", "-" * (width + 40)]
    for r in records:
        what = r.asset or ""
        if r.error:
            what = f"{r.error.get('code')}: {r.error.get('message')}"
            if r.error.get("hint"):
                what += f" -- {r.error['hint']}"
        lines.append(f"{r.name:<{width}}  {r.status or 'queued':<11} {r.seconds:>8.1f}  {what}")
    c = counts(records)
    lines.append("-" * (width + 40))
    lines.append(", ".join(f"{n} {s}" for s, n in c.items() if n) or "no jobs")
    return "\n".join(lines)
