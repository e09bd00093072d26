"""List and download model weights through the backend's ``models`` command, without blocking Blender (no ``bpy``).

The add-on never talks to the Hugging Face Hub itself: it runs the backend
interpreter with ``-m backend models list --json`` (in a thread) and
``-m backend models download KEY`` (a child process polled from a modal timer
or a blocking loop), both from the extension folder (cwd and ``PYTHONPATH``)
with the backend's environment (``HF_HOME`` = the model folder). Only the
download drops ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE``; the caller checks
Blender's online access first.

``STATE`` holds what the preferences draw: the listed models, the running
download and the last result. Only Blender's main thread changes it (the list
thread writes its own :class:`ModelListFetch` only).

huggingface_hub shows its progress as tqdm bars on stderr, redrawn with
carriage returns; :class:`ModelDownload` splits output on ``\\r`` as well as
``\\n`` so the last bar state is a line of its own (tqdm: ``desc:  40%|####  | 40.0M/99.0M``).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

from .install_runner import InstallRunner

LIST_TIMEOUT_S = 120.0
KILL_GRACE_S = 3.0

NEEDS_INSTALL_TEXT = "Install dependencies first"
# The backend's own markers for "these packages are not installed" (ModuleNotFoundError, a bad venv).
_NO_DEPS_MARKERS = ("No module named", "ModuleNotFoundError")
_PERCENT = re.compile(r"(\d{1,3})%\|")
_STRIP_FROM_PARENT = ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP")
_OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


@dataclass(frozen=True)
class ModelRow:
    """One model as ``models list --json`` reports it.

    Attributes:
        key: registry key ("depth").
        repo_id: Hugging Face repository.
        purpose: which engine uses it, in a few words.
        size_text: download size for people ("99 MB").
        vram_text: GPU memory it needs for people ("8 GB VRAM"), "" when unknown.
        licence: the weights' licence.
        installed: True when the engines would find it (cache or override folder).
        missing: why it is not installed (``model.missing``, ``model.libraries``,
            ``model.path``); "" when installed.
    """

    key: str
    repo_id: str
    purpose: str
    size_text: str
    licence: str
    installed: bool
    missing: str = ""
    vram_text: str = ""


@dataclass
class ListOutcome:
    """Result of one ``models list``: ``status`` is "ok", "needs_install" or "error"; ``message`` says why."""

    status: str
    rows: list = field(default_factory=list)
    message: str = ""


def models_command(interpreter: str, *args: str) -> list[str]:
    """argv of ``<interpreter> -m backend models ARGS``."""
    return [str(interpreter), "-m", "backend", "models", *map(str, args)]


def backend_process_env(backend_root: str, extra: Mapping[str, str], *, allow_download: bool = False) -> dict:
    """Environment of a ``python -m backend ...`` child.

    Args:
        backend_root: the folder holding the ``backend`` package (becomes ``PYTHONPATH``).
        extra: the preferences' backend variables (``HF_HUB_OFFLINE``, ``HF_HOME``).
        allow_download: drop ``HF_HUB_OFFLINE`` and ``TRANSFORMERS_OFFLINE``
            (from ``extra`` and from Blender's own environment), so the Hub can be reached.

    Blender's ``PYTHONHOME``/``PYTHONPATH``/``PYTHONSTARTUP`` are dropped (they
    belong to Blender's Python, not the backend's).
    """
    env = {k: v for k, v in os.environ.items() if k not in _STRIP_FROM_PARENT}
    env.update(extra)
    if allow_download:
        for name in _OFFLINE_VARIABLES:
            env.pop(name, None)
    env["PYTHONPATH"] = str(backend_root)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def interpreter_exists(interpreter: str) -> bool:
    """True when ``interpreter`` is an existing file or a command on ``PATH``."""
    return bool(interpreter) and (os.path.isfile(interpreter) or shutil.which(interpreter) is not None)


def parse_models_list(text: str) -> list[ModelRow]:
    """The rows of ``models list --json`` output.

    Raises:
        ValueError: the text is not a JSON list of objects with ``key`` and ``installed``.
    """
    data = json.loads(text)
    if not isinstance(data, list):
        raise ValueError("models list --json did not print a JSON list")
    rows = []
    for item in data:
        if not isinstance(item, dict) or "key" not in item or "installed" not in item:
            raise ValueError(f"unexpected models list entry: {item!r}")
        size_gb = float(item.get("size_gb", 0.0))
        size_text = item.get("size_text") or (f"{size_gb * 1000:.0f} MB" if size_gb < 1 else f"{size_gb:.0f} GB")
        rows.append(ModelRow(key=str(item["key"]), repo_id=str(item.get("repo_id", "")),
                             purpose=str(item.get("purpose", "")), size_text=size_text,
                             licence=str(item.get("licence", "")), installed=bool(item["installed"]),
                             missing="" if item["installed"] else str(item.get("missing") or "model.missing"),
                             vram_text=str(item.get("vram_text") or "")))
    return rows


def last_line(text: str) -> str:
    """The last non-blank line of ``text`` ("" when none)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def judge_list_result(returncode: int, stdout: str, stderr: str) -> ListOutcome:
    """Turn a finished ``models list --json`` into rows or a reason.

    A ``ModuleNotFoundError`` (the backend's packages are missing from the
    interpreter) gives ``needs_install``; other failures give ``error`` with
    the last line of stderr.
    """
    if returncode == 0:
        try:
            return ListOutcome("ok", parse_models_list(stdout))
        except ValueError as exc:
            return ListOutcome("error", message=f"Could not read the model list: {exc}")
    if any(marker in stderr for marker in _NO_DEPS_MARKERS):
        return ListOutcome("needs_install", message=f"{NEEDS_INSTALL_TEXT} ({last_line(stderr)}).")
    detail = last_line(stderr) or last_line(stdout) or f"exit code {returncode}"
    return ListOutcome("error", message=f"Listing the models failed: {detail}")


class ModelListFetch:
    """``models list --json`` in a background thread (or blocking with :meth:`run`).

    Args:
        interpreter: the backend's Python.
        backend_root: the extension folder (cwd and ``PYTHONPATH``).
        env: the preferences' backend variables (``HF_HOME`` decides which cache is listed).

    Attributes:
        outcome: the :class:`ListOutcome` once done, else None.
    """

    def __init__(self, interpreter: str, backend_root: str, env: Mapping[str, str], timeout: float = LIST_TIMEOUT_S):
        self.argv = models_command(interpreter, "list", "--json")
        self.interpreter = str(interpreter)
        self.backend_root = str(backend_root)
        self.env = backend_process_env(backend_root, env)
        self.timeout = timeout
        self.outcome: Optional[ListOutcome] = None
        self._thread: Optional[threading.Thread] = None

    def run(self) -> ListOutcome:
        """List now, blocking (at most ``timeout`` seconds); also sets ``outcome``."""
        if not interpreter_exists(self.interpreter):
            outcome = ListOutcome("needs_install",
                                  message=f"{NEEDS_INSTALL_TEXT}: no backend interpreter at {self.interpreter}.")
        else:
            kwargs = {"creationflags": getattr(subprocess, "CREATE_NO_WINDOW", 0)} if sys.platform == "win32" else {}
            try:
                proc = subprocess.run(self.argv, cwd=self.backend_root, env=self.env, stdin=subprocess.DEVNULL,
                                      capture_output=True, timeout=self.timeout, **kwargs)
                outcome = judge_list_result(proc.returncode, proc.stdout.decode("utf-8", "replace"),
                                            proc.stderr.decode("utf-8", "replace"))
            except subprocess.TimeoutExpired:
                outcome = ListOutcome("error", message=f"Listing the models took over {self.timeout:.0f} s.")
            except OSError as exc:
                outcome = ListOutcome("needs_install",
                                      message=f"{NEEDS_INSTALL_TEXT}: {self.interpreter} cannot run ({exc}).")
        self.outcome = outcome
        return outcome

    def start(self) -> "ModelListFetch":
        """Run :meth:`run` in a daemon thread; ``done`` turns True when it ends."""
        self._thread = threading.Thread(target=self.run, name="tween4d-models-list", daemon=True)
        self._thread.start()
        return self

    @property
    def done(self) -> bool:
        """True once ``outcome`` is set."""
        return self.outcome is not None


def parse_percent(line: str) -> Optional[float]:
    """The fraction of a tqdm bar line (``"x.safetensors:  40%|####  | 40M/99M"`` -> 0.4), or None."""
    m = _PERCENT.search(line)
    if not m:
        return None
    return min(int(m.group(1)), 100) / 100.0


def failure_text(lines: list[str]) -> str:
    """What a failed ``models download`` said: its ``error:`` and ``what to do:`` lines, else its last line."""
    error = next((line for line in reversed(lines) if line.startswith("error:")), "")
    hint = next((line for line in reversed(lines) if line.startswith("what to do:")), "")
    if error:
        return " ".join(part for part in (error[len("error:"):].strip(), hint[len("what to do:"):].strip()) if part)
    return last_line("\n".join(lines))


@dataclass
class DownloadOutcome:
    """How a download ended: ``ok``, ``cancelled``, the exit code and a message for people."""

    ok: bool
    cancelled: bool
    returncode: int
    message: str


class ModelDownload(InstallRunner):
    """A running ``<interpreter> -m backend models download KEY``.

    Args:
        interpreter: the backend's Python.
        key: the model key.
        backend_root: the extension folder (cwd and ``PYTHONPATH``).
        env: the preferences' backend variables; ``HF_HUB_OFFLINE`` and
            ``TRANSFORMERS_OFFLINE`` are removed (see :func:`backend_process_env`).

    Attributes:
        fraction: 0..1 from the last tqdm percentage seen.
        step_text: the last output line (the current bar state).
        outcome: the :class:`DownloadOutcome` once :meth:`tick` saw the end.
        on_line: called with each output line as :meth:`poll` reads it (None: not called).
    """

    def __init__(self, interpreter: str, key: str, backend_root: str, env: Mapping[str, str]):
        super().__init__(models_command(interpreter, "download", key), cwd=str(backend_root))
        self.env = backend_process_env(backend_root, env, allow_download=True)
        self.key = key
        self.cancel_requested = False
        self.outcome: Optional[DownloadOutcome] = None
        self.on_line: Optional[Callable[[str], None]] = None
        self._partial: Optional[str] = None  # the line being drawn (no "\r" or "\n" after it yet)
        self._kill_at: Optional[float] = None

    def _read(self) -> None:
        # tqdm redraws its bar after "\r" and ends it with the next "\r": split on both, and show the
        # unterminated tail (the bar as drawn now) at once, without adding it to ``lines`` yet.
        stream = self.process.stdout
        pending = b""
        while True:
            chunk = stream.read1(65536)
            if not chunk:
                break
            parts = re.split(rb"[\r\n]", pending + chunk)
            pending = parts.pop()
            for part in parts:
                text = part.decode("utf-8", "replace").rstrip()
                if text.strip():
                    self._queue.put(text)
            self._partial = pending.decode("utf-8", "replace").rstrip() if pending.strip() else None
        if pending.strip():
            self._queue.put(pending.decode("utf-8", "replace").rstrip())
        stream.close()

    def _show(self, line: str) -> None:
        fraction = parse_percent(line)
        if fraction is not None:
            self.fraction = fraction
        self.step_text = line.strip()

    def poll(self) -> list[str]:
        """New output lines since the last call (never blocks); updates ``fraction`` and ``step_text``."""
        new = super().poll()
        for line in new:
            self._show(line)
            if self.on_line is not None:
                self.on_line(line)
        partial, self._partial = self._partial, None
        if partial is not None and self.returncode is None:
            self._show(partial)
        return new

    def request_cancel(self) -> None:
        """Terminate the process now; :meth:`tick` kills it if it is still there ``KILL_GRACE_S`` later."""
        self.cancel_requested = True
        proc = self.process
        if proc is None or proc.poll() is not None or self._kill_at is not None:
            return
        try:
            proc.terminate()
        except OSError:
            pass
        self._kill_at = time.monotonic() + KILL_GRACE_S

    def tick(self) -> Optional[DownloadOutcome]:
        """Read output, escalate a cancel, and return the outcome once the process has ended (never blocks)."""
        if self.outcome is not None:
            return self.outcome
        self.poll()
        if self._kill_at is not None and time.monotonic() > self._kill_at and self.process.poll() is None:
            try:
                self.process.kill()
            except OSError:
                pass
        code = self.returncode
        if code is None:
            return None
        if self.cancel_requested:
            self.outcome = DownloadOutcome(False, True, code, f"Download of model '{self.key}' cancelled.")
        elif code == 0:
            self.outcome = DownloadOutcome(True, False, 0, f"Model '{self.key}' downloaded.")
        else:
            detail = failure_text(list(self.lines)) or "no output"
            self.outcome = DownloadOutcome(False, False, code,
                                           f"Downloading model '{self.key}' failed (exit code {code}): {detail}")
        return self.outcome

    def wait(self, interval: float = 0.1) -> DownloadOutcome:
        """Block until the download ends (background mode, scripts)."""
        while True:
            outcome = self.tick()
            if outcome is not None:
                return outcome
            time.sleep(interval)


class ModelsState:
    """What the preferences' Models box shows (one per Blender session: :data:`STATE`).

    Attributes:
        rows: the last listed :class:`ModelRow` s.
        status: "unknown" (never listed), "loading", "ok", "needs_install" or "error".
        message: why the list is not shown (needs_install, error).
        list_key: what the shown list was made with (set by the caller, compared on redraw).
        fetch: the running :class:`ModelListFetch`, if any.
        download: the running :class:`ModelDownload`, if any (one at a time).
        last_result: the last download's message; ``last_ok`` whether it succeeded.
    """

    def __init__(self):
        self.rows: list[ModelRow] = []
        self.status = "unknown"
        self.message = ""
        self.list_key: Optional[tuple] = None
        self.fetch: Optional[ModelListFetch] = None
        self.download: Optional[ModelDownload] = None
        self.last_result = ""
        self.last_ok = False

    def start_list(self, interpreter: str, backend_root: str, env: Mapping[str, str], *, blocking: bool) -> None:
        """List the models with ``interpreter``/``env`` (in a thread unless ``blocking``)."""
        self.status = "loading"
        fetch = ModelListFetch(interpreter, backend_root, env)
        self.fetch = fetch
        if blocking:
            fetch.run()
            self.absorb()
        else:
            fetch.start()

    def absorb(self) -> bool:
        """Take over a finished list (main thread); True while a list is still running."""
        fetch = self.fetch
        if fetch is None:
            return False
        if not fetch.done:
            return True
        outcome = fetch.outcome
        self.fetch = None
        self.status, self.message = outcome.status, outcome.message
        if outcome.status == "ok":
            self.rows = outcome.rows
        elif outcome.status == "needs_install":
            self.rows = []
        return False

    @property
    def downloading(self) -> bool:
        """True while a download process is running."""
        return self.download is not None and self.download.outcome is None

    def stop(self) -> None:
        """Terminate a running download (and kill it after ``KILL_GRACE_S``); forget it."""
        download = self.download
        if download is not None and download.outcome is None:
            download.cancel(timeout=KILL_GRACE_S)
        self.download = None


STATE = ModelsState()
atexit.register(STATE.stop)
