"""Foreground stage (placeholder; the foreground helper owns this package)."""

from .extract import extract_foreground

__all__ = ["extract_foreground"]
