"""The writer's hidden sibling folders: their names record their owner, and stale ones are swept.

``write_asset`` builds an asset in ``.<name>.partial-<pid>@<host>-<token>``
and, when replacing an older asset, parks that one for a moment as
``.<name>.old-<pid>@<host>-<token>``. A process killed at the wrong moment
(SIGKILL, a power cut) leaves such a folder behind; the next write into the
same parent folder sweeps it when its owner process no longer exists:

* a stale ``partial`` folder holds only what the writer made (and hard links
  or copies of user files that still exist in the asset folder): it is removed;
* a stale ``old`` folder is the previous asset: if the asset path is missing
  (the process died between the two renames) it is renamed back, otherwise
  only the files its manifest lists (and exact duplicates of files present in
  the asset folder) are removed; anything else is moved back or left alone.

A folder is never touched when its owner runs on another host (a shared
network folder) or its process id is alive, even if that id was reused.
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import socket
import uuid
from pathlib import Path

_HOST_UNSAFE = re.compile(r"[^A-Za-z0-9.-]")
_NAME = re.compile(r"^\.(?P<name>.*)\.(?P<kind>partial|old)-(?P<pid>\d+)@(?P<host>[A-Za-z0-9.-]*)-[0-9a-f]{8}$")
# Longest asset-name prefix kept in a partial folder's name, so the name stays under NAME_MAX (255 bytes).
_PARTIAL_NAME_CHARS = 100


def this_host() -> str:
    """This machine's host name, reduced to the characters a hidden folder name may carry."""
    return _HOST_UNSAFE.sub("-", socket.gethostname())[:64]


def hidden_name(out_dir: Path, kind: str) -> str:
    """The name of a new hidden sibling of ``out_dir``: ``kind`` is ``"partial"`` or ``"old"``.

    It records this process's id and host, so a later run can tell whether its
    owner is still alive.
    """
    name = out_dir.name[:_PARTIAL_NAME_CHARS] if kind == "partial" else out_dir.name
    return f".{name}.{kind}-{os.getpid()}@{this_host()}-{uuid.uuid4().hex[:8]}"


def owner_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (``kill(pid, 0)``: ESRCH means gone).

    On Windows, where ``os.kill(pid, 0)`` would send a Ctrl-C event, ``psutil.pid_exists``
    is asked instead; without psutil every owner counts as alive (nothing is swept).
    """
    if pid == os.getpid():
        return True
    if os.name == "nt":
        try:
            import psutil
        except ImportError:
            return True
        return bool(psutil.pid_exists(pid))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True  # unknown: keep the folder
    return True


def _same_content(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b) or (a.is_file() and b.is_file() and filecmp.cmp(a, b, shallow=False))
    except OSError:
        return False


def discard_replaced(old: Path, out_dir: Path, owned: frozenset[str]) -> None:
    """Empty the parked previous asset ``old`` after ``out_dir`` received the new one.

    Files ``owned`` lists (relative POSIX paths from the old manifest) are
    deleted; a user file is deleted only where ``out_dir`` holds the same file
    (a hard link, or an identical copy made when it was carried over); any
    other entry is moved into ``out_dir`` if that path is free, else left in
    ``old``, which then stays. Never raises for a file it cannot handle.
    """
    for root, dirs, files in os.walk(old, topdown=False):
        base = Path(root)
        for name in files + [d for d in dirs if (base / d).is_symlink()]:
            path = base / name
            rel = path.relative_to(old).as_posix()
            dest = out_dir / rel
            try:
                if rel in owned or (os.path.lexists(dest) and _same_content(path, dest)):
                    os.unlink(path)
                elif not os.path.lexists(dest):
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    os.rename(path, dest)
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


def sweep_stale(parent: Path, read_owned) -> list[str]:
    """Clean up hidden folders in ``parent`` left by writer processes that no longer exist.

    Args:
        parent: the folder holding asset folders.
        read_owned: callable(folder Path) -> frozenset of the relative paths that
            folder's manifest lists, or None when it has no Tween4D manifest.

    Returns:
        One sentence per folder removed or restored (for a log line).
    """
    done: list[str] = []
    host = this_host()
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return done
    for entry in entries:
        m = _NAME.match(entry.name)
        if not m or m["host"] != host or not entry.is_dir(follow_symlinks=False) or owner_alive(int(m["pid"])):
            continue
        path = Path(entry.path)
        if m["kind"] == "partial":
            shutil.rmtree(path, ignore_errors=True)
            if not os.path.lexists(path):
                done.append(f"removed {entry.name}, left by process {m['pid']} that no longer runs")
            continue
        target = parent / m["name"]
        if not os.path.lexists(target):
            try:
                os.rename(path, target)
                done.append(f"restored {m['name']} from {entry.name} (process {m['pid']} died while replacing it)")
            except OSError:
                pass
            continue
        owned = read_owned(path)
        if owned is not None:
            discard_replaced(path, target, owned)
            if not os.path.lexists(path):
                done.append(f"removed {entry.name}, the asset replaced by process {m['pid']}")
    return done
