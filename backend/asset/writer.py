"""Atomic asset writer (shared/design/asset-format.md, "Writing").

The asset is built in a hidden temporary sibling directory; ``asset.json`` is
written last; the directory is renamed into place only when everything
succeeded. A failure or a cancel (``before_commit`` raising) removes the
temporary directory and leaves any previous asset at the path untouched.
The temporary folder's name records this process's id and host
(``backend.asset.partials``); a later write into the same parent folder
removes such folders whose process no longer exists. Cancel is checked
between files and between chunks of the large ones (PC2 bodies, npz arrays,
frame PLYs), so a cancel during the write takes effect within about a second.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional

import numpy as np

from . import model as M
from .partials import discard_replaced, hidden_name, sweep_stale
from .pc2 import write_pc2
from .ply import write_ply
from .png import encode_png
from .target import ExistingAsset, TargetError, inspect_target, owned_files
from .validate import validate_asset


class AssetWriteError(OSError):
    """The asset could not be written; the message says what to do."""


@dataclass(frozen=True)
class InputFile:
    """An input image to keep in the asset's ``inputs/`` folder.

    Attributes:
        role: ``"start"``, ``"end"``, ``"image"``...; the file becomes ``inputs/<role><suffix>``.
        source: the file as the user gave it (its name is recorded as ``original_name``).
        write: optional callable(dest Path) writing a stand-in instead of copying
            ``source`` byte for byte (e.g. the pixels re-encoded without huge
            metadata); ``suffix`` is then the stand-in's extension.
        suffix: extension of the stand-in written by ``write`` (e.g. ``".png"``).
        note: why a stand-in was written (recorded in the manifest entry).
    """

    role: str
    source: Path
    write: Optional[Callable[[Path], None]] = None
    suffix: str = ""
    note: str = ""


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _disk_nearly_full(where: Path) -> bool:
    probe = where
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free < 8 * 2**20
    except OSError:
        return False


def _explain(exc: OSError, where: Path) -> AssetWriteError:
    # Some writers (e.g. short writes inside libraries) raise without an errno: judge by the free space.
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) or (exc.errno is None and _disk_nearly_full(where.parent)):
        return AssetWriteError(
            exc.errno, f"Not enough disk space to write the asset in {where.parent}: free some space or choose another output folder"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return AssetWriteError(exc.errno, f"Cannot write to {where.parent}: choose an output folder you can write to")
    return AssetWriteError(exc.errno or errno.EIO, f"Writing the asset to {where} failed: {exc}")


def check_target(out_dir: str | os.PathLike) -> None:
    """Fail early if ``out_dir`` cannot receive an asset (before any long computation).

    Checks that the path is not a file or a foreign folder (see
    ``backend.asset.target``: a non-empty folder is replaced only when its
    ``asset.json`` is a Tween4D manifest, and no file of the user's sits where
    the new asset would write), and that its parent can be created and written to.

    Raises:
        AssetWriteError: with a message saying what to do.
    """
    out_dir = Path(out_dir).resolve()
    _inspect(out_dir)
    sweep_stale(out_dir.parent, owned_files)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        probe = out_dir.parent / f".{out_dir.name}.probe-{uuid.uuid4().hex[:8]}"
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        raise _explain(exc, out_dir) from exc


def _inspect(out_dir: Path) -> Optional[ExistingAsset]:
    try:
        return inspect_target(out_dir)
    except TargetError as exc:
        raise AssetWriteError(exc.errno, exc.strerror) from exc


def write_asset(
    out_dir: str | os.PathLike,
    asset: M.Asset,
    *,
    inputs: Iterable[tuple[str, str | os.PathLike] | InputFile] = (),
    extra_files: Optional[Mapping[str, Callable[[Path], None]]] = None,
    frame_plys: bool = False,
    before_commit: Optional[Callable[[], None]] = None,
    check: Optional[Callable[[], None]] = None,
) -> Path:
    """Write ``asset`` to ``out_dir`` atomically.

    Args:
        out_dir: the asset directory to create or replace. An existing folder
            is replaced only if it is empty or holds a Tween4D asset; files in
            it that its manifest does not list (the user's) are carried into
            the new asset folder (hard links, or copies where the file system
            has none), checked again just before the swap.
        asset: manifest + Gaussians (+ mesh). The writer fills ``format``,
            ``format_version``, ``frame_count``, ``gaussian_count``, ``inputs``
            and ``files``; the rest of the manifest comes from the caller.
        inputs: (role, source path) pairs or ``InputFile`` items; each file is
            copied byte for byte to ``inputs/<role><ext>`` (or its stand-in
            written) and listed with its SHA-256.
        extra_files: relative name -> callable writing that file at the given
            absolute path (e.g. ``preview.mp4``, masks under ``inputs/``).
        frame_plys: also write ``frames/000000.ply`` ... (one 3DGS PLY per frame).
        before_commit: called just before the rename (e.g. a cancel check); if
            it raises, nothing is left behind.
        check: called between files and between chunks of at most
            ``CHUNK_BYTES`` while writing (a cancel check, e.g.
            ``Progress.check``); if it raises, nothing is left behind.

    Returns:
        The final asset directory path.

    Raises:
        AssetWriteError: disk full, permissions, or a target that must not be replaced.
        AssetError: the asset breaks the format contract (nothing written).
    """
    out_dir = Path(out_dir).resolve()
    _inspect(out_dir)
    g = asset.gaussians
    manifest = dict(asset.manifest)
    manifest["format"] = M.FORMAT
    manifest["format_version"] = M.FORMAT_VERSION
    manifest["frame_count"] = int(g.means.shape[0])
    manifest["gaussian_count"] = int(g.means.shape[1])
    manifest.setdefault("inputs", [])
    to_check = M.Asset(manifest=manifest, gaussians=g, mesh=asset.mesh)
    inputs = list(inputs)
    manifest["inputs"] = [{"role": i.role if isinstance(i, InputFile) else i[0], "file": "", "sha256": ""}
                          for i in inputs]
    check = check or (lambda: None)
    validate_asset(to_check, check=check)

    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _explain(exc, out_dir) from exc
    sweep_stale(out_dir.parent, owned_files)
    tmp = out_dir.parent / hidden_name(out_dir, "partial")
    try:
        tmp.mkdir()
        files = _write_contents(tmp, manifest, g, asset.mesh, inputs, extra_files or {}, frame_plys, check)
        manifest["files"] = files
        with open(tmp / M.MANIFEST, "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, indent=2, sort_keys=False)
            fh.flush()
            os.fsync(fh.fileno())
        if before_commit is not None:
            before_commit()
        _commit(tmp, out_dir)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, AssetWriteError):
            raise
        raise _explain(exc, out_dir) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


CHUNK_BYTES = 32 * 2**20
"""Bytes written between two cancel checks (well under a second on any disk that holds an asset)."""


class _CheckedWriter:
    """A write-only stream that calls ``check`` before each ``CHUNK_BYTES`` it passes on."""

    def __init__(self, raw, check: Callable[[], None]):
        self.raw = raw
        self.check = check

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        for lo in range(0, max(1, len(view)), CHUNK_BYTES):
            self.check()
            self.raw.write(view[lo:lo + CHUNK_BYTES])
        return len(view)


def _save_npz(path: Path, arrays: Mapping[str, np.ndarray], check: Callable[[], None]) -> None:
    """``np.savez`` (stored, uncompressed .npy members), with ``check`` between chunks.

    ``numpy.lib.format.write_array`` writes a non-file stream in chunks of
    16 MiB (numpy docs, "numpy.lib.format"), which ``_CheckedWriter`` splits
    further, so a large per-frame array is interruptible too; ``np.load``
    reads the result like any ``.npz``.
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, arr in arrays.items():
            check()
            with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(_CheckedWriter(member, check), np.asanyarray(arr), allow_pickle=False)


def _write_contents(tmp, manifest, g, mesh, inputs, extra_files, frame_plys, check) -> list[str]:
    write_pc2(tmp / M.GAUSSIANS_PC2, g.means, check=check, chunk_bytes=CHUNK_BYTES)
    attrs = {
        "colors": np.asarray(g.colors, np.float32),
        "opacities": np.asarray(g.opacities, np.float32),
        "scales": np.asarray(g.scales, np.float32),
        "rotations": np.asarray(g.rotations, np.float32),
    }
    if g.sh_rest is not None:
        attrs["sh_rest"] = np.asarray(g.sh_rest, np.float32)
    if g.source_pixel is not None:
        attrs["source_pixel"] = np.asarray(g.source_pixel, np.int32)
    _save_npz(tmp / M.GAUSSIANS_NPZ, attrs, check)
    files = [M.GAUSSIANS_PC2, M.GAUSSIANS_NPZ]

    if mesh is not None:
        mesh_attrs = {"faces": np.asarray(mesh.faces, np.int32), "uv": np.asarray(mesh.uv, np.float32)}
        if mesh.vertex_colors is not None:
            mesh_attrs["vertex_colors"] = np.asarray(mesh.vertex_colors, np.float32)
        _save_npz(tmp / M.MESH_NPZ, mesh_attrs, check)
        write_pc2(tmp / M.MESH_PC2, mesh.vertices, check=check, chunk_bytes=CHUNK_BYTES)
        files += [M.MESH_NPZ, M.MESH_PC2]
        if mesh.texture is not None:
            check()
            (tmp / M.MESH_TEXTURE).write_bytes(encode_png(np.asarray(mesh.texture, np.uint8)))
            files.append(M.MESH_TEXTURE)

    if inputs:
        (tmp / M.INPUTS_DIR).mkdir()
    entries = []
    for item in inputs:
        check()
        item = item if isinstance(item, InputFile) else InputFile(item[0], Path(item[1]))
        src = Path(item.source)
        rel = f"{M.INPUTS_DIR}/{item.role}{(item.suffix if item.write else src.suffix).lower()}"
        if item.write is not None:
            item.write(tmp / rel)
        else:
            shutil.copyfile(src, tmp / rel)
        entry = {"role": item.role, "file": rel, "original_name": src.name, "sha256": sha256_of(tmp / rel)}
        if item.note:
            entry["note"] = item.note
        entries.append(entry)
        files.append(rel)
    manifest["inputs"] = entries

    for rel, writer in extra_files.items():
        check()
        dest = tmp / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        writer(dest)
        if dest.exists():
            files.append(rel)

    if frame_plys:
        (tmp / M.FRAMES_DIR).mkdir()
        for t in range(g.frame_count):
            check()
            rel = f"{M.FRAMES_DIR}/{t:06d}.ply"
            write_ply(
                tmp / rel,
                means=g.means[t],
                colors=g.colors,
                opacities=g.opacities,
                scales=g.scales_at(t),
                rotations=g.rotations_at(t),
                sh_rest=g.sh_rest,
            )
            files.append(rel)
    return files


def _commit(tmp: Path, out_dir: Path) -> None:
    """Move the finished asset into place, replacing an older one only now.

    The old folder is inspected again here, so a file the user saved into it
    while the job ran is kept too. Its user files are hard-linked (or copied)
    into ``tmp`` first, so at every instant each of them is reachable under
    ``out_dir`` or its hidden ``.old-*`` sibling; the old folder then loses
    only the files its manifest listed.
    """
    existing = _inspect(out_dir)
    if existing is None:
        os.rename(tmp, out_dir)  # replaces an empty folder; fails (keeping it) if something appeared meanwhile
        return
    for rel in existing.kept:
        _carry(out_dir / rel, tmp / rel, out_dir)
    old = out_dir.parent / hidden_name(out_dir, "old")
    os.rename(out_dir, old)
    try:
        os.rename(tmp, out_dir)
    except OSError:
        os.rename(old, out_dir)
        raise
    discard_replaced(old, out_dir, existing.owned)


def _carry(src: Path, dst: Path, out_dir: Path) -> None:
    """Put the user's entry ``src`` at ``dst`` in the new asset without touching ``src``."""
    if os.path.lexists(dst):
        raise AssetWriteError(
            errno.EEXIST,
            f"{src} is not part of the asset in {out_dir} and the new asset writes a file of that name: "
            "move it out of the folder, or choose another output folder",
        )
    dst.parent.mkdir(parents=True, exist_ok=True)
    st = os.lstat(src)
    if stat.S_ISDIR(st.st_mode):
        dst.mkdir()
    elif stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    else:
        try:
            os.link(src, dst)  # src is no symlink here (handled above)
        except OSError:
            if not stat.S_ISREG(st.st_mode):
                raise AssetWriteError(
                    errno.EPERM, f"{src} is a special file that cannot be carried into the new asset: move it out of {out_dir}"
                ) from None
            shutil.copy2(src, dst)
