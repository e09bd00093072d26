"""The body of one batch job as a Ray task (runs on a Ray worker, any node).

Inputs: each input image arrives as ``{"path", "sha256", "data": [ObjectRef | None]}``.
The task reads the file at ``path`` when this node sees it with the same
SHA-256 (a shared file system, or the driver's own node); otherwise it fetches
the bytes the driver put in the object store. The reference is wrapped in a
list so that Ray does not fetch it before the task runs (Ray resolves only
top-level ``ObjectRef`` arguments), so nodes that see the files never copy them.

Outputs: with ``shared_output`` the job writes ``OUT_ROOT/<name>`` itself
(OUT_ROOT must be the same path on every node); otherwise it writes into a
temporary folder on the worker and returns the asset as tar bytes
(``transfer.pack_dir``) for the driver to install.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .resume import sha256_file
from .worker import execute_job, failed_result


def _local_inputs(inputs: dict, tmp: Path) -> dict:
    out = {}
    for role, spec in inputs.items():
        path = Path(spec["path"])
        if spec.get("sha256") is None or (path.is_file() and sha256_file(path) == spec["sha256"]):
            out[role] = str(path)  # seen here (or missing on the driver too: the job reports it)
            continue
        import ray

        local = tmp / "inputs" / role / path.name
        local.parent.mkdir(parents=True)
        local.write_bytes(ray.get(spec["data"][0]))
        out[role] = str(local)
    return out


def run_ray_job(job: dict, inputs: dict, shared_output: bool) -> dict:
    """Run one job on this Ray worker.

    Args:
        job: the ``backend.jobs.run_job`` request; ``output`` is ``OUT_ROOT/<name>`` as the driver sees it.
        inputs: role -> {"path", "sha256", "data": [ObjectRef | None]} (see the module docstring).
        shared_output: write ``job["output"]`` directly instead of returning the asset.

    Returns:
        ``worker.execute_job``'s result dict; without ``shared_output`` an ok result also
        carries ``"tar"``: the asset as uncompressed tar bytes (``asset`` is then None).
    """
    with tempfile.TemporaryDirectory(prefix="tween4d-batch-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            local_inputs = _local_inputs(inputs, tmp)
        except Exception as exc:  # the object store lost the bytes, or the temp folder is full
            return failed_result("input.transfer", f"the input images could not be brought to this worker: {exc}",
                                 "Rerun the batch with --retry-failed.")
        job = dict(job, inputs=local_inputs)
        out = Path(job["output"])
        if shared_output:
            if not out.parent.is_dir():
                return failed_result("output.shared", f"{out.parent} does not exist on this Ray node",
                                     "Use a folder that every node sees at the same path, or drop --shared-output.")
        else:
            job["output"] = str(tmp / "out" / out.name)
        result = execute_job(job)
        if result["status"] == "ok" and not shared_output:
            from .transfer import pack_dir

            result["tar"] = pack_dir(job["output"])
            result["asset"] = None
        return result
