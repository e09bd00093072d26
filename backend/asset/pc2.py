"""Blender's PC2 point-cache format (Mesh Cache modifier), little-endian.

Layout (Blender manual, "Mesh Cache Modifier"; ``io_import_pc2``)::

    char[12]  signature  b"POINTCACHE2\\0"
    int32     version    1
    int32     point count N
    float32   start frame (0.0 here)
    float32   sample rate (1.0 here: one sample per frame)
    int32     sample count T
    float32   body[T, N, 3]

The body starts at byte 32 and is memory-mapped by the reader, so opening a
large cache costs no copy.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Callable, Optional

import numpy as np

SIGNATURE = b"POINTCACHE2\0"
HEADER = struct.Struct("<12siiffi")
HEADER_SIZE = HEADER.size  # 32 bytes


class PC2Error(ValueError):
    """A file is not a valid PC2 point cache."""


def write_pc2(path: str | os.PathLike, frames: np.ndarray, check: Optional[Callable[[], None]] = None,
              chunk_bytes: int = 32 * 2**20) -> None:
    """Write per-frame point positions as a PC2 file.

    Args:
        path: destination file; written in place (callers needing atomicity
            write into a temporary directory, as ``backend.asset.writer`` does).
        frames: float array [T, N, 3], metres, Blender world frame. Converted to
            little-endian float32, whole frames at a time.
        check: optional callable run before each chunk of at most
            ``chunk_bytes`` (e.g. a cancel check); what it raises propagates.
        chunk_bytes: body bytes written between two ``check`` calls (at least one frame).

    Raises:
        ValueError: ``frames`` is not [T, N, 3] with T >= 1, or holds NaN/inf.
        OSError: the file cannot be written (disk full, permissions).
    """
    arr = np.asarray(frames)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 1:
        raise ValueError(f"PC2 frames must be [T, N, 3] with T >= 1, got {arr.shape}")
    t, n, _ = arr.shape
    step = max(1, chunk_bytes // max(1, n * 12))
    with open(path, "wb") as fh:
        fh.write(HEADER.pack(SIGNATURE, 1, n, 0.0, 1.0, t))
        for lo in range(0, t, step):
            if check is not None:
                check()
            body = np.ascontiguousarray(arr[lo:lo + step], dtype="<f4")
            if not np.all(np.isfinite(body)):
                raise ValueError("PC2 frames contain NaN or infinite values")
            # fh.write (not ndarray.tofile) so a full disk raises OSError(ENOSPC) with its errno.
            fh.write(memoryview(body).cast("B"))


def read_pc2_header(path: str | os.PathLike) -> tuple[int, int, float, float]:
    """Read a PC2 header.

    Returns:
        (point_count, sample_count, start_frame, sample_rate).

    Raises:
        PC2Error: wrong signature, version, or a body size that does not match.
        OSError: the file cannot be read.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        raw = fh.read(HEADER_SIZE)
    if len(raw) != HEADER_SIZE:
        raise PC2Error(f"{path.name}: too short to be a PC2 file")
    sig, version, n, start, rate, t = HEADER.unpack(raw)
    if sig != SIGNATURE:
        raise PC2Error(f"{path.name}: not a PC2 file (bad signature)")
    if version != 1:
        raise PC2Error(f"{path.name}: PC2 version {version} is not supported (expected 1)")
    if n < 0 or t < 1:
        raise PC2Error(f"{path.name}: invalid counts (points={n}, samples={t})")
    expected = HEADER_SIZE + 4 * 3 * n * t
    actual = path.stat().st_size
    if actual != expected:
        raise PC2Error(
            f"{path.name}: size {actual} bytes does not match its header "
            f"({t} frames x {n} points needs {expected} bytes); the file is truncated or corrupt"
        )
    return n, t, start, rate


def read_pc2(path: str | os.PathLike, mmap: bool = True) -> np.ndarray:
    """Read a PC2 file.

    Args:
        path: the ``.pc2`` file.
        mmap: memory-map the body (read-only) instead of loading it.

    Returns:
        float32 array [T, N, 3] (a read-only ``np.memmap`` when ``mmap``).

    Raises:
        PC2Error, OSError: as ``read_pc2_header``.
    """
    n, t, _, _ = read_pc2_header(path)
    if mmap and n > 0:
        return np.memmap(path, dtype="<f4", mode="r", offset=HEADER_SIZE, shape=(t, n, 3))
    with open(path, "rb") as fh:
        fh.seek(HEADER_SIZE)
        body = np.fromfile(fh, dtype="<f4", count=t * n * 3)
    return body.reshape(t, n, 3).astype(np.float32, copy=False)
