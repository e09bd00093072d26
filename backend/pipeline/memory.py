"""Peak-memory estimate of a two-image job, checked against the memory available before the run.

The pipeline's large arrays grow with the frame count T: per-frame Gaussian
means, scales and rotations (T x N), the mesh's per-frame vertices and 2D
trajectories (T x V), the in-between images and the preview frames (T x
working pixels). For a given quality (N, V and the working size are fixed by
the preset) the peak resident memory is therefore close to linear in T:

    peak(T) ~= BASE + PER_FRAME[quality] * T

``BASE`` (interpreter, numpy/SciPy/OpenCV, the decoded inputs) and the
per-frame slopes are measured, not derived: ``benchmarks/bench_memory.py``
runs the CLI at two frame counts per quality, reads each run's peak RSS, and
prints the fit (its table is in the notes of the change that set the values).
The estimate adds ``MARGIN`` on top, because the per-frame cost also depends
on the object's size in the image.
"""

from __future__ import annotations

import os
from typing import Optional

from ..errors import Tween4DError
from ..settings import GenerateSettings

MiB = 2**20

BASE_BYTES = 175 * MiB
"""Peak at a handful of frames (interpreter, libraries, decoded inputs), measured."""

PER_FRAME_BYTES = {"draft": 1.8 * MiB, "standard": 2.5 * MiB, "high": 5.5 * MiB}
"""Peak growth per output frame at each quality: measured slopes (mill and robot_arm pairs, 10 to 60-400
frames: draft 1.6-1.8, standard 2.3, high 4.7-4.9 MiB per frame), rounded up for the slight growth of the
slope with the frame count."""

MARGIN = 1.25
"""Safety factor on the estimate."""


class MemoryBudgetError(Tween4DError):
    """The job would need more memory than the machine has available."""

    code = "job.memory"


def estimate_peak_bytes(settings: GenerateSettings) -> int:
    """Estimated peak resident memory of a two-image job, in bytes (``MARGIN`` included)."""
    return int(MARGIN * (BASE_BYTES + PER_FRAME_BYTES[settings.quality] * settings.frames))


def max_frames_within(settings: GenerateSettings, available: int) -> int:
    """The largest frame count whose estimate fits in ``available`` bytes at this quality (may be < 2)."""
    return int((available / MARGIN - BASE_BYTES) // PER_FRAME_BYTES[settings.quality])


def available_bytes() -> Optional[int]:
    """Memory this process may still use, in bytes, or None when it cannot be told.

    The smaller of ``MemAvailable`` in ``/proc/meminfo`` (Linux; the kernel's
    estimate of memory available without swapping, proc(5)) and the room left
    under a cgroup v2 limit (``memory.max`` - ``memory.current``), as in a
    container. Elsewhere ``psutil.virtual_memory().available`` if psutil is
    installed.
    """
    found = []
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as fh:
            limit = fh.read().strip()
        if limit != "max":
            with open("/sys/fs/cgroup/memory.current", encoding="ascii") as fh:
                found.append(max(0, int(limit) - int(fh.read().strip())))
    except (OSError, ValueError):
        pass
    if not found:
        try:
            import psutil

            found.append(int(psutil.virtual_memory().available))
        except Exception:
            return None
    return min(found)


def check_memory(settings: GenerateSettings, available: Optional[int] = None) -> int:
    """Refuse a job whose estimated peak exceeds the available memory, before any work.

    Args:
        settings: the job's settings (frames, quality).
        available: bytes available; default ``available_bytes()``. ``TWEEN4D_MEMORY_BYTES``
            in the environment overrides both (for tests and for machines that report wrongly).

    Returns:
        The estimate in bytes.

    Raises:
        MemoryBudgetError: with the estimate, what is available, and the
            frame counts (at this and at lower qualities) that would fit.
    """
    need = estimate_peak_bytes(settings)
    override = os.environ.get("TWEEN4D_MEMORY_BYTES")
    if override:
        available = int(override)
    elif available is None:
        available = available_bytes()
    if available is None or need <= available:
        return need
    fits = []
    for quality in ("high", "standard", "draft"):
        probe = GenerateSettings(frames=2, quality=quality)
        frames = min(1000, max_frames_within(probe, available))
        if frames >= 2:
            fits.append(f"{frames} frames at {quality}")
    advice = ("Use at most " + ", or ".join(fits) + "." if fits
              else "Close other programs: not even 2 frames at draft quality fit.")
    raise MemoryBudgetError(
        f"{settings.frames} frames at {settings.quality} quality need about {need / 2**30:.1f} GiB of memory, "
        f"but only {available / 2**30:.1f} GiB is available",
        advice,
    )
