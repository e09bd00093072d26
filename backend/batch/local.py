"""Run batch jobs on this machine, each in its own process.

Every job gets a fresh ``multiprocessing`` process (spawn context), so a job
that crashes, leaks or is killed by the kernel takes no other job down: a
``concurrent.futures.ProcessPoolExecutor`` would mark the whole pool broken
when one worker dies, which is why jobs are started one process each here.
At most ``workers`` run at once; a job starts only when the available memory
covers its estimate (``resources.estimate_job_bytes``) plus what the running
jobs may still grow to; with GPUs, a model-engine job gets one GPU of its own
(``CUDA_VISIBLE_DEVICES``). Ctrl-C (``KeyboardInterrupt``) cancels the running
jobs cooperatively, then terminates and finally kills what is left: no process
outlives the batch. The driver asks for that with a ``stop`` event (set by its
signal handlers), so a job that finishes at that moment is still recorded.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Callable, Optional

from . import resources
from .worker import cancelled_result, child_main, failed_result

#: Seconds a cancelled job gets to stop by itself before it is terminated (then killed 5 s later).
CANCEL_GRACE_S = 15.0


@dataclass
class Task:
    """One job to run.

    Attributes:
        name: the job name (for events).
        job: the ``backend.jobs.run_job`` request.
        est_bytes: estimated peak host memory (``resources.estimate_job_bytes``).
        gpu: the job wants a GPU of its own.
        payload: runner-specific extras (the Ray runner's input digests).
    """

    name: str
    job: dict
    est_bytes: int
    gpu: bool = False
    payload: dict = field(default_factory=dict)


@dataclass
class Events:
    """Callbacks from a runner to the batch driver (all called on the driver's main thread)."""

    on_start: Callable[[str], None] = lambda name: None
    on_progress: Callable[[str, float], None] = lambda name, fraction: None
    on_done: Callable[[str, dict], None] = lambda name, result: None


@dataclass
class _Running:
    task: Task
    proc: mp.Process
    cancel_w: object
    result_r: object
    t0: float
    gpu_id: Optional[str]
    result: Optional[dict] = None


def _signal_text(exitcode: int) -> str:
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        why = " (the kernel's out-of-memory killer sends this)" if -exitcode == signal.SIGKILL else ""
        return f"the worker process was killed by {name}{why}"
    return f"the worker process exited with code {exitcode} without a result"


class LocalRunner:
    """Runs tasks in separate processes on this machine.

    Args:
        workers: jobs at once (>= 1).
        threads_per_worker: OMP/MKL/OpenBLAS/OpenCV threads of each job's process.
        gpu_ids: GPU ids to hand out, one per running GPU job (``resources.gpu_ids()``).
    """

    def __init__(self, workers: int, threads_per_worker: int = 1, gpu_ids: Optional[list[str]] = None):
        self.workers = max(1, int(workers))
        self.threads = max(1, int(threads_per_worker))
        self.gpu_ids = list(gpu_ids or [])
        self._ctx = mp.get_context("spawn")
        self._stop = threading.Event()

    def _env(self, gpu_id: Optional[str]) -> dict:
        t = str(self.threads)
        env = {k: t for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                              "NUMEXPR_NUM_THREADS", "OPENCV_FOR_THREADS_NUM")}
        if gpu_id is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpu_id
        return env

    def _start(self, task: Task, gpu_id: Optional[str]) -> _Running:
        cancel_r, cancel_w = self._ctx.Pipe(duplex=False)
        result_r, result_w = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=child_main, args=(task.job, self._env(gpu_id), cancel_r, result_w),
                                 name=f"tween4d-batch-{task.name}", daemon=True)
        proc.start()
        cancel_r.close()
        result_w.close()
        return _Running(task, proc, cancel_w, result_r, time.perf_counter(), gpu_id)

    def _headroom(self, running: dict) -> Optional[int]:
        avail = resources.available_memory()
        if avail is None:
            return None
        still = sum(max(0, r.task.est_bytes - resources.process_rss(r.proc.pid)) for r in running.values())
        return avail - still

    def _drain(self, r: _Running, events: Events) -> None:
        try:
            while r.result_r.poll():
                kind, value = r.result_r.recv()
                if kind == "progress":
                    events.on_progress(r.task.name, value)
                elif kind == "result":
                    r.result = value
        except (EOFError, OSError):
            pass

    def _finish(self, r: _Running, events: Events) -> None:
        r.proc.join(timeout=5)
        if r.proc.is_alive():  # sent its result but does not exit (a library thread): do not let it linger
            r.proc.terminate()
            r.proc.join(timeout=5)
            if r.proc.is_alive():
                r.proc.kill()
                r.proc.join()
        self._drain(r, events)
        result = r.result
        if result is None and self._stop.is_set():
            # Killed while the batch stops (e.g. a SIGTERM to the whole process group): not the job's fault.
            result = cancelled_result(time.perf_counter() - r.t0)
        elif result is None:
            code = r.proc.exitcode if r.proc.exitcode is not None else -9
            result = failed_result("worker.crash", _signal_text(code),
                                   "The other jobs are unaffected. Rerun the batch (with --retry-failed) to try it "
                                   "again; if it is killed again, lower its quality or frames, or use fewer --workers.",
                                   time.perf_counter() - r.t0)
        for conn in (r.cancel_w, r.result_r):
            conn.close()
        events.on_done(r.task.name, result)

    def run(self, tasks: list[Task], events: Events, stop: Optional[threading.Event] = None) -> None:
        """Run every task; returns when all are done, or soon after ``stop`` is set.

        Once ``stop`` is set no task starts, and the running ones are cancelled and
        reaped (their results go to ``events.on_done``); tasks not started get no event.

        Raises:
            KeyboardInterrupt: raised into it (e.g. a second Ctrl-C), after the same clean-up.
        """
        stop = self._stop = stop or threading.Event()
        pending = deque(tasks)
        running: dict[str, _Running] = {}
        free_gpus = list(self.gpu_ids)
        try:
            while (pending or running) and not stop.is_set():
                while pending and len(running) < self.workers:
                    task = pending[0]
                    gpu_id = None
                    if task.gpu and self.gpu_ids:
                        if not free_gpus:
                            break
                        gpu_id = free_gpus[0]
                    headroom = self._headroom(running)
                    if headroom is not None and task.est_bytes > headroom:
                        if running:
                            break  # wait for a running job to finish
                        pending.popleft()
                        events.on_done(task.name, failed_result(
                            "memory", f"the job needs about {task.est_bytes / 2**30:.1f} GiB of memory and only "
                            f"{headroom / 2**30:.1f} GiB is available",
                            "Lower its quality or frame count, or free memory, then rerun the batch."))
                        continue
                    pending.popleft()
                    if gpu_id is not None:
                        free_gpus.remove(gpu_id)
                    running[task.name] = self._start(task, gpu_id)
                    events.on_start(task.name)
                if not running:
                    continue
                handles = [r.result_r for r in running.values()] + [r.proc.sentinel for r in running.values()]
                wait(handles, timeout=0.5)
                for name, r in list(running.items()):
                    self._drain(r, events)
                    if r.result is not None or not r.proc.is_alive():
                        del running[name]
                        if r.gpu_id is not None:
                            free_gpus.append(r.gpu_id)
                        self._finish(r, events)
        except KeyboardInterrupt:
            self._cancel_all(running, events)
            raise
        if running:
            self._cancel_all(running, events)

    def _cancel_all(self, running: dict, events: Events) -> None:
        """Cancel, then terminate, then kill the running jobs; report each one's outcome."""
        self._stop.set()
        for r in running.values():
            try:
                r.cancel_w.send("cancel")
            except OSError:
                pass
        deadline = time.monotonic() + CANCEL_GRACE_S
        try:
            while any(r.proc.is_alive() for r in running.values()) and time.monotonic() < deadline:
                wait([r.proc.sentinel for r in running.values() if r.proc.is_alive()], timeout=0.5)
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: stop waiting
        for r in running.values():
            if r.proc.is_alive():
                r.proc.terminate()
                r.proc.join(timeout=5)
            if r.proc.is_alive():
                r.proc.kill()
                r.proc.join()
        for r in running.values():
            self._drain(r, events)
            if r.result is None:
                r.result = cancelled_result(time.perf_counter() - r.t0)
            self._finish(r, events)
        running.clear()
