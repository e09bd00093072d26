"""Foreground stage: split one working-resolution image into object and background.

Engines (``ENGINES``):

* ``alpha``  -- the file's own alpha channel (an RGBA cut-out);
* ``key``    -- plain-background keying from the border colour (``key.py``);
* ``u2netp`` -- learned salient-object matting, U^2-Net-p (``u2netp.py``);
* ``auto``   -- alpha when the file has a meaningful one, else key when the
  border is plain, else u2netp.

Every result must cover between ``MIN_COVERAGE`` and ``MAX_COVERAGE`` of the
image, or a ``ForegroundError`` says what to give instead.
"""

from __future__ import annotations

import logging

import numpy as np

from ...errors import ForegroundError, ModelUnavailableError
from ...types import Foreground, InputImage
from .cleanup import finish_matte, remove_specks, report
from .key import BackgroundModel, estimate_background, key_matte
from .u2netp import PACKAGE as U2NETP_PACKAGE
from .u2netp import u2netp_matte

log = logging.getLogger(__name__)

ENGINES = ("auto", "alpha", "key", "u2netp")

MIN_COVERAGE = 0.001
"""Masks covering less of the image than this are 'empty'."""

MAX_COVERAGE = 0.95
"""Masks covering more of the image than this are 'full frame'."""

_FIX = "Give an RGBA cut-out (transparent background) or a photo of the object on a plain background."


def extract_foreground(image: InputImage, rgba: np.ndarray, engine: str = "auto", progress=None) -> Foreground:
    """Separate the object from the background.

    Args:
        image: the loaded input (``has_alpha`` and the file name are used).
        rgba: float32 [H, W, 4] sRGB RGBA 0..1 at the working resolution
            (from ``backend.inputs.prepare_pair`` / ``prepare_single``).
        engine: one of ``ENGINES``.
        progress: optional object with ``update(fraction)`` (e.g.
            ``backend.progress.Progress``); it is called a few times and may
            raise ``backend.errors.Cancelled``, which propagates.

    Returns:
        ``Foreground`` at the working resolution: ``rgb`` float32 [H, W, 3]
        (the image, untouched), ``alpha`` float32 [H, W] soft matte,
        ``mask`` bool [H, W] (== ``alpha >= 0.5``), ``method`` the engine used.

    Raises:
        ValueError: unknown engine name.
        ForegroundError: ``foreground.no_alpha`` (engine "alpha" on an image
            without alpha), ``foreground.not_plain`` (engine "key" on a busy
            background), ``foreground.empty`` (object under 0.1 % of the
            image), ``foreground.full`` (mask over 95 % of the image),
            ``foreground.unavailable`` (auto: busy background and u2netp not
            installed).
        ModelUnavailableError: engine "u2netp" without its package.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown foreground engine {engine!r}; choose one of {', '.join(ENGINES)}")
    rgba = np.asarray(rgba, dtype=np.float32)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"rgba must be float32 [H, W, 4], got shape {rgba.shape}")
    rgb = np.ascontiguousarray(rgba[..., :3])
    name = image.path.name
    report(progress, 0.0)

    if engine != "auto":
        result = _run(engine, image, rgba, rgb, progress)
        _check_coverage(result.mask, name, result.method)
        report(progress, 1.0)
        return result

    bg = None
    if image.has_alpha:
        chosen = "alpha"
    else:
        bg = estimate_background(rgb)
        chosen = "key" if bg.plain else "u2netp"
        log.info("%s: %s -> %s", name, bg.describe(), chosen)
    try:
        result = _run(chosen, image, rgba, rgb, progress, bg)
    except ModelUnavailableError as exc:
        raise ForegroundError(
            f"{name} has no transparency and a busy background, and the u2netp matting model that "
            "separates such photos is not installed.",
            f"{_FIX} Or install the model: run 'python install_deps.py' (it adds the package {U2NETP_PACKAGE}).",
            code="foreground.unavailable") from exc
    _check_coverage(result.mask, name, result.method)
    report(progress, 1.0)
    return result


def _run(engine: str, image: InputImage, rgba: np.ndarray, rgb: np.ndarray, progress,
         background: BackgroundModel | None = None) -> Foreground:
    name = image.path.name
    if engine == "alpha":
        if not image.has_alpha:
            raise ForegroundError(f"{name} has no transparency, so the 'alpha' engine has nothing to use.",
                                  "Choose the 'auto' or 'key' engine, or give an RGBA cut-out.",
                                  code="foreground.no_alpha")
        alpha = np.clip(rgba[..., 3], 0.0, 1.0)
        # the user's matte is authoritative; only stray specks go
        mask = remove_specks(alpha >= 0.5, min_fraction=0.002, min_pixels=4)
        return Foreground(rgb=rgb, alpha=finish_matte(alpha, mask, fringe_px=0), mask=mask, method="alpha")
    if engine == "key":
        bg = background if background is not None else estimate_background(rgb)
        if not bg.plain:
            raise ForegroundError(
                f"{name} has no plain background to key out ({bg.describe()}).",
                "Use a photo on a plain (e.g. white) background, an RGBA cut-out, or the 'u2netp' engine.",
                code="foreground.not_plain")
        alpha, mask, _ = key_matte(rgb, bg, progress=progress)
        return Foreground(rgb=rgb, alpha=alpha, mask=mask, method="key")
    alpha, mask = u2netp_matte(rgb, progress)
    return Foreground(rgb=rgb, alpha=alpha, mask=mask, method="u2netp")


def _check_coverage(mask: np.ndarray, name: str, method: str) -> None:
    coverage = float(mask.mean())
    if coverage < MIN_COVERAGE:
        raise ForegroundError(
            f"No object found in {name} (the {method} foreground covers {100 * coverage:.2f}% of the image).",
            _FIX + " The object should fill a good part of the frame.", code="foreground.empty")
    if coverage > MAX_COVERAGE:
        raise ForegroundError(
            f"The foreground of {name} fills {100 * coverage:.0f}% of the image ({method}): the object cannot "
            "be told apart from the background.",
            _FIX + " Leave some background visible around the object.", code="foreground.full")
