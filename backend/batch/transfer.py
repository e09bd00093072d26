"""Moving a finished asset from a Ray worker to OUT_ROOT: a tar archive in memory, installed atomically.

The worker packs its asset directory into an uncompressed tar (the PNG/MP4
files are compressed already, PC2 float arrays hardly compress). The driver
unpacks it into a hidden temporary folder next to the target, checks it with
``backend.asset.load_asset`` and writes it with ``backend.asset.write_asset``,
so OUT_ROOT gets exactly the writer's guarantees (a foreign folder is never
replaced, an existing asset only once the new one is complete, the user's
files in an asset folder are handled as the writer handles them, a failure
leaves nothing behind).
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from ..errors import OutputError


def pack_dir(path: str | os.PathLike) -> bytes:
    """The directory's files as an uncompressed tar archive (paths relative to ``path``)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(path), arcname=".")
    return buf.getvalue()


def install_asset(data: bytes, out_dir: str | os.PathLike) -> Path:
    """Unpack a packed asset and write it to ``out_dir`` with ``backend.asset.write_asset``.

    The archive is unpacked into a hidden temporary folder next to ``out_dir``
    (same file system), loaded and validated with ``load_asset``, then written
    by the project's writer: the arrays from the loaded asset, the input images
    under their original names (so ``inputs[*].original_name`` and SHA-256 stay
    the same) and every other listed file (preview, masks, texture, frame PLYs)
    copied byte for byte.

    Args:
        data: ``pack_dir`` of a complete asset directory.
        out_dir: the asset folder to create or replace (``OUT_ROOT/<name>``).

    Returns:
        The written directory (absolute).

    Raises:
        backend.errors.OutputError: the target must not be replaced (a file, a foreign
            folder), the disk is full or not writable, or the archive is not a valid
            asset. Nothing is left behind.
    """
    from ..asset import (
        GAUSSIANS_NPZ,
        GAUSSIANS_PC2,
        MANIFEST,
        MESH_NPZ,
        MESH_PC2,
        Asset,
        AssetError,
        AssetWriteError,
        check_target,
        load_asset,
        write_asset,
    )

    out_dir = Path(out_dir).resolve()
    try:
        check_target(out_dir)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.unpack-", dir=out_dir.parent))
    except (AssetWriteError, OSError) as exc:
        raise OutputError(getattr(exc, "strerror", None) or str(exc), "Nothing was written.",
                          code="output.write") from exc
    try:
        unpacked = tmp / "asset"
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            tar.extractall(unpacked, filter="data")
        loaded = load_asset(unpacked, mmap=False)
        manifest = dict(loaded.manifest)
        inputs, input_files = [], set()
        for entry in manifest.pop("inputs", []):
            role = str(entry["role"])
            named = tmp / "inputs" / role / Path(str(entry.get("original_name") or entry["file"])).name
            named.parent.mkdir(parents=True)
            os.replace(unpacked / entry["file"], named)
            inputs.append((role, named))
            input_files.add(entry["file"])
        own = {MANIFEST, GAUSSIANS_PC2, GAUSSIANS_NPZ, MESH_NPZ, MESH_PC2, *input_files}
        extra = {rel: functools.partial(_copy_from, unpacked / rel) for rel in manifest.pop("files", []) if rel not in own}
        write_asset(out_dir, Asset(manifest=manifest, gaussians=loaded.gaussians, mesh=loaded.mesh),
                    inputs=inputs, extra_files=extra)
    except (tarfile.TarError, AssetError, KeyError) as exc:
        raise OutputError(f"the asset sent back by the worker is not valid: {exc}",
                          "Rerun the batch; if it happens again, report it.", code="output.transfer") from exc
    except AssetWriteError as exc:
        raise OutputError(exc.strerror or str(exc), "Nothing was written.", code="output.write") from exc
    except OSError as exc:
        raise OutputError(f"cannot write the asset to {out_dir}: {exc}",
                          "Free some disk space or choose another output folder.", code="output.write") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _copy_from(src: Path, dest: Path) -> None:
    shutil.copyfile(src, dest)
