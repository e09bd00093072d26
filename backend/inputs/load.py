"""Decode one input image file safely into float32 sRGB RGBA.

Safety rules (Pillow documentation, "Image file formats" and
``Image.open`` / ``Image.draft`` / ``ImageFile.load``):

* the size is read from the header first and checked against a pixel budget
  before any pixel is decoded; JPEGs above it are decoded reduced by the
  decoder itself (``Image.draft``, DCT scaling by 1/2, 1/4 or 1/8);
* the full raster is decoded eagerly (``load()``) so truncated files fail here
  with a clear error instead of later in a stage; ``LOAD_TRUNCATED_IMAGES`` is
  never touched;
* Pillow's global limits are only relaxed for one call, after this module's own
  checks (``pillow_limits``).
"""

from __future__ import annotations

import errno
import io
import logging
import math
import os
import stat
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from ..errors import InputImageError
from ..types import InputImage
from .pillow_limits import TEXT_CHUNK_BUDGET, TEXT_MEMORY_BUDGET, pillow_limits
from .working import resize_rgba, working_size

log = logging.getLogger(__name__)

MIN_SIDE = 16
"""Smallest accepted image side in pixels: an object needs some pixels to be meshed."""

ALPHA_OPAQUE = 0.98
"""Alpha at or above this counts as opaque when deciding whether alpha carries information."""

_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError, KeyError)
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")


class _TextLimitHit(Exception):
    """Pillow refused an oversized PNG text chunk; retry with a larger text budget."""


def load_image(path, *, max_pixels: int = 40_000_000, max_side: int = 8192) -> InputImage:
    """Read an image file into a validated ``InputImage``.

    Args:
        path: file path (str or Path). Any format Pillow reads (PNG, JPEG,
            WebP, TIFF, BMP, GIF, ...). Animated files give their first frame.
        max_pixels: pixel budget (width * height) for decoding. Larger JPEGs
            are decoded reduced (DCT scaling); larger files of other formats
            are refused without decoding their pixels.
        max_side: longer side limit; larger images are downscaled to it (box /
            area filter, premultiplied alpha).

    Returns:
        ``InputImage`` with ``rgba`` float32 [H, W, 4] sRGB 0..1, row 0 at the
        top, EXIF orientation applied. Palette, grayscale, 1-bit, CMYK and
        16-bit files are converted with their full value range (16-bit gray
        65535 -> 1.0); an embedded ICC profile is converted to sRGB. Alpha is 1
        where the file has none; ``has_alpha`` is True only when some pixels
        are not opaque. ``original_size`` is (width, height) of the oriented
        image at full resolution, before any reduction.

    Raises:
        InputImageError: with ``code`` ``input.missing`` (no such file, or a
            dangling link), ``input.not_image`` (a folder, a FIFO, device or
            socket — refused before opening — or not an image format Pillow
            reads), ``input.unreadable`` (no permission, a symlink loop), ``input.corrupt``
            (truncated or damaged data), ``input.too_small`` (empty file or a
            side under ``MIN_SIDE`` px), ``input.too_large`` (over the pixel
            budget and not reducible while decoding).
    """
    path = Path(path).expanduser()
    _check_file(path)
    try:
        return _decode(path, max_pixels, max_side, relaxed_text=False)
    except _TextLimitHit:
        # Oversized text metadata (e.g. an embedded workflow or XMP) is harmless:
        # retry once with a larger but still bounded text budget.
        log.info("%s: large PNG text metadata, reading it with a raised text limit", path.name)
        try:
            return _decode(path, max_pixels, max_side, relaxed_text=True)
        except _TextLimitHit as exc:
            raise InputImageError(
                f"{path.name}: its text metadata is larger than {TEXT_MEMORY_BUDGET // 2**20} MiB.",
                "Re-save the image without metadata (e.g. 'Export as PNG' with metadata unticked).",
                code="input.corrupt") from exc


def _check_file(path: Path) -> None:
    """Refuse anything but a readable, non-empty regular file, before it is opened.

    ``os.stat`` (following links) comes first: opening a FIFO blocks until a
    writer appears, and a device never ends, so neither may reach ``open``.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputImageError(f"{path} is a symbolic link to a file that does not exist ({os.readlink(path)}).",
                                  "Point the link at the image again, or choose the image itself.",
                                  code="input.missing") from None
        raise InputImageError(f"Input image not found: {path}",
                              "Check the path (and the working folder when it is relative).",
                              code="input.missing") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputImageError(f"{path} is a symbolic link loop: following it leads back to itself.",
                                  "Choose the image file itself, or fix the links.",
                                  code="input.unreadable") from None
        if isinstance(exc, PermissionError):
            raise InputImageError(f"No permission to reach {path}.",
                                  "Fix the permissions of the folders above it, or copy the image somewhere readable.",
                                  code="input.unreadable") from None
        raise InputImageError(f"Cannot read {path}: {exc.strerror or exc}.",
                              "Check the path, or copy the image somewhere readable.",
                              code="input.unreadable") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputImageError(f"{path} is a folder, not an image file.",
                              "Choose an image file (PNG, JPEG, WebP ...) inside it.",
                              code="input.not_image")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a regular file")
        raise InputImageError(f"{path} is {kind}, not an image file; it was not opened.",
                              "Save the image to a regular file (PNG, JPEG, WebP ...) and choose that.",
                              code="input.not_image")
    if not os.access(path, os.R_OK):
        raise InputImageError(f"No permission to read {path}.",
                              "Fix the file's permissions or copy it somewhere readable.",
                              code="input.unreadable")
    if st.st_size == 0:
        raise InputImageError(f"{path.name} is empty (0 bytes).",
                              "The file was probably not fully written or downloaded; export it again.",
                              code="input.too_small")


def _decode(path: Path, max_pixels: int, max_side: int, relaxed_text: bool) -> InputImage:
    text_limits = dict(text_chunk=TEXT_CHUNK_BUDGET, text_memory=TEXT_MEMORY_BUDGET) if relaxed_text else {}
    with pillow_limits(**text_limits), warnings.catch_warnings():
        # This module enforces its own pixel budget; Pillow's warning adds nothing.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        im = _open(path)
        try:
            return _read_opened(path, im, max_pixels, max_side)
        finally:
            im.close()


def _open(path: Path) -> Image.Image:
    """Open (header only) and map Pillow's errors to ``InputImageError``."""
    try:
        try:
            return Image.open(path)
        except Image.DecompressionBombError:
            # Pillow refuses > 2 * MAX_IMAGE_PIXELS at open time; reopen without its
            # check so the caller can apply its own budget (or reduce a JPEG) from
            # the header, before decoding any pixel.
            with pillow_limits(max_image_pixels=None):
                return Image.open(path)
    except UnidentifiedImageError as exc:
        raise InputImageError(f"{path.name} is not an image file Pillow can read.",
                              "Use a PNG, JPEG, WebP, TIFF or BMP image.", code="input.not_image") from exc
    except _DECODE_ERRORS as exc:
        raise _decode_failure(path, exc) from exc


def _decode_failure(path: Path, exc: Exception) -> Exception:
    """Pillow's error while opening or decoding -> the exception to raise instead.

    An oversized text chunk becomes ``_TextLimitHit`` (retried with a larger
    budget); any other decode error becomes ``input.corrupt``.
    """
    if isinstance(exc, ValueError) and "MAX_TEXT" in str(exc):
        return _TextLimitHit(str(exc))
    return _corrupt(path, exc)


def _corrupt(path: Path, exc: BaseException) -> InputImageError:
    return InputImageError(f"{path.name} is damaged or truncated and cannot be decoded ({exc}).",
                           "Export or download the image again.", code="input.corrupt")


def _read_opened(path: Path, im: Image.Image, max_pixels: int, max_side: int) -> InputImage:
    w, h = im.size
    if min(w, h) < MIN_SIDE:
        raise InputImageError(f"{path.name} is only {w}x{h} pixels.",
                              f"Use an image of at least {MIN_SIDE}x{MIN_SIDE} pixels showing the object.",
                              code="input.too_small")
    frames = int(getattr(im, "n_frames", 1) or 1)
    if frames > 1:
        log.warning("%s has %d frames; using the first one.", path.name, frames)

    if w * h > max_pixels or max(w, h) > max_side:
        if im.format == "JPEG":
            _draft_jpeg(im, max_pixels, max_side)
        if im.size[0] * im.size[1] > max_pixels:
            # the longest side that fits both the side limit and the pixel budget at this aspect ratio
            fit = min(max_side, math.isqrt(max_pixels * max(w, h) // min(w, h)))
            raise InputImageError(
                f"{path.name} is {w}x{h} pixels ({w * h / 1e6:.0f} MP), above the {max_pixels / 1e6:.0f} MP "
                f"that can be decoded safely.",
                f"Downscale it so the longer side is at most {fit} px (or save it as JPEG, which "
                f"can be decoded reduced).",
                code="input.too_large")

    try:
        im.load()
    except _DECODE_ERRORS as exc:
        raise _decode_failure(path, exc) from exc

    reduction = w / im.size[0]
    int_full_scale = _integer_full_scale(im)  # from the file's own tags, before any transform drops them
    try:
        im = ImageOps.exif_transpose(im)
    except Exception as exc:  # broken EXIF must not make a good image unusable
        log.warning("%s: ignoring unreadable EXIF orientation (%s)", path.name, exc)
    original_size = (round(im.size[0] * reduction), round(im.size[1] * reduction))

    target = working_size(im.size, max_side)
    im = _reduce_to_side(im, max_side)
    rgba, alpha_channel = _to_rgba_float(im, path, int_full_scale)
    if (rgba.shape[1], rgba.shape[0]) != target:
        rgba = resize_rgba(rgba, target)

    has_alpha = False
    if alpha_channel:
        transparent = np.count_nonzero(rgba[..., 3] < ALPHA_OPAQUE)
        has_alpha = transparent >= max(1, 0.001 * rgba.shape[0] * rgba.shape[1])
        if not has_alpha:
            rgba[..., 3] = 1.0
    return InputImage(path=path, rgba=rgba, has_alpha=bool(has_alpha), original_size=original_size)


def _draft_jpeg(im: Image.Image, max_pixels: int, max_side: int) -> None:
    """Ask the JPEG decoder for the smallest DCT reduction (1, 1/2, 1/4, 1/8) that fits the budget."""
    w, h = im.size
    for scale in (1, 2, 4, 8):
        sw, sh = math.ceil(w / scale), math.ceil(h / scale)
        if sw * sh <= max_pixels and max(sw, sh) <= max_side:
            break
    if scale > 1:
        im.draft(im.mode, (w // scale, h // scale))


def _reduce_to_side(im: Image.Image, max_side: int) -> Image.Image:
    """Integer box reduction in 8 bits before the float conversion, to keep memory low (never below max_side)."""
    k = max(im.size) // max_side
    if k < 2 or im.mode in _SIXTEEN_BIT_MODES or im.mode in ("I", "F"):
        return im
    if im.mode in ("P", "PA", "1"):
        im = im.convert("RGBA")
    if "A" in im.getbands() and im.mode in ("RGBA", "LA"):
        # premultiplied, so transparent pixels' colours do not bleed into edges
        return im.convert("RGBa").reduce(k).convert("RGBA")
    return im.reduce(k)


def _integer_full_scale(im: Image.Image) -> float:
    """The value that means white for Pillow's 32-bit integer mode ``I``.

    Mode ``I`` holds 16-bit PNG/TIFF data (white 65535) and 32-bit integer TIFFs
    (TIFF 6.0 tags BitsPerSample = 258, SampleFormat = 339: 1 unsigned, 2
    signed; white is 2**32 - 1 or 2**31 - 1). Without tags, 16-bit is assumed.
    """
    if im.mode != "I":
        return 65535.0
    tags = getattr(im, "tag_v2", None) or {}
    bits = tags.get(258)
    bits = int(bits[0] if isinstance(bits, tuple) else bits) if bits else 16
    fmt = tags.get(339)
    fmt = int(fmt[0] if isinstance(fmt, tuple) else fmt) if fmt else 1
    if bits <= 16:
        return 65535.0
    return float(2 ** (bits - 1) - 1 if fmt == 2 else 2**bits - 1)


def _to_rgba_float(im: Image.Image, path: Path, int_full_scale: float = 65535.0) -> tuple[np.ndarray, bool]:
    """Convert any Pillow mode to float32 RGBA 0..1; also say whether the file had alpha.

    ``int_full_scale`` is white for mode ``I`` (``_integer_full_scale``).
    """
    mode = im.mode
    if mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
        gray = np.asarray(im).astype(np.float32)
        if mode == "F":
            # float data: take 0..1 as is, otherwise guess 8- or 16-bit range
            peak = float(np.nanmax(gray, initial=0.0))
            full = 1.0 if peak <= 1.0 else 255.0 if peak <= 255.0 else 65535.0
        elif mode == "I":
            # 16-bit PNG/TIFF read as I (white 65535), or a 32-bit integer TIFF (white 2**31 - 1 or 2**32 - 1)
            gray = np.asarray(im).astype(np.float64)
            full = int_full_scale
        else:
            full = 65535.0  # I;16 variants
        g = (gray / full).astype(np.float32)
        g = np.clip(np.nan_to_num(g), 0.0, 1.0)
        rgba = np.empty(g.shape + (4,), np.float32)
        rgba[..., :3] = g[..., None]
        rgba[..., 3] = 1.0
        return rgba, False

    alpha_channel = "A" in im.getbands() or "a" in im.getbands() or "transparency" in im.info
    im = _to_srgb(im, path)
    arr = np.asarray(im.convert("RGBA"), dtype=np.float32)
    arr *= 1.0 / 255.0
    return arr, alpha_channel


def _to_srgb(im: Image.Image, path: Path) -> Image.Image:
    """Apply an embedded ICC profile (to sRGB); CMYK without one uses Pillow's plain conversion."""
    icc = im.info.get("icc_profile")
    if im.mode in ("P", "PA", "1", "LA", "La", "RGBa"):
        im = im.convert("RGBA")
    if not icc or im.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return im
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        dst = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        out_mode = "RGBA" if im.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(im, src, dst, outputMode=out_mode)
    except Exception as exc:  # a broken profile is not worth refusing the image for
        log.warning("%s: ignoring its ICC colour profile (%s)", path.name, exc)
        return im
