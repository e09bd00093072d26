"""Run ``install_deps.py`` as a child process and follow its progress (no ``bpy``).

``install_deps.py`` (at the extension root) prints step lines such as
``[3/7] Installing torch ...``; :func:`parse_step` turns them into a fraction
for the progress bar. The preferences' install operator polls
:meth:`InstallRunner.poll` from a modal timer, so Blender never waits on pip.
"""

from __future__ import annotations

import collections
import os
import queue
import re
import subprocess
import sys
import threading
from typing import Optional, Sequence

_STEP = re.compile(r"^\s*\[(\d+)\s*/\s*(\d+)\]\s*(.*)$")


def parse_step(line: str) -> Optional[tuple[int, int, str]]:
    """``"[3/7] Installing torch ..."`` -> ``(3, 7, "Installing torch ...")``; None for other lines.

    Steps are 1-based; a line with k > n or n < 1 is not a step line.
    """
    m = _STEP.match(line)
    if not m:
        return None
    k, n = int(m.group(1)), int(m.group(2))
    if n < 1 or k < 0 or k > n:
        return None
    return k, n, m.group(3).strip()


class InstallRunner:
    """A running ``install_deps.py`` (or any command printing ``[k/n]`` step lines).

    Args:
        argv: the command, e.g. ``[python, install_deps.py, "--target", venv_dir]``.
        cwd: working directory.
        env: extra environment variables over ``os.environ``.

    Attributes:
        fraction: progress 0..1 from the last step line (step k of n started -> (k-1)/n).
        step_text: the text of the last step line.
        lines: the last 200 output lines (stdout and stderr merged).
        returncode: None while running.
    """

    def __init__(self, argv: Sequence[str], cwd: Optional[str] = None, env: Optional[dict] = None):
        self.argv = [str(a) for a in argv]
        self.cwd = cwd
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8", **(env or {})}
        self.env.pop("PYTHONHOME", None)
        self.fraction = 0.0
        self.step_text = ""
        self.lines: collections.deque = collections.deque(maxlen=200)
        self.process: Optional[subprocess.Popen] = None
        self._queue: queue.Queue = queue.Queue()
        self._reader: Optional[threading.Thread] = None

    def start(self) -> "InstallRunner":
        """Spawn the command. Raises OSError when it cannot be executed."""
        kwargs = {}
        if sys.platform == "win32":
            kwargs["creationflags"] = getattr(subprocess, "CREATE_NO_WINDOW", 0)
        self.process = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs,
        )
        self._reader = threading.Thread(target=self._read, name="tween4d-install-output", daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        for raw in iter(self.process.stdout.readline, b""):
            self._queue.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
        self.process.stdout.close()

    def poll(self) -> list[str]:
        """New output lines since the last call (never blocks); updates ``fraction`` and ``step_text``."""
        new = []
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            new.append(line)
            self.lines.append(line)
            step = parse_step(line)
            if step is not None:
                k, n, text = step
                self.fraction = max(self.fraction, (k - 1) / n)
                self.step_text = text or f"step {k} of {n}"
        return new

    @property
    def returncode(self) -> Optional[int]:
        """The exit code once the process ended and its output was read; None before."""
        if self.process is None or self.process.poll() is None:
            return None
        if self._reader is not None and self._reader.is_alive():
            return None
        if not self._queue.empty():
            return None
        return self.process.returncode

    def tail(self, lines: int = 8) -> str:
        """The last ``lines`` output lines."""
        return "\n".join(list(self.lines)[-lines:])

    def cancel(self, timeout: float = 3.0) -> None:
        """Terminate the process, then kill it if it does not exit within ``timeout`` seconds."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
