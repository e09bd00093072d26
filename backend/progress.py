"""Progress reporting and cooperative cancellation for pipelines.

A pipeline declares its stages up front with relative weights; each stage
reports a local fraction. Every report also checks the cancel flag, so a job
stops within one report interval of a cancel (stages report at least every
few hundred milliseconds). Events are plain dicts, the same ones the JSON-lines
server sends (see ``backend.protocol``).
"""

from __future__ import annotations

import logging
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


    def span(self, lo: float, hi: float) -> "SubProgress":
        """A view of the current stage that maps 0..1 onto ``lo``..``hi`` of it.

        For a stage that calls the same step several times (e.g. foreground of
        the start, then of the end image), so its bar never goes back.
        """
        return SubProgress(self, lo, hi)


class SubProgress:
    """The part ``lo``..``hi`` of a ``Progress`` stage; same ``update``/``check``/``log`` interface."""

    def __init__(self, parent: Progress, lo: float, hi: float):
        self.parent, self.lo, self.hi = parent, lo, hi

    def update(self, fraction: float, message: str = "", force: bool = False) -> None:
        f = min(max(float(fraction), 0.0), 1.0)
        self.parent.update(self.lo + (self.hi - self.lo) * f, message, force)

    def check(self) -> None:
        self.parent.check()

    def log(self, message: str, level: str = "info") -> None:
        self.parent.log(message, level)

    def span(self, lo: float, hi: float) -> "SubProgress":
        return SubProgress(self.parent, self.lo + (self.hi - self.lo) * lo, self.lo + (self.hi - self.lo) * hi)


class forward_logs(logging.Handler):
    """Context manager: while active, records of the ``backend`` loggers go to ``progress.log``.

    Stages log with the standard ``logging`` module; a job shows those lines
    to the person (CLI, add-on) without the stages knowing about the sink.
    """

    LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning"}

    def __init__(self, progress: "Progress", logger_name: str = "backend", level: int = logging.INFO):
        super().__init__(level)
        self.progress = progress
        self.logger = logging.getLogger(logger_name)
        self._old_level = self.logger.level

    def emit(self, record: logging.LogRecord) -> None:
        level = self.LEVELS.get(record.levelno, "warning")
        try:
            self.progress.log(record.getMessage(), level)
        except Exception:  # a log line must never break a job
            pass

    def __enter__(self):
        self.logger.addHandler(self)
        if self.logger.level == logging.NOTSET or self.logger.level > self.level:
            self.logger.setLevel(self.level)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.setLevel(self._old_level)
        return False


def null_progress(name: str = "work") -> Progress:
    """A Progress with a single stage and no sink, for calling stages directly."""
    p = Progress([(name, 1.0)])
    p.current = name
    return p
