"""One running job seen from the UI: backend events -> job state, cancel, stall detection (no ``bpy``).

The generate operator's modal timer calls :meth:`JobDriver.tick` every 0.1 s;
it never blocks. ``state`` is any object with the attributes of
``properties.TWEEN4D_PG_job`` (``progress``, ``stage``, ``message``,
``cancel_requested``), so the same logic runs in Blender and in plain tests.
"""

from __future__ import annotations

import time
from typing import Optional

from ..backend.protocol import TERMINAL_EVENTS

STAGE_LABELS = {
    "load": "Loading images",
    "foreground": "Separating the object",
    "mesh": "Meshing the silhouette",
    "inbetween": "In-betweening",
    "keyframes": "Choosing keyframes",
    "geometry": "Building the 3D shape",
    "motion": "Lifting the motion to 3D",
    "gaussians": "Placing Gaussians",
    "write": "Writing the asset",
}

STALL_HINT = ("The backend may be stuck: try again, use draft quality, "
              "or repair dependencies in the add-on preferences.")


def stage_text(event: dict) -> str:
    """Progress bar text of a ``progress`` event, e.g. ``"4/9 In-betweening 40%"``."""
    name = event.get("stage") or ""
    label = STAGE_LABELS.get(name, name.replace("_", " ").capitalize() or "Working")
    index, count = event.get("stage_index", -1), event.get("stage_count", 0)
    prefix = f"{index + 1}/{count} " if isinstance(index, int) and index >= 0 and count else ""
    return f"{prefix}{label} {round(100 * float(event.get('fraction') or 0.0))}%"


def apply_event(state, event: dict, job_id: str) -> Optional[dict]:
    """Copy a backend event into the job ``state``; return the event if it ends ``job_id``'s job."""
    kind = event.get("type")
    same_job = event.get("id") == job_id
    if kind == "progress" and same_job:
        state.progress = min(max(float(event.get("overall") or 0.0), 0.0), 1.0)
        state.stage = stage_text(event)
        if event.get("message"):
            state.message = str(event["message"])[:400]
    elif kind == "log" and event.get("level") != "debug":
        state.message = str(event.get("message", ""))[:400]
    elif kind == "error" and not same_job:
        # An error about no job in particular (a refused request): show it, keep waiting.
        state.message = f"Backend: {event.get('message', '')}"[:400]
    if same_job and kind in TERMINAL_EVENTS:
        return event
    return None


class JobDriver:
    """Follows one submitted job of a ``BackendClient`` for a modal operator.

    Args:
        client: the ``BackendClient`` the job was submitted to.
        job_id: the job's id.
        state: the job state to update (see module docstring).
        stall_timeout_s: seconds without any backend event after which the job
            is cancelled and reported as ``backend.timeout``.
    """

    def __init__(self, client, job_id: str, state, stall_timeout_s: float):
        self.client = client
        self.job_id = job_id
        self.state = state
        self.stall_timeout_s = float(stall_timeout_s)
        self.cancel_sent = False
        self.stalled = False
        self.last_event_time = time.monotonic()

    def request_cancel(self) -> None:
        """Cancel the job (once); the client escalates to terminate/kill if needed."""
        if not self.cancel_sent:
            self.cancel_sent = True
            self.client.cancel(self.job_id)

    def tick(self) -> Optional[dict]:
        """Drain the client's events into ``state``; return the job's terminal event once it arrived.

        A stalled job ends with a synthetic ``error`` (code ``backend.timeout``)
        instead of the ``cancelled`` its forced cancel produces.
        """
        if self.state.cancel_requested:
            self.request_cancel()
        now = time.monotonic()
        events = self.client.poll()
        if events:
            self.last_event_time = now
        final = None
        for event in events:
            final = apply_event(self.state, event, self.job_id) or final
        if final is None and not self.stalled and now - self.last_event_time > self.stall_timeout_s:
            self.stalled = True
            self.state.message = f"The backend sent nothing for {self.stall_timeout_s:.0f} s: stopping it."
            self.request_cancel()
        if final is not None and self.stalled and final.get("type") != "result":
            return {"type": "error", "id": self.job_id, "code": "backend.timeout", "message": self.state.message,
                    "hint": STALL_HINT}
        return final
