"""Atomic asset writer (shared/design/asset-format.md, "Writing").

The asset is built in a hidden temporary sibling directory; ``asset.json`` is
written last; the directory is renamed into place only when everything
succeeded. A failure or a cancel (``before_commit`` raising) removes the
temporary directory and leaves any previous asset at the path untouched.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import uuid
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional

import numpy as np

from . import model as M
from .pc2 import write_pc2
from .ply import write_ply
from .png import encode_png
from .target import ExistingAsset, TargetError, inspect_target
from .validate import validate_asset


class AssetWriteError(OSError):
    """The asset could not be written; the message says what to do."""


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
    inputs: Iterable[tuple[str, str | os.PathLike]] = (),
    extra_files: Optional[Mapping[str, Callable[[Path], None]]] = None,
    frame_plys: bool = False,
    before_commit: Optional[Callable[[], None]] = None,
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
        inputs: (role, source path) pairs; each file is copied byte for byte
            to ``inputs/<role><ext>`` and listed with its SHA-256.
        extra_files: relative name -> callable writing that file at the given
            absolute path (e.g. ``preview.mp4``, masks under ``inputs/``).
        frame_plys: also write ``frames/000000.ply`` ... (one 3DGS PLY per frame).
        before_commit: called just before the rename (e.g. a cancel check); if
            it raises, nothing is left behind.

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
    manifest["inputs"] = [{"role": r, "file": "", "sha256": ""} for r, _ in inputs]
    validate_asset(to_check)

    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _explain(exc, out_dir) from exc
    tmp = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        files = _write_contents(tmp, manifest, g, asset.mesh, inputs, extra_files or {}, frame_plys)
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


def _write_contents(tmp, manifest, g, mesh, inputs, extra_files, frame_plys) -> list[str]:
    write_pc2(tmp / M.GAUSSIANS_PC2, g.means)
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
    np.savez(tmp / M.GAUSSIANS_NPZ, **attrs)
    files = [M.GAUSSIANS_PC2, M.GAUSSIANS_NPZ]

    if mesh is not None:
        mesh_attrs = {"faces": np.asarray(mesh.faces, np.int32), "uv": np.asarray(mesh.uv, np.float32)}
        if mesh.vertex_colors is not None:
            mesh_attrs["vertex_colors"] = np.asarray(mesh.vertex_colors, np.float32)
        np.savez(tmp / M.MESH_NPZ, **mesh_attrs)
        write_pc2(tmp / M.MESH_PC2, mesh.vertices)
        files += [M.MESH_NPZ, M.MESH_PC2]
        if mesh.texture is not None:
            (tmp / M.MESH_TEXTURE).write_bytes(encode_png(np.asarray(mesh.texture, np.uint8)))
            files.append(M.MESH_TEXTURE)

    if inputs:
        (tmp / M.INPUTS_DIR).mkdir()
    entries = []
    for role, src in inputs:
        src = Path(src)
        rel = f"{M.INPUTS_DIR}/{role}{src.suffix.lower()}"
        shutil.copyfile(src, tmp / rel)
        entries.append({"role": role, "file": rel, "original_name": src.name, "sha256": sha256_of(tmp / rel)})
        files.append(rel)
    manifest["inputs"] = entries

    for rel, writer in extra_files.items():
        dest = tmp / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        writer(dest)
        if dest.exists():
            files.append(rel)

    if frame_plys:
        (tmp / M.FRAMES_DIR).mkdir()
        for t in range(g.frame_count):
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
    old = out_dir.parent / f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}"
    os.rename(out_dir, old)
    try:
        os.rename(tmp, out_dir)
    except OSError:
        os.rename(old, out_dir)
        raise
    _discard_old(old, out_dir, existing)


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
            os.link(src, dst, follow_symlinks=False)
        except OSError:
            if not stat.S_ISREG(st.st_mode):
                raise AssetWriteError(
                    errno.EPERM, f"{src} is a special file that cannot be carried into the new asset: move it out of {out_dir}"
                ) from None
            shutil.copy2(src, dst)


def _discard_old(old: Path, out_dir: Path, existing: ExistingAsset) -> None:
    """Delete the replaced asset's own files from ``old``; anything else is moved back, never deleted."""
    carried = set(existing.kept)
    for root, dirs, files in os.walk(old, topdown=False):
        base = Path(root)
        for name in files + [d for d in dirs if (base / d).is_symlink()]:
            rel = (base / name).relative_to(old).as_posix()
            path = base / name
            try:
                if rel in existing.owned or (rel in carried and os.path.lexists(out_dir / rel)):
                    os.unlink(path)
                elif not os.path.lexists(out_dir / rel):  # appeared after the last inspection
                    (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                    os.rename(path, out_dir / rel)
            except OSError:
                pass  # left in the hidden old folder rather than lost
        for name in dirs:
            try:
                os.rmdir(base / name)
            except OSError:
                pass
    try:
        os.rmdir(old)
    except OSError:
        pass
