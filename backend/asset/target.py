"""What an existing output folder holds, so replacing it never deletes a file the user made.

An output folder may be replaced only when it is empty or holds a Tween4D
asset: an ``asset.json`` that is a regular file, parses as JSON and says
``"format": "tween4d.asset"``. A folder with any other ``asset.json`` (or none,
but other files) is foreign and is never replaced.

Inside a Tween4D asset folder, the files the manifest lists (``files`` plus
``asset.json`` itself) belong to the asset; every other entry (a ``.blend``
the artist saved there, notes, renders) belongs to the user and is carried
over into the new asset folder before it is swapped in (see
``backend.asset.writer``). A user file at a path the new asset would write
(``gaussians.pc2``, ``inputs/start.png``...) cannot be carried over without
loss, so the run is refused with a message naming it.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from . import model as M

# A manifest is small (a few kB); anything far larger is not ours and is not read.
MAX_MANIFEST_BYTES = 16 * 2**20

# Paths the writer may create in a new asset: a user file there would be overwritten.
_RESERVED_FILES = frozenset(
    {M.MANIFEST, M.GAUSSIANS_PC2, M.GAUSSIANS_NPZ, M.MESH_NPZ, M.MESH_PC2, M.MESH_TEXTURE, "preview.mp4"}
)
_RESERVED_FRAME = re.compile(r"^frames/\d{6}\.ply$")
# Folders the writer creates; left empty once the asset's own files are gone they belong to the asset.
_ASSET_DIRS = frozenset({M.INPUTS_DIR, M.FRAMES_DIR})


class TargetError(OSError):
    """The output folder must not be replaced; the message says why and what to do."""


@dataclass
class ExistingAsset:
    """The Tween4D asset found at an output path.

    Attributes:
        path: the asset folder (absolute).
        owned: relative POSIX paths the old manifest lists (plus ``asset.json``);
            these are the only files a replacement may delete.
        kept: relative POSIX paths of the user's entries (files, symlinks, empty
            folders) not listed by the manifest; they are carried into the new asset.
    """

    path: Path
    owned: frozenset[str]
    kept: list[str] = field(default_factory=list)


def _foreign(out_dir: Path, why: str) -> TargetError:
    return TargetError(
        errno.ENOTEMPTY,
        f"{out_dir} {why}; it is not a Tween4D asset and is left alone: choose a new or empty folder",
    )


def read_tween4d_manifest(out_dir: Path) -> dict | None:
    """The manifest of the Tween4D asset in ``out_dir``, or None when there is no ``asset.json``.

    The file is checked with ``os.lstat`` before it is opened (a FIFO or device
    named ``asset.json`` is never opened) and read only up to ``MAX_MANIFEST_BYTES``.

    Raises:
        TargetError: ``asset.json`` exists but is not a regular file, is too
            large, is not JSON (including nesting too deep to parse), or is not
            a ``tween4d.asset`` manifest.
    """
    path = out_dir / M.MANIFEST
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TargetError(exc.errno or errno.EIO, f"Cannot read {path}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise _foreign(out_dir, "holds an asset.json that is not a regular file")
    if st.st_size > MAX_MANIFEST_BYTES:
        raise _foreign(out_dir, f"holds an asset.json of {st.st_size:,} bytes, far larger than a Tween4D manifest")
    try:
        with open(path, "rb") as fh:
            manifest = json.loads(fh.read(MAX_MANIFEST_BYTES + 1).decode("utf-8"))
    except OSError as exc:
        raise TargetError(exc.errno or errno.EIO, f"Cannot read {path}: {exc.strerror or exc}") from exc
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _foreign(out_dir, "holds an asset.json that is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != M.FORMAT:
        raise _foreign(out_dir, f"holds an asset.json whose format is not {M.FORMAT!r}")
    return manifest


def _listed(manifest: dict) -> frozenset[str]:
    files = manifest.get("files")
    owned = {M.MANIFEST}
    if isinstance(files, list):
        for rel in files:
            if isinstance(rel, str) and rel:
                owned.add(Path(rel).as_posix())
    return frozenset(owned)


def owned_files(folder: Path) -> frozenset[str] | None:
    """Relative paths the Tween4D manifest in ``folder`` lists (with ``asset.json``), or None when it has none."""
    try:
        manifest = read_tween4d_manifest(folder)
    except TargetError:
        return None
    return None if manifest is None else _listed(manifest)


def user_entries(root: Path, owned: frozenset[str]) -> list[str]:
    """Relative POSIX paths under ``root`` that ``owned`` does not list.

    Files, symlinks (never followed) and other non-folders are reported one by
    one; a folder is reported only when it is empty and is not one the writer
    creates (``inputs/``, ``frames/``), so a user's empty folder is kept too.

    Raises:
        OSError: the folder cannot be listed.
    """
    found: list[str] = []

    def walk(folder: Path, prefix: str) -> None:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                before = len(found)
                walk(Path(entry.path), rel + "/")
                if len(found) == before and rel not in _ASSET_DIRS and not any(o.startswith(rel + "/") for o in owned):
                    found.append(rel)
            elif rel not in owned:
                found.append(rel)

    walk(root, "")
    return found


def is_reserved(rel: str) -> bool:
    """Whether the writer may create ``rel`` (a POSIX path relative to the asset folder)."""
    return rel in _RESERVED_FILES or rel.startswith(M.INPUTS_DIR + "/") or bool(_RESERVED_FRAME.match(rel))


def inspect_target(out_dir: Path) -> ExistingAsset | None:
    """Decide whether ``out_dir`` may receive a new asset, and which of its files to keep.

    Args:
        out_dir: absolute output path.

    Returns:
        None when the path does not exist or is an empty folder; else the
        existing Tween4D asset with its owned and user (kept) entries.

    Raises:
        TargetError: the path is a file, a foreign folder, or a Tween4D asset
            holding a user file where the new asset would write one.
    """
    try:
        st = os.stat(out_dir)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TargetError(exc.errno or errno.EIO, f"Cannot inspect {out_dir}: {exc.strerror or exc}") from exc
    if not stat.S_ISDIR(st.st_mode):
        raise TargetError(errno.EEXIST, f"{out_dir} exists and is not a folder: choose a folder path for the asset")
    try:
        if not any(os.scandir(out_dir)):
            return None
    except OSError as exc:
        raise TargetError(exc.errno or errno.EIO, f"Cannot list {out_dir}: {exc.strerror or exc}") from exc
    manifest = read_tween4d_manifest(out_dir)
    if manifest is None:
        raise _foreign(out_dir, "is a non-empty folder without asset.json")
    owned = _listed(manifest)
    kept = user_entries(out_dir, owned)
    clashes = [rel for rel in kept if is_reserved(rel)]
    if clashes:
        names = ", ".join(clashes[:3]) + (f" and {len(clashes) - 3} more" if len(clashes) > 3 else "")
        raise TargetError(
            errno.EEXIST,
            f"{out_dir} is a Tween4D asset, but {names} in it is not listed in its asset.json and a new asset "
            "would overwrite it: move it out of the folder, or choose another output folder",
        )
    return ExistingAsset(path=out_dir, owned=owned, kept=kept)
