"""The backend process as seen from Blender: spawn, handshake, events, cancel, kill.

No ``bpy`` here: this module runs in Blender's main thread (the generate
operator's modal timer calls :meth:`BackendClient.poll`), in background mode
(:meth:`BackendClient.run_blocking`) and in plain Python tests.

The backend is ``python -m backend serve`` (``backend/server.py``) speaking the
JSON-lines protocol of ``backend/protocol.py``: requests on its stdin, events
on its stdout, free-form diagnostics on its stderr (kept in a ring buffer so
errors can quote them). Design after Blender's extension manager
(``scripts/addons_core/bl_pkg``: a subprocess, a non-blocking poll for the
modal timer, a blocking loop for background mode).

Guarantees:

* ``poll()`` never blocks; a reader thread decodes stdout lines into a queue.
* A malformed line becomes a ``log`` event with level ``warning``, never an
  exception.
* Every submitted job ends with exactly one terminal event (``result``,
  ``error`` or ``cancelled``): if the process dies first, the client makes a
  synthetic one (``error`` with code ``backend.crashed``, or ``cancelled`` if a
  cancel had been asked for).
* ``cancel()`` escalates: the ``cancel`` request, then ``terminate()`` after
  ``cancel_grace_s`` without a terminal event, then ``kill()`` after
  ``terminate_grace_s``. Escalation runs from ``poll()`` (and so from the modal
  timer and the blocking loop).
* The process never outlives Blender: the backend exits on end of stdin, and
  ``close()`` (called from ``unregister()`` and ``atexit``) closes stdin, then
  terminates and kills if needed.
"""

from __future__ import annotations

import atexit
import collections
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
import weakref
from typing import Callable, Mapping, Optional

from ..backend import protocol

# Synthetic error codes made by the client (the backend's own codes have no "backend." prefix).
CODE_START_FAILED = "backend.start_failed"
CODE_CRASHED = "backend.crashed"
CODE_PROTOCOL = "backend.protocol"
CODE_NOT_READY = "backend.not_ready"
CODE_TIMEOUT = "backend.timeout"

INSTALL_HINT = "Run Install Dependencies in Edit > Preferences > Add-ons > Tween4D."
STDERR_TAIL_LINES = 200
STDERR_LINE_BYTES = 1 << 16


class BackendError(RuntimeError):
    """The backend cannot be started or used; ``message`` says why and ``hint`` what to do.

    Attributes:
        message: what went wrong (may quote the backend's stderr).
        hint: what the person can do about it.
        code: a stable identifier (``backend.start_failed``, ``backend.protocol``, ...).
    """

    def __init__(self, message: str, hint: str = "", code: str = CODE_START_FAILED):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()

    def as_event(self, job_id: Optional[str] = None) -> dict:
        """This error as a protocol ``error`` event (``synthetic`` marks client-made events)."""
        return {"type": "error", "id": job_id, "code": self.code, "message": self.message,
                "hint": self.hint, "synthetic": True}


def hint_for_stderr(stderr_tail: str) -> str:
    """What to do about a backend that died, judged from its last stderr lines."""
    if "No module named 'backend'" in stderr_tail or "No module named backend" in stderr_tail:
        return "The backend sources are missing from the add-on folder: reinstall the Tween4D extension."
    if "No module named" in stderr_tail or "ModuleNotFoundError" in stderr_tail:
        return INSTALL_HINT
    if "MemoryError" in stderr_tail or "out of memory" in stderr_tail.lower():
        return "The backend ran out of memory: use draft quality or smaller images."
    return ("See the backend output quoted above; if it persists, repair dependencies in the add-on "
            "preferences or report a bug.")


class BackendClient:
    """One backend process and its jobs.

    Args:
        interpreter: the Python executable of the backend environment (a path,
            or a command name found on PATH).
        backend_root: the folder that contains the ``backend`` package (the
            installed extension directory); it becomes the working directory
            and ``PYTHONPATH`` of the process.
        env: extra environment variables, merged over ``os.environ``
            (``PYTHONHOME``/``PYTHONPATH``/``PYTHONSTARTUP`` of the parent are
            dropped so Blender's own Python settings do not leak in).
        cancel_grace_s: seconds a cancelled job gets to end before ``terminate()``.
            The backend checks for cancel at least every second, during the
            asset write too (benchmarks/bench_cancel_write.py measured at most
            0.64 s, partial folder removed, for a 2 GiB write), so 3 s is ample.
        terminate_grace_s: seconds after ``terminate()`` before ``kill()``; on
            SIGTERM the backend cancels, removes its partial folder and exits 143.
        client_name: sent in the ``hello`` request.
    """

    def __init__(self, interpreter: str, backend_root: str, env: Optional[Mapping[str, str]] = None, *,
                 cancel_grace_s: float = 3.0, terminate_grace_s: float = 3.0, client_name: str = "tween4d-blender"):
        self.interpreter = str(interpreter)
        self.backend_root = str(backend_root)
        self.extra_env = dict(env or {})
        self.cancel_grace_s = float(cancel_grace_s)
        self.terminate_grace_s = float(terminate_grace_s)
        self.client_name = client_name

        self.process: Optional[subprocess.Popen] = None
        self.hello: Optional[dict] = None  # the backend's hello event once the handshake succeeded
        self._events: queue.Queue = queue.Queue()
        self._stderr: collections.deque = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._lock = threading.RLock()
        self._write_lock = threading.Lock()
        self._ready = threading.Event()
        self._failed: Optional[BackendError] = None
        self._pending: list[dict] = []  # generate requests held until the handshake succeeds
        self._open_jobs: set[str] = set()
        self._cancel_at: dict[str, float] = {}  # job id -> monotonic time cancel was sent
        self._terminated_at: Optional[float] = None
        self._killed = False
        self._closing = False
        self._threads: list[threading.Thread] = []
        _LIVE_CLIENTS.add(self)

    # -- lifecycle ---------------------------------------------------------

    def command(self) -> list[str]:
        """The argv that starts the backend server."""
        return [self.interpreter, "-u", "-m", "backend", "serve"]

    def environment(self) -> dict:
        """The environment of the backend process."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP")}
        env.update(self.extra_env)
        env["PYTHONPATH"] = self.backend_root
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONIOENCODING"] = "utf-8"
        return env

    def start(self) -> "BackendClient":
        """Spawn the process and send ``hello``; does not wait for the answer.

        The handshake completes in the background: :meth:`wait_ready` blocks for
        it, :meth:`poll` reports its failure as an ``error`` event, and jobs
        submitted before it completes are held until then.

        Raises:
            BackendError: the interpreter is missing or cannot be executed.
        """
        if self.process is not None:
            return self
        if not os.path.isfile(self.interpreter) and shutil.which(self.interpreter) is None:
            raise BackendError(
                f"The backend Python interpreter was not found: {self.interpreter}",
                INSTALL_HINT + " Or set an existing Python 3.11+ interpreter there.",
            )
        if not os.path.isdir(os.path.join(self.backend_root, "backend")):
            raise BackendError(
                f"No backend package in {self.backend_root}",
                "The add-on folder is incomplete: reinstall the Tween4D extension.",
            )
        kwargs = {}
        if sys.platform == "win32":
            kwargs["creationflags"] = getattr(subprocess, "CREATE_NO_WINDOW", 0)
        try:
            self.process = subprocess.Popen(
                self.command(), cwd=self.backend_root, env=self.environment(),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0, **kwargs,
            )
        except OSError as exc:
            raise BackendError(
                f"Could not start the backend with {self.interpreter}: {exc.strerror or exc}",
                INSTALL_HINT + " Or point the interpreter setting at a working Python.",
            ) from exc
        for target, name in ((self._read_stdout, "stdout"), (self._read_stderr, "stderr")):
            t = threading.Thread(target=target, name=f"tween4d-backend-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        self._send({"type": "hello", "protocol": protocol.PROTOCOL_VERSION, "client": self.client_name})
        return self

    @property
    def ready(self) -> bool:
        """True once the backend answered ``hello`` with a compatible protocol and is ready."""
        return self._ready.is_set() and self._failed is None

    @property
    def failure(self) -> Optional[BackendError]:
        """Why the backend cannot be used (failed handshake, died), or None."""
        return self._failed

    @property
    def alive(self) -> bool:
        """True while the process runs and has not failed its handshake."""
        return self.process is not None and self.process.poll() is None and self._failed is None

    @property
    def busy(self) -> bool:
        """True while a submitted job has not ended."""
        with self._lock:
            return bool(self._open_jobs)

    def wait_ready(self, timeout: float = 60.0) -> dict:
        """Block until the handshake is done; returns the backend's ``hello`` event.

        Raises:
            BackendError: the process died, speaks another protocol, lacks
                dependencies, or did not answer within ``timeout`` seconds.
        """
        if self.process is None:
            self.start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self._failed is not None:
                raise self._failed
            if time.monotonic() > deadline:
                self.close()
                raise BackendError(
                    f"The backend did not answer within {timeout:.0f} s.{self._stderr_suffix()}",
                    "Check the interpreter setting in the add-on preferences; run Install Dependencies to repair it.",
                    CODE_TIMEOUT,
                )
        if self._failed is not None:
            raise self._failed
        return self.hello

    def close(self, timeout: float = 3.0) -> None:
        """Stop the backend: ``shutdown`` and end of stdin, then terminate, then kill.

        Blocks at most about ``2 * timeout`` seconds. Safe to call repeatedly.
        """
        self._closing = True
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            self._send({"type": "shutdown"})
        self._close_stdin()
        for step in (None, proc.terminate, proc.kill):
            if step is not None and proc.poll() is None:
                try:
                    step()
                except OSError:
                    pass
            try:
                proc.wait(timeout)
                break
            except subprocess.TimeoutExpired:
                continue
        for t in self._threads:
            t.join(1.0)
        for stream in (proc.stdout, proc.stderr):
            try:
                stream.close()
            except (OSError, AttributeError):
                pass

    # -- jobs --------------------------------------------------------------

    def generate(self, job: dict) -> str:
        """Submit a ``generate`` job; returns its id.

        Args:
            job: ``{"mode", "inputs": {"start", "end"}, "output", "settings"}``
                (``backend.jobs``); an ``id`` is made up when missing.

        The request is sent at once when the handshake is done, or held until
        it is. Events about it arrive through :meth:`poll`.

        Raises:
            BackendError: the process could not be started.
        """
        if self.process is None:
            self.start()
        job_id = str(job.get("id") or uuid.uuid4().hex[:12])
        request = {**job, "type": "generate", "id": job_id}
        with self._lock:
            self._open_jobs.add(job_id)
            if self._failed is not None:
                self._events.put(self._failed.as_event(job_id))
                self._open_jobs.discard(job_id)
            elif self._ready.is_set():
                self._send(request)
            else:
                self._pending.append(request)
        return job_id

    def cancel(self, job_id: str) -> None:
        """Ask the backend to cancel ``job_id``; escalate to terminate/kill if it does not end in time."""
        with self._lock:
            if job_id not in self._open_jobs or job_id in self._cancel_at:
                return
            self._cancel_at[job_id] = time.monotonic()
            held = [r for r in self._pending if r["id"] == job_id]
            if held:
                # Never sent: end it here.
                self._pending = [r for r in self._pending if r["id"] != job_id]
                self._open_jobs.discard(job_id)
                self._events.put({"type": "cancelled", "id": job_id, "synthetic": True})
                return
        self._send({"type": "cancel", "id": job_id})

    def poll(self) -> list[dict]:
        """All events received since the last call (never blocks); also drives cancel escalation."""
        self._escalate()
        out = []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                return out

    def run_blocking(self, job: dict, on_event: Optional[Callable[[dict], None]] = None,
                     timeout: Optional[float] = None, idle_timeout: Optional[float] = None) -> dict:
        """Run one job to its end, for background mode, scripts and tests.

        Args:
            job: as for :meth:`generate`.
            on_event: called with every event of the job (and id-less events) as it arrives.
            timeout: seconds for the whole job; None for no limit.
            idle_timeout: seconds without any event after which the backend is
                considered hung; None for no limit.

        Returns:
            The terminal event (``result``, ``error`` or ``cancelled``). A
            timeout cancels the job (escalating to terminate/kill) and returns an
            ``error`` event with code ``backend.timeout``.
        """
        job_id = self.generate(job)
        started = last_event = time.monotonic()
        timed_out: Optional[str] = None
        while True:
            try:
                event = self._events.get(timeout=0.05)
            except queue.Empty:
                event = None
            self._escalate()
            now = time.monotonic()
            if event is not None:
                last_event = now
                if event.get("id") in (job_id, None) and on_event is not None:
                    on_event(event)
                if event.get("id") == job_id and event.get("type") in protocol.TERMINAL_EVENTS:
                    if timed_out and event["type"] != "result":
                        return {"type": "error", "id": job_id, "code": CODE_TIMEOUT, "message": timed_out,
                                "hint": "The backend may be stuck: try again, use draft quality, "
                                        "or repair dependencies.", "synthetic": True}
                    return event
            if timed_out is None:
                if timeout is not None and now - started > timeout:
                    timed_out = f"The job did not finish within {timeout:.0f} s and was stopped."
                elif idle_timeout is not None and now - last_event > idle_timeout:
                    timed_out = f"The backend sent nothing for {idle_timeout:.0f} s and was stopped."
                if timed_out:
                    self.cancel(job_id)

    # -- diagnostics -------------------------------------------------------

    def stderr_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines the backend wrote to stderr."""
        with self._lock:
            return "\n".join(list(self._stderr)[-lines:])

    def _stderr_suffix(self, lines: int = 12) -> str:
        tail = self.stderr_tail(lines).strip()
        return f"\nBackend output:\n{tail}" if tail else ""

    # -- internals ---------------------------------------------------------

    def _send(self, message: dict) -> bool:
        proc = self.process
        if proc is None or proc.stdin is None:
            return False
        data = protocol.encode(message)
        with self._write_lock:
            try:
                proc.stdin.write(data)
                proc.stdin.flush()
                return True
            except (BrokenPipeError, OSError, ValueError):
                # The process is gone; the stdout reader reports it.
                return False

    def _close_stdin(self) -> None:
        proc = self.process
        if proc is not None and proc.stdin is not None:
            with self._write_lock:
                try:
                    proc.stdin.close()
                except (OSError, ValueError):
                    pass

    def _escalate(self) -> None:
        """Terminate, then kill, a process that ignores a cancel (non-blocking)."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        now = time.monotonic()
        with self._lock:
            waiting = [t for j, t in self._cancel_at.items() if j in self._open_jobs]
        if not waiting:
            return
        if self._terminated_at is None:
            if now - min(waiting) > self.cancel_grace_s:
                self._terminated_at = now
                try:
                    proc.terminate()
                except OSError:
                    pass
        elif not self._killed and now - self._terminated_at > self.terminate_grace_s:
            self._killed = True
            try:
                proc.kill()
            except OSError:
                pass

    def _read_stderr(self) -> None:
        stream = self.process.stderr
        # Bounded reads: one endless line must not grow memory.
        for raw in iter(lambda: stream.readline(STDERR_LINE_BYTES), b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self._lock:
                self._stderr.append(line)

    def _read_stdout(self) -> None:
        stream = self.process.stdout
        while True:
            try:
                raw = stream.readline(protocol.MAX_LINE_BYTES + 1)
            except (OSError, ValueError):
                break
            if not raw:
                break
            if len(raw) > protocol.MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):
                    raw = stream.readline(protocol.MAX_LINE_BYTES)
                self._warn(f"ignored a backend line longer than {protocol.MAX_LINE_BYTES} bytes")
                continue
            if not raw.strip():
                continue
            try:
                event = protocol.decode(raw)
            except protocol.ProtocolError as exc:
                self._warn(f"ignored a malformed backend line ({exc}): {raw[:200]!r}")
                continue
            self._handle(event)
        self._on_exit()

    def _warn(self, message: str) -> None:
        self._events.put({"type": "log", "id": None, "level": "warning", "message": message, "synthetic": True})

    def _handle(self, event: dict) -> None:
        kind = event["type"]
        if kind == "hello" and not self._ready.is_set():
            self._handshake(event)
            return
        if kind == "error" and event.get("code") == "protocol.version" and not self._ready.is_set():
            self._handshake({"type": "hello", "protocol": event.get("protocol"), "refused": event})
            return
        if kind not in protocol.EVENT_TYPES:
            self._warn(f"ignored an unknown backend event type {kind!r}")
            return
        with self._lock:
            if kind in protocol.TERMINAL_EVENTS and event.get("id") is not None:
                self._open_jobs.discard(str(event["id"]))
        self._events.put(event)

    def _handshake(self, hello: dict) -> None:
        theirs = hello.get("protocol")
        failure = None
        if theirs != protocol.PROTOCOL_VERSION:
            failure = BackendError(
                f"The backend speaks protocol version {theirs!r}, this add-on version {protocol.PROTOCOL_VERSION} "
                f"({self.interpreter}).",
                "The add-on and its backend come from different releases: reinstall the extension, "
                "and clear the interpreter setting to use the bundled backend environment.",
                CODE_PROTOCOL,
            )
        elif hello.get("ready") is False:
            problems = "; ".join(str(p) for p in hello.get("problems") or []) or "dependencies are missing"
            failure = BackendError(f"The backend environment is incomplete: {problems}.", INSTALL_HINT, CODE_NOT_READY)
        with self._lock:
            self.hello = hello
            pending, self._pending = self._pending, []
            self._events.put(hello)
            if failure is not None:
                # Events first, then the failure flag that wait_ready() watches.
                self._events.put(failure.as_event(None))
                for request in pending:
                    self._open_jobs.discard(request["id"])
                    self._events.put(failure.as_event(request["id"]))
                self._failed = failure
            self._ready.set()
        if failure is None:
            for request in pending:
                self._send(request)
        else:
            self._close_stdin()  # the backend exits on end of stdin

    def _on_exit(self) -> None:
        """stdout closed: the process ended (or is ending). Close every open job."""
        proc = self.process
        try:
            code = proc.wait(5.0)
        except subprocess.TimeoutExpired:
            code = None
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(1.0)
        tail = self.stderr_tail(20)
        with self._lock:
            handshake_done = self._ready.is_set()
            if not handshake_done:
                failure = BackendError(
                    f"The backend stopped before answering (exit code {code}).{self._stderr_suffix()}",
                    hint_for_stderr(tail), CODE_START_FAILED,
                )
                self._events.put(failure.as_event(None))
                for request in self._pending:
                    self._events.put(failure.as_event(request["id"]))
                    self._open_jobs.discard(request["id"])
                self._pending = []
                self._failed = failure
                self._ready.set()
            for job_id in sorted(self._open_jobs):
                if job_id in self._cancel_at or self._closing:
                    self._events.put({"type": "cancelled", "id": job_id, "synthetic": True})
                else:
                    self._events.put(BackendError(
                        f"The backend stopped in the middle of the job (exit code {code}).{self._stderr_suffix()}",
                        hint_for_stderr(tail), CODE_CRASHED,
                    ).as_event(job_id))
            self._open_jobs.clear()
            if handshake_done and not self._closing and self._failed is None:
                self._failed = BackendError(f"The backend exited (exit code {code}).", hint_for_stderr(tail),
                                            CODE_CRASHED)


_LIVE_CLIENTS: "weakref.WeakSet[BackendClient]" = weakref.WeakSet()


def close_all(timeout: float = 2.0) -> None:
    """Close every client still alive (``unregister()`` and interpreter exit)."""
    for client in list(_LIVE_CLIENTS):
        try:
            client.close(timeout)
        except Exception:  # noqa: BLE001 - best effort at shutdown
            pass


atexit.register(close_all)
