"""The JSON-lines protocol between the Blender add-on and ``python -m backend serve``.

Standard library only: the add-on imports this module inside Blender.

One JSON object per line, UTF-8, each with a ``type``. Big data never travels
through the pipe: results are asset directories on disk.

Requests (client -> backend, on stdin):

* ``{"type": "hello", "protocol": 1, "client": "..."}`` -> answered by a ``hello`` event; a
  ``protocol`` other than ``PROTOCOL_VERSION`` is answered by an ``error`` (id null, code
  ``protocol.version``, and the backend's ``protocol``) instead. ``generate`` before a successful
  ``hello`` is refused (code ``protocol.hello``).
* ``{"type": "generate", "id": "...", "mode": "two_image", "inputs": {"start": PATH, "end": PATH},
  "output": DIR, "settings": {...GenerateSettings...}}`` -> ``progress``/``log`` events, then
  exactly one of ``result``, ``error`` or ``cancelled`` with the same ``id``. While a job runs,
  another ``generate`` gets an ``error`` with code ``busy``, ``request_id`` (the refused id) and
  ``running_id``; its ``id`` is the refused id, or null when that equals the running job's id (so
  the refusal is never taken for the running job's final event).
* ``{"type": "cancel", "id": "..."}`` -> the job stops within about a second, writes nothing,
  and ends with ``cancelled``.
* ``{"type": "shutdown"}`` -> cancels any job and exits. End of stdin does the same, so the
  backend never outlives its client.

Events (backend -> client, on stdout):

* ``hello``: ``protocol``, ``backend`` (version), ``engines`` (stage -> names), ``python``.
* ``progress``: ``id``, ``stage``, ``stage_index``, ``stage_count``, ``fraction`` (of the stage),
  ``overall`` (of the job, 0..1), ``message``.
* ``log``: ``id`` (may be null), ``level`` ("debug" | "info" | "warning"), ``message``.
* ``result``: ``id``, ``asset`` (absolute path), ``summary`` (frames, gaussians, timings_s, ...).
* ``error``: ``id`` (may be null), ``code``, ``message``, ``hint`` (what to do); a malformed job
  (code ``job``) also names the request ``field`` at fault (``inputs``, ``settings.seed``...).
* ``cancelled``: ``id``.
"""

from __future__ import annotations

import json

PROTOCOL_VERSION = 1

REQUEST_TYPES = ("hello", "generate", "cancel", "shutdown")
EVENT_TYPES = ("hello", "progress", "log", "result", "error", "cancelled")
TERMINAL_EVENTS = ("result", "error", "cancelled")

# Longest line either side accepts; longer lines are refused, not buffered forever.
MAX_LINE_BYTES = 1 << 20


class ProtocolError(ValueError):
    """A line is not a valid protocol message."""


def encode(message: dict) -> bytes:
    """One message as a UTF-8 JSON line (no embedded newlines).

    Strings that UTF-8 cannot encode (lone surrogates, e.g. a file name with a
    non-UTF-8 byte decoded with ``surrogateescape``) make the whole line fall
    back to ``\\uXXXX`` escapes (``ensure_ascii``), which is still valid JSON and
    decodes back to the same Python string, so such a path round-trips.

    Raises:
        TypeError, ValueError: ``message`` holds something JSON cannot represent
            (a non-serialisable object, a circular reference).
    """
    text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = json.dumps(message, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return data + b"\n"


def decode(line: bytes | str) -> dict:
    """Parse one line into a message dict with a string ``type``.

    Raises:
        ProtocolError: not JSON (nesting too deep included), not an object,
            no ``type``, or too long.
    """
    if isinstance(line, bytes):
        if len(line) > MAX_LINE_BYTES:
            raise ProtocolError(f"line of {len(line)} bytes exceeds the {MAX_LINE_BYTES}-byte limit")
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"line is not UTF-8: {exc}") from exc
    text = line.strip()
    if not text:
        raise ProtocolError("empty line")
    try:
        msg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"not JSON: {exc.msg}") from exc
    except RecursionError:
        raise ProtocolError("JSON nested too deeply to parse") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError("a message must be a JSON object with a string 'type'")
    return msg
