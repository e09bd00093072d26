"""What of an input file the asset keeps in ``inputs/``: the file as given, or its pixels alone.

An asset records its inputs byte for byte, so a result can be traced to what
produced it. A file whose bytes are mostly not pixels (a PNG with a 200 MB
text chunk, a JPEG with megabytes of APP segments, trailing data) would copy
all that into every asset; such a file is kept as its pixels re-encoded as a
PNG without metadata instead.

The test is format-agnostic: a file is "mostly not pixels" when its size
exceeds its raw pixel data (width x height x channels x bytes per channel,
from the header) by more than ``MAX_EXTRA_BYTES`` plus 10% (compressed
encodings of real images are at most slightly larger than raw, for noise).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Optional

from PIL import Image

from .pillow_limits import TEXT_CHUNK_BUDGET, TEXT_MEMORY_BUDGET, pillow_limits

log = logging.getLogger(__name__)

MAX_EXTRA_BYTES = 1 << 20
"""Bytes beyond the raw pixel data a kept input may carry (1 MiB: ordinary EXIF, XMP and ICC profiles fit)."""

_BYTES_PER_SAMPLE = {"1": 0.125, "I": 4, "F": 4, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}


def raw_pixel_bytes(path: Path) -> Optional[int]:
    """Width x height x channels x bytes per channel of ``path``, from its header; None if Pillow cannot open it."""
    try:
        with pillow_limits(max_image_pixels=None), Image.open(path) as im:
            bands = len(im.getbands())
            return int(im.size[0] * im.size[1] * bands * _BYTES_PER_SAMPLE.get(im.mode, 1))
    except Exception:  # the loader already accepted the file; an odd header just means "copy as is"
        return None


def pixels_only_writer(path: Path) -> Optional[tuple[str, Callable[[Path], None], str]]:
    """Decide how to keep ``path`` in the asset.

    Returns:
        None to copy the file byte for byte; else ``(".png", write, note)``
        where ``write(dest)`` saves the first frame's pixels as a PNG without
        text chunks (mode kept where PNG can store it: 8/16-bit gray, RGB,
        RGBA, palette; CMYK and others as RGB/RGBA) and ``note`` says why.
    """
    raw = raw_pixel_bytes(path)
    size = os.path.getsize(path)
    if raw is None or size <= raw * 1.1 + MAX_EXTRA_BYTES:
        return None
    extra = size - raw

    def write(dest: Path) -> None:
        with pillow_limits(max_image_pixels=None, text_chunk=TEXT_CHUNK_BUDGET, text_memory=TEXT_MEMORY_BUDGET):
            with Image.open(path) as im:
                im.seek(0)
                im.load()
                if im.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
                    im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
                im.save(dest, format="PNG")  # no pnginfo: no text chunks, no EXIF

    note = (f"re-encoded as PNG: the file carried {extra / 2**20:.1f} MiB beyond its pixel data "
            f"(metadata or trailing bytes), which were not kept")
    log.info("%s: %s", path.name, note)
    return ".png", write, note
