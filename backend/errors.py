"""Errors a person can act on.

Every error raised to the user carries a message that says what went wrong
and what to do; the CLI prints it, the server sends it as an ``error`` event,
the add-on shows it in its panel.
"""

from __future__ import annotations


class Tween4DError(Exception):
    """Base class of errors with a user-facing message.

    Attributes:
        message: what went wrong.
        hint: what to do about it (may be empty).
        code: a short stable identifier for programs and tests (e.g. ``input.missing``).
    """

    code = "error"

    def __init__(self, message: str, hint: str = "", code: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code:
            self.code = code

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class InputImageError(Tween4DError):
    """An input image is missing, unreadable, corrupt, too large, or does not fit its pair."""

    code = "input"


class ForegroundError(Tween4DError):
    """No usable foreground object could be separated from the background."""

    code = "foreground"


class ModelUnavailableError(Tween4DError):
    """A model engine's weights or libraries are not installed."""

    code = "model"


class OutputError(Tween4DError):
    """The asset cannot be written where asked (permissions, full disk, foreign folder)."""

    code = "output"


class Cancelled(Exception):
    """The job was cancelled; nothing was written."""
