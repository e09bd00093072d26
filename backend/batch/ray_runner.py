"""Run batch jobs as Ray tasks: on a cluster (``--ray ADDRESS``) or a local Ray instance (``--ray``).

Ray does the distribution: every job is one task with the resources it needs
(``num_cpus=1``; ``num_gpus=1`` for model engines unless the job's device is
"cpu"; ``memory`` = ``resources.estimate_job_bytes``, so Ray's scheduler starts
no task that a node's memory cannot hold), ``max_retries=0`` (a crashed job is
reported, not silently rerun). The driver keeps a bounded number of tasks in
flight, waits with ``ray.wait`` and installs each returned asset under OUT_ROOT
(``transfer.install_asset``) -- or, with ``shared_output``, the workers write
OUT_ROOT themselves. Input images travel as described in ``ray_task``.

The driver ships its own ``backend`` package to the workers
(``runtime_env={"py_modules": [...]}``), so every node runs the driver's code;
the nodes need the Tween4D backend's Python packages installed
(``install_deps.py``). A local instance is started without the dashboard and
with usage statistics off (``RAY_USAGE_STATS_ENABLED=0``), and shut down at the end.

Reference: Ray Core docs, "Tasks", "Specifying required resources",
"Cancelling tasks", "Runtime environments" (https://docs.ray.io/en/latest/ray-core/).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Optional

from ..errors import Tween4DError
from . import resources
from .local import Events, Task
from .worker import cancelled_result, failed_result


class RayUnavailableError(Tween4DError):
    """``--ray`` was asked for but Ray is not installed, or no cluster answers at the address."""

    code = "ray"


def import_ray():
    """Import ray, or raise ``RayUnavailableError`` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise RayUnavailableError("Ray is not installed in this environment",
                                  "Install it with: python3 install_deps.py --extra ray") from None
    return ray


class RayRunner:
    """Runs tasks on Ray.

    Args:
        address: "local" for a local instance, else a Ray address ("auto", "ray://host:10001", "host:6379").
        num_cpus: CPUs of a local instance (None: this machine's cores); ignored for a cluster.
        shared_output: workers write OUT_ROOT directly (same path on every node).
        out_root: OUT_ROOT as the driver sees it.
        max_in_flight: tasks submitted but not finished (None: 2 x the cluster's CPUs, at least 4),
            which bounds the input bytes held in the object store.
    """

    def __init__(self, address: str, num_cpus: Optional[int], shared_output: bool, out_root: Path,
                 max_in_flight: Optional[int] = None):
        self.address = address
        self.num_cpus = num_cpus
        self.shared_output = shared_output
        self.out_root = Path(out_root)
        self.max_in_flight = max_in_flight

    def _init(self, ray) -> bool:
        if ray.is_initialized():
            return False
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        backend_dir = str(Path(__file__).resolve().parents[1])
        kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False,
                      runtime_env={"py_modules": [backend_dir]})
        if self.address == "local":
            kwargs["num_cpus"] = self.num_cpus or resources.cpu_count()
        else:
            kwargs["address"] = self.address
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RayUnavailableError(f"cannot start or reach Ray at {self.address!r}: {exc}",
                                      "Check the address (ray status on the head node), or run --ray without "
                                      "an address for a local instance.") from exc
        return True

    def _submit(self, ray, remote, task: Task):
        inputs = {}
        for role, path in task.job["inputs"].items():
            digest = task.payload.get("digests", {}).get(role)
            data = None
            if digest is not None:
                try:
                    data = ray.put(Path(path).read_bytes())
                except OSError:  # gone since the plan: the task uses the path and the job reports the file
                    digest = None
            inputs[role] = {"path": path, "sha256": digest, "data": [data]}
        opts = {"num_cpus": 1, "num_gpus": 1 if task.gpu else 0, "memory": task.est_bytes, "max_retries": 0,
                "name": f"tween4d-batch:{task.name}"}
        return remote.options(**opts).remote(task.job, inputs, self.shared_output)

    def _collect(self, ray, ref, task: Task, t0: float, stopping: bool = False) -> dict:
        from ray.exceptions import RayError, TaskCancelledError

        try:
            result = ray.get(ref)
        except TaskCancelledError:
            return cancelled_result(time.perf_counter() - t0)
        except RayError as exc:
            if stopping:  # lost while the batch stops: not the job's fault
                return cancelled_result(time.perf_counter() - t0)
            text = str(exc).strip().splitlines()
            return failed_result("worker.crash", f"the Ray task failed: {text[0] if text else type(exc).__name__}",
                          "The other jobs are unaffected. Rerun the batch with --retry-failed; if it fails again, "
                          "lower its quality or frames.", time.perf_counter() - t0)
        tar = result.pop("tar", None)
        if tar is not None:
            from .transfer import install_asset

            try:
                result["asset"] = str(install_asset(tar, task.job["output"]))
            except Tween4DError as exc:
                result.update(status="failed", asset=None,
                              error={"code": exc.code, "message": exc.message, "hint": exc.hint})
        return result

    def run(self, tasks: list[Task], events: Events, stop: Optional[threading.Event] = None) -> None:
        """Run every task on Ray; returns when all are done, or soon after ``stop`` is set.

        Once ``stop`` is set nothing more is submitted and the tasks in flight are
        cancelled (their outcome goes to ``events.on_done``).

        Raises:
            RayUnavailableError: Ray missing or unreachable.
            KeyboardInterrupt: raised into it, after the same clean-up.
        """
        stop = stop or threading.Event()
        ray = import_ray()
        started_here = self._init(ray)
        try:
            from .ray_task import run_ray_job

            remote = ray.remote(run_ray_job)
            cluster = ray.cluster_resources()
            has_gpu = cluster.get("GPU", 0) >= 1
            node_memory = max([n.get("Resources", {}).get("memory", 0) for n in ray.nodes() if n.get("Alive")] or [0])
            limit = self.max_in_flight or max(4, 2 * int(cluster.get("CPU", 1)))
            pending = list(tasks)
            in_flight: dict = {}  # ref -> (task, t0)
            try:
                while (pending or in_flight) and not stop.is_set():
                    while pending and len(in_flight) < limit:
                        task = pending.pop(0)
                        if task.gpu and not has_gpu:
                            events.on_done(task.name, failed_result(
                                "ray.gpu", "the job uses a model engine and the Ray cluster has no GPU",
                                "Add GPU nodes to the cluster, or set device=cpu for this job."))
                            continue
                        if node_memory and task.est_bytes > node_memory:  # Ray would wait for it forever
                            events.on_done(task.name, failed_result(
                                "memory", f"the job needs about {task.est_bytes / 2**30:.1f} GiB of memory and the "
                                f"largest Ray node offers {node_memory / 2**30:.1f} GiB",
                                "Lower its quality or frame count, or add a node with more memory."))
                            continue
                        in_flight[self._submit(ray, remote, task)] = (task, time.perf_counter())
                        events.on_start(task.name)
                    if not in_flight:
                        continue
                    ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=0.5)
                    for ref in ready:
                        task, t0 = in_flight.pop(ref)
                        events.on_done(task.name, self._collect(ray, ref, task, t0, stop.is_set()))
            except KeyboardInterrupt:
                self._cancel_all(ray, in_flight, events)
                raise
            if in_flight:
                self._cancel_all(ray, in_flight, events)
        finally:
            if started_here:
                ray.shutdown()

    def _cancel_all(self, ray, in_flight: dict, events: Events) -> None:
        """Cancel the tasks in flight (KeyboardInterrupt inside each), wait up to 15 s, report each outcome."""
        for ref in in_flight:
            try:
                ray.cancel(ref)
            except Exception:  # already finished
                pass
        try:
            ray.wait(list(in_flight), num_returns=len(in_flight), timeout=15.0)
        except KeyboardInterrupt:
            pass
        for ref, (task, t0) in list(in_flight.items()):
            ready, _ = ray.wait([ref], timeout=0)
            events.on_done(task.name, self._collect(ray, ref, task, t0, stopping=True) if ready
                           else cancelled_result(time.perf_counter() - t0))
        in_flight.clear()
