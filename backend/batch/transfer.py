"""Moving a finished asset from a Ray worker to OUT_ROOT: a tar archive in memory, installed atomically.

The worker packs its asset directory into an uncompressed tar (the PNG/MP4
files are compressed already, PC2 float arrays hardly compress). The driver
unpacks it into a hidden sibling of the target (``.NAME.partial-...``),
checks it with ``backend.asset.load_asset``, and renames it into place by
the asset writer's rules (``backend.asset.writer``): a foreign non-empty
folder is never replaced, an existing asset is replaced only once the new one
is complete, and a failure leaves nothing behind.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import uuid
from pathlib import Path

from ..errors import OutputError


def pack_dir(path: str | os.PathLike) -> bytes:
    """The directory's files as an uncompressed tar archive (paths relative to ``path``)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(path), arcname=".")
    return buf.getvalue()


def _replace_dir(tmp: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        os.rename(tmp, out_dir)
        return
    old = out_dir.parent / f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}"
    os.rename(out_dir, old)
    try:
        os.rename(tmp, out_dir)
    except OSError:
        os.rename(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def install_asset(data: bytes, out_dir: str | os.PathLike) -> Path:
    """Unpack a packed asset into ``out_dir`` atomically.

    Args:
        data: ``pack_dir`` of a complete asset directory.
        out_dir: the asset folder to create or replace (``OUT_ROOT/<name>``).

    Returns:
        The installed directory (absolute).

    Raises:
        backend.errors.OutputError: the target is a file or a foreign non-empty folder, the disk
            is full or not writable, or the archive is not a valid asset (nothing is left behind).
    """
    from ..asset import AssetError, AssetWriteError, check_target, load_asset

    out_dir = Path(out_dir).resolve()
    try:
        check_target(out_dir)
    except AssetWriteError as exc:
        raise OutputError(exc.strerror or str(exc), "Nothing was written.", code="output.write") from exc
    tmp = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            tar.extractall(tmp, filter="data")
        load_asset(tmp, mmap=False)
        _replace_dir(tmp, out_dir)
    except (tarfile.TarError, AssetError) as exc:
        raise OutputError(f"the asset sent back by the worker is not valid: {exc}",
                          "Rerun the batch; if it happens again, report it.", code="output.transfer") from exc
    except OSError as exc:
        raise OutputError(f"cannot write the asset to {out_dir}: {exc}",
                          "Free some disk space or choose another output folder.", code="output.write") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir
