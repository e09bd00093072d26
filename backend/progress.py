"""Progress reporting and cooperative cancellation for pipelines.

A pipeline declares its stages up front with relative weights; each stage
reports a local fraction. Every report also checks the cancel flag, so a job
stops within one report interval of a cancel (stages report at least every
few hundred milliseconds). Events are plain dicts, the same ones the JSON-lines
server sends (see ``backend.protocol``).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional, Sequence

from .errors import Cancelled

EventSink = Callable[[dict], None]


class Progress:
    """Tracks stage progress, timings and cancellation of one job.

    Args:
        stages: ordered (name, relative weight) pairs.
        sink: receives ``progress`` and ``log`` event dicts; may be None.
        cancel: a ``threading.Event``; once set, the next report raises ``Cancelled``.
    """

    def __init__(self, stages: Sequence[tuple[str, float]], sink: Optional[EventSink] = None,
                 cancel: Optional[threading.Event] = None):
        self.stages = list(stages)
        total = sum(w for _, w in self.stages) or 1.0
        self._start: dict[str, float] = {}
        acc = 0.0
        for name, w in self.stages:
            self._start[name] = acc / total
            acc += w
        self._weight = {name: w / total for name, w in self.stages}
        self.sink = sink
        self.cancel = cancel or threading.Event()
        self.timings: dict[str, float] = {}
        self.current: Optional[str] = None
        self._last_emit = 0.0

    def check(self) -> None:
        """Raise ``Cancelled`` if the job was cancelled."""
        if self.cancel.is_set():
            raise Cancelled("cancelled")

    def _emit(self, event: dict) -> None:
        if self.sink is not None:
            self.sink(event)

    def log(self, message: str, level: str = "info") -> None:
        """Send a log line (``level``: debug, info, warning)."""
        self._emit({"type": "log", "level": level, "message": message})

    def update(self, fraction: float, message: str = "", force: bool = False) -> None:
        """Report progress of the current stage (0..1) and check for cancel.

        Reports are throttled to 20 per second unless ``force``.
        """
        self.check()
        now = time.monotonic()
        if not force and now - self._last_emit < 0.05 and fraction < 1.0:
            return
        self._last_emit = now
        name = self.current or ""
        f = min(max(float(fraction), 0.0), 1.0)
        overall = self._start.get(name, 0.0) + self._weight.get(name, 0.0) * f
        index = [n for n, _ in self.stages].index(name) if name in self._weight else -1
        self._emit({
            "type": "progress",
            "stage": name,
            "stage_index": index,
            "stage_count": len(self.stages),
            "fraction": round(f, 4),
            "overall": round(overall, 4),
            "message": message,
        })

    @contextmanager
    def stage(self, name: str) -> Iterator["Progress"]:
        """Run one declared stage: reports 0 at the start and 1 at the end, and times it."""
        if name not in self._weight:
            raise KeyError(f"stage {name!r} was not declared")
        self.current = name
        t0 = time.perf_counter()
        self.update(0.0, force=True)
        yield self
        self.timings[name] = round(time.perf_counter() - t0, 3)
        self.update(1.0, force=True)


def null_progress(name: str = "work") -> Progress:
    """A Progress with a single stage and no sink, for calling stages directly."""
    p = Progress([(name, 1.0)])
    p.current = name
    return p
