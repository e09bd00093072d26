"""Running one batch job inside a worker (a local child process or a Ray task).

``execute_job`` turns ``backend.jobs.run_job`` into a plain, picklable result
dict that never raises for job errors. ``child_main`` is the entry point of a
local worker process: it sets the thread/GPU environment before anything
heavy is imported, listens for a cancel message from the driver, and sends
progress and the result back over pipes.

Result dict: ``{"status": "ok"|"failed"|"cancelled", "seconds": float,
"asset": str|None, "summary": dict|None, "error": {"code", "message", "hint"}|None,
"warnings": [str]}``.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from pathlib import Path
from typing import Callable, Optional


def failed_result(code: str, message: str, hint: str, seconds: float = 0.0) -> dict:
    """The result dict of a job that failed (see the module docstring); ``code`` e.g. "worker.crash"."""
    return {"status": "failed", "seconds": round(seconds, 3), "asset": None, "summary": None,
            "error": {"code": code, "message": message, "hint": hint}, "warnings": []}


def cancelled_result(seconds: float = 0.0) -> dict:
    """The result dict of a job that was stopped before it finished (nothing written)."""
    return {"status": "cancelled", "seconds": round(seconds, 3), "asset": None, "summary": None, "error": None,
            "warnings": []}


def _jsonable(obj):
    import json

    return json.loads(json.dumps(obj, default=str))


def _written_since(output, since: float) -> Optional[str]:
    """The asset folder when ``output/asset.json`` was written after ``since`` (epoch s), else None.

    The writer renames a complete asset into place; the pipeline checks for a
    cancel once more after that, so a cancel at that moment still leaves a
    finished asset, which this recognises.
    """
    if not output:
        return None
    manifest = Path(output) / "asset.json"
    try:
        return str(Path(output).resolve()) if manifest.stat().st_mtime >= since else None
    except OSError:
        return None


def execute_job(job: dict, on_progress: Optional[Callable[[float], None]] = None,
                cancel: Optional[threading.Event] = None) -> dict:
    """Run one job through ``backend.jobs.run_job`` and describe the outcome.

    Args:
        job: a ``run_job`` request (mode, inputs, output, settings).
        on_progress: called with the job's overall fraction 0..1 (throttled to 2 per second).
        cancel: set to stop the job cooperatively (nothing is written then).

    Returns:
        The result dict described in the module docstring. Job errors
        (``Tween4DError``), cancellation and unexpected exceptions are all
        reported in it, never raised.
    """
    from ..errors import Cancelled, Tween4DError
    from ..jobs import run_job

    t0, started = time.perf_counter(), time.time()
    warnings: list[str] = []
    last = [0.0]

    def sink(event: dict) -> None:
        if event.get("type") == "log" and event.get("level") == "warning":
            warnings.append(str(event.get("message")))
        elif event.get("type") == "progress" and on_progress is not None:
            now = time.monotonic()
            if now - last[0] >= 0.5:
                last[0] = now
                on_progress(float(event.get("overall", 0.0)))

    out = {"status": "failed", "seconds": 0.0, "asset": None, "summary": None, "error": None, "warnings": warnings}
    try:
        result = run_job(job, sink=sink, cancel=cancel)
        out.update(status="ok", asset=str(result.asset_dir), summary=_jsonable(result.summary))
    except (Cancelled, KeyboardInterrupt):
        out.update(status="cancelled")
        done = _written_since(job.get("output"), started)
        if done is not None:  # the cancel came after the asset was committed: it is complete
            out.update(status="ok", asset=done)
    except Tween4DError as exc:
        out["error"] = {"code": exc.code, "message": exc.message, "hint": exc.hint}
    except MemoryError:
        out["error"] = {"code": "memory", "message": "the job ran out of memory",
                        "hint": "Run fewer jobs at once (--workers), or lower its quality or frame count."}
    except Exception as exc:  # a bug: keep the traceback in the report
        out["error"] = {"code": "internal", "message": f"{type(exc).__name__}: {exc}",
                        "hint": "This is a bug; please report it with the traceback from batch_report.json.",
                        "traceback": traceback.format_exc()[-4000:]}
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out


def child_main(job: dict, env: dict, cancel_conn, result_conn) -> None:
    """Entry point of a local worker process (``multiprocessing`` spawn context).

    Args:
        job: the ``run_job`` request.
        env: environment variables to set before numpy/OpenCV/torch load
            (thread counts, ``CUDA_VISIBLE_DEVICES``).
        cancel_conn: read end of a pipe; "cancel" or the driver's exit (EOF) cancels the job.
        result_conn: write end: ``("progress", fraction)`` messages, then ``("result", dict)``.
    """
    os.environ.update(env)
    # Ctrl-C in a terminal reaches the whole process group: the driver decides, and cancels us by message.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cancel = threading.Event()

    def listen() -> None:
        try:
            cancel_conn.recv()
        except (EOFError, OSError):
            pass
        cancel.set()

    threading.Thread(target=listen, daemon=True).start()

    def progress(fraction: float) -> None:
        try:
            result_conn.send(("progress", fraction))
        except OSError:
            cancel.set()

    result = execute_job(job, progress, cancel)
    try:
        result_conn.send(("result", result))
    except OSError:
        pass
