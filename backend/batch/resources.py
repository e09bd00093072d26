"""What a job needs and what the machine has: memory estimates, free memory, cores, GPUs.

Standard library only (psutil is used when installed, ``/proc`` otherwise),
so the batch driver stays light.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Iterable, Optional

from ..settings import PRESETS

#: Engines that load model weights (and want a GPU); every other engine is weight-free.
#: Two-image stages: inbetween "video", keyframes "features", geometry "depth", motion "deformation";
#: single-image stages: depth "depth", animate "video".
MODEL_ENGINES = frozenset({"video", "features", "depth", "deformation"})

MiB = 2**20
#: Host memory of a worker process before any job data: interpreter, numpy, SciPy, OpenCV, onnxruntime.
BASE_BYTES = 500 * MiB
#: Extra host memory when a job loads model weights (torch + a diffusers/transformers pipeline on the host side).
MODEL_BYTES = 8 * 2**30


def uses_model_engine(settings: Optional[dict]) -> bool:
    """True when a job's settings pick a model engine for some stage and do not force the CPU.

    Args:
        settings: a ``GenerateSettings.to_dict()`` (``engines``: stage -> engine name; ``device``).
    """
    if not settings:
        return False
    engines = settings.get("engines") or {}
    return any(name in MODEL_ENGINES for name in engines.values())


def needs_gpu(settings: Optional[dict]) -> bool:
    """True when a job should be placed on a GPU: a model engine and a device other than "cpu"."""
    return uses_model_engine(settings) and (settings or {}).get("device", "auto") != "cpu"


def estimate_job_bytes(settings: Optional[dict]) -> int:
    """Peak host memory of one job, in bytes, from its quality and frame count.

    The weight-free pipeline holds per frame the in-between images (float32
    RGB at the working resolution, plus warps: about 24 bytes per working
    pixel) and the per-frame Gaussian means, scales, rotations and mesh
    vertices (about 120 bytes per Gaussian). With ``BASE_BYTES`` this is
    1.3-2x the peak RSS measured on the bundled pairs (draft/6 frames: 130 MB
    measured; standard/49: 310 MB; high/49: 740 MB), an upper bound by design:
    the batch runner starts a job only when this much memory is available.

    Args:
        settings: ``GenerateSettings.to_dict()`` (``quality``, ``frames``, ``engines``).

    Returns:
        bytes (int).
    """
    settings = settings or {}
    preset = PRESETS.get(settings.get("quality", "standard"), PRESETS["standard"])
    frames = int(settings.get("frames", 49))
    per_frame = preset.gaussian_count * 120 + preset.working_max_side**2 * 24
    total = BASE_BYTES + frames * per_frame
    if uses_model_engine(settings):
        total += MODEL_BYTES
    return int(total)


def _meminfo() -> dict:
    out = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if parts:
                    out[key] = int(parts[0]) * 1024
    except OSError:
        pass
    return out


def available_memory() -> Optional[int]:
    """Memory that new processes can use without swapping, in bytes (None when unknown).

    psutil's ``virtual_memory().available`` when installed, else ``MemAvailable``
    from ``/proc/meminfo`` (Linux >= 3.14); both are the kernel's estimate of
    free + reclaimable page cache.
    """
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    info = _meminfo()
    return info.get("MemAvailable")


def process_rss(pid: int) -> int:
    """Resident memory of process ``pid`` in bytes (0 when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return int(psutil.Process(pid).memory_info().rss)
    except Exception:  # psutil missing or the process is gone
        return 0


def cpu_count() -> int:
    """Cores this process may use (its CPU affinity where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def gpu_ids() -> list[str]:
    """Visible NVIDIA GPUs: ``CUDA_VISIBLE_DEVICES`` when set, else the indices ``nvidia-smi -L`` lists.

    Does not import torch (the driver stays light).
    """
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        ids = [x.strip() for x in env.split(",") if x.strip()]
        return [] if ids[:1] == ["-1"] else ids
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    if out.returncode != 0:
        return []
    return [str(i) for i, line in enumerate(ln for ln in out.stdout.splitlines() if ln.startswith("GPU"))]


def default_workers(job_settings: Iterable[Optional[dict]]) -> int:
    """How many jobs run at once on this machine when ``--workers`` is not given.

    One per GPU when any job uses a model engine on a GPU; otherwise one per
    core, bounded by how many of the largest job fit in the available memory.
    """
    settings = [s for s in job_settings if s]
    if not settings:
        return 1
    if any(needs_gpu(s) for s in settings):
        return max(1, len(gpu_ids()))
    n = cpu_count()
    avail = available_memory()
    if avail:
        n = min(n, max(1, avail // max(estimate_job_bytes(s) for s in settings)))
    return max(1, int(n))
