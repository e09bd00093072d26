"""``python -m backend serve``: the JSON-lines server the Blender add-on talks to.

Reads requests from stdin and writes events to stdout, one JSON object per
line (``backend.protocol``). One job runs at a time in a worker thread; the
main thread keeps reading, so ``cancel`` is seen at once and the job stops at
its next progress report (stages report several times a second). End of
stdin (the add-on closed the pipe, or Blender exited), SIGTERM and SIGINT
cancel the job, wait for it to clean up (at most ``EXIT_GRACE_S``) and exit
(0, 143, 130), so the backend never outlives its client and leaves no hidden
partial folder behind.

stdout carries the protocol only: the real stdout is kept on a private file
descriptor and fd 1 is pointed at stderr, so stray prints from libraries
cannot corrupt the stream.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import signal
import sys
import threading
import traceback
from typing import BinaryIO, Optional

from . import __version__
from .errors import Cancelled, Tween4DError
from .protocol import MAX_LINE_BYTES, PROTOCOL_VERSION, TERMINAL_EVENTS, ProtocolError, decode, encode
from .settings import ENGINE_NAMES

REQUIRED_MODULES = {"numpy": "numpy", "cv2": "opencv-python-headless", "scipy": "scipy", "PIL": "pillow", "triangle": "triangle"}
EXIT_GRACE_S = 30.0
"""Longest wait for a cancelled job to clean up at exit; a cancel takes about a second (the writer checks
it between chunks), so this is reached only by a job stuck in one long native call."""


class _Terminate(Exception):
    """Raised in the main thread by the SIGTERM/SIGINT handler to leave the request loop."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def dependency_problems() -> list[str]:
    """Names of missing required packages, as sentences (empty when ready)."""
    return [
        f"{pkg} is not installed in {sys.executable}"
        for mod, pkg in REQUIRED_MODULES.items()
        if importlib.util.find_spec(mod) is None
    ]


class Server:
    """The request loop. ``stdin``/``stdout`` are binary streams."""

    def __init__(self, stdin: BinaryIO, stdout: BinaryIO):
        self.stdin = stdin
        self.stdout = stdout
        self._lock = threading.Lock()
        self._job: Optional[threading.Thread] = None
        self._job_id: Optional[str] = None
        self._busy = False  # cleared just before a job's terminal event, so the client may start the next
        self._cancel = threading.Event()
        self._closed = False
        self._greeted = False  # set by a hello with our protocol version; generate needs it

    def send(self, message: dict) -> None:
        """Write one event line; a closed pipe ends the server quietly.

        Encoding and writing are separate steps: an event that cannot be
        encoded (a bug) is replaced by an ``internal`` error event for the same
        ``id``, so a client never waits forever, and is never taken for a
        closed pipe.
        """
        try:
            data = encode(message)
        except (TypeError, ValueError, RecursionError) as exc:
            what = f"internal error: a {message.get('type')!r} event could not be encoded ({type(exc).__name__}: {exc})"
            if message.get("type") in TERMINAL_EVENTS:
                data = encode({"type": "error", "id": message.get("id"), "code": "internal", "message": what,
                               "hint": "Please report this with the log."})
            else:
                data = encode({"type": "log", "id": message.get("id"), "level": "warning", "message": what})
        with self._lock:
            if self._closed:
                return
            try:
                self.stdout.write(data)
                self.stdout.flush()
            except (OSError, ValueError):  # broken pipe, or a closed file object
                self._closed = True
                self._cancel.set()

    def _error(self, job_id, code: str, message: str, hint: str = "") -> None:
        self.send({"type": "error", "id": job_id, "code": code, "message": message, "hint": hint})

    def serve(self) -> int:
        """Run until stdin closes, ``shutdown`` arrives or a signal handler raises ``_Terminate``.

        Returns:
            The exit code: 0, or 128 + the signal number.
        """
        try:
            self._loop()
        except _Terminate as stop:
            self.shutdown()
            return 128 + stop.signum
        self.shutdown()
        return 0

    def _loop(self) -> None:
        while not self._closed:
            line = self.stdin.readline(MAX_LINE_BYTES + 1)
            if not line:
                break
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                # Swallow the rest of an over-long line instead of buffering it.
                while line and not line.endswith(b"\n"):
                    line = self.stdin.readline(MAX_LINE_BYTES)
                self._error(None, "protocol", f"request line longer than {MAX_LINE_BYTES} bytes was ignored")
                continue
            if not line.strip():
                continue
            try:
                msg = decode(line)
            except ProtocolError as exc:
                self._error(None, "protocol", f"malformed request ignored: {exc}")
                continue
            try:
                if not self.dispatch(msg):
                    break
            except _Terminate:
                raise
            except Exception as exc:  # a bug in handling one request must not end the server (or its job)
                self.send({"type": "log", "id": None, "level": "debug", "message": traceback.format_exc()})
                self._error(None, "internal", f"internal error handling a {msg['type']!r} request: "
                                              f"{type(exc).__name__}: {exc}", "Please report this with the log.")

    def dispatch(self, msg: dict) -> bool:
        """Handle one request. Returns False when the server should stop."""
        kind = msg["type"]
        if kind == "hello":
            theirs = msg.get("protocol")
            if isinstance(theirs, bool) or theirs != PROTOCOL_VERSION:
                self.send({"type": "error", "id": None, "code": "protocol.version",
                           "message": f"the client speaks protocol version {str(theirs)[:20]!r}; this backend "
                                      f"speaks version {PROTOCOL_VERSION} only",
                           "hint": "The add-on and its backend come from different releases: reinstall the "
                                   "extension so both match.",
                           "protocol": PROTOCOL_VERSION})
                return True
            self._greeted = True
            problems = dependency_problems()
            self.send({
                "type": "hello",
                "protocol": PROTOCOL_VERSION,
                "backend": __version__,
                "python": platform.python_version(),
                "executable": sys.executable,
                "engines": {stage: list(names) for stage, names in ENGINE_NAMES.items()},
                "ready": not problems,
                "problems": problems,
            })
        elif kind == "generate":
            self._start_job(msg)
        elif kind == "cancel":
            if self._busy and msg.get("id") in (None, self._job_id):
                self._cancel.set()
        elif kind == "shutdown":
            return False
        else:
            self._error(msg.get("id"), "protocol", f"unknown request type {kind!r}")
        return True

    def _start_job(self, msg: dict) -> None:
        job_id = str(msg.get("id") or "job")
        if not self._greeted:
            self._error(job_id, "protocol.hello", "generate arrived before a successful hello",
                        f'Send {{"type": "hello", "protocol": {PROTOCOL_VERSION}}} first and wait for its answer.')
            return
        if self._busy:
            # A request reusing the running job's id must not get an error carrying that id: the client would
            # take it for the running job's final event. The refused id travels in request_id instead.
            self.send({"type": "error", "id": None if job_id == self._job_id else job_id, "code": "busy",
                       "request_id": job_id, "running_id": self._job_id, "message": "a job is already running",
                       "hint": "Wait for it to finish or cancel it."})
            return
        self._busy = True
        self._cancel = threading.Event()
        self._job_id = job_id
        self._job = threading.Thread(target=self._run, args=(job_id, msg), name=f"job-{job_id}", daemon=True)
        self._job.start()

    def _run(self, job_id: str, msg: dict) -> None:
        from .jobs import run_job

        def sink(event: dict) -> None:
            self.send({**event, "id": job_id})

        try:
            result = run_job(msg, sink=sink, cancel=self._cancel)
        except Cancelled:
            final = {"type": "cancelled", "id": job_id}
        except Tween4DError as exc:
            final = {"type": "error", "id": job_id, "code": exc.code, "message": exc.message, "hint": exc.hint}
            if getattr(exc, "field", ""):
                final["field"] = exc.field
        except MemoryError:
            final = {"type": "error", "id": job_id, "code": "memory", "message": "the job ran out of memory",
                     "hint": "Use draft quality or smaller images."}
        except Exception as exc:  # a bug: report it instead of dying silently
            self.send({"type": "log", "id": job_id, "level": "debug", "message": traceback.format_exc()})
            final = {"type": "error", "id": job_id, "code": "internal",
                     "message": f"internal error: {type(exc).__name__}: {exc}",
                     "hint": "Please report this with the log; try draft quality or other engines meanwhile."}
        else:
            final = {"type": "result", "id": job_id, "asset": str(result.asset_dir), "summary": result.summary}
        self._busy = False
        self.send(final)

    def shutdown(self) -> None:
        """Cancel a running job and wait (at most ``EXIT_GRACE_S``) for it to clean up."""
        self._cancel.set()
        if self._job is not None:
            self._job.join(EXIT_GRACE_S)


def _install_signal_handlers() -> None:
    """SIGTERM / SIGINT leave the request loop once (``_Terminate``); later ones are ignored during the cleanup."""
    fired: list[int] = []

    def handler(signum, frame) -> None:
        if not fired:
            fired.append(signum)
            raise _Terminate(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


def main() -> int:
    """Entry point of ``python -m backend serve``."""
    proto_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    _install_signal_handlers()
    return Server(sys.stdin.buffer, proto_out).serve()
