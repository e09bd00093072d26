"""Temporarily relaxed Pillow safety limits, for one decode only.

Pillow keeps its limits in module globals (``Image.MAX_IMAGE_PIXELS``,
``PngImagePlugin.MAX_TEXT_CHUNK`` / ``MAX_TEXT_MEMORY``). The loader raises
them for a single call it has already made safe by other means (its own size
budget, a bounded text budget) and restores them afterwards; a lock keeps two
threads from seeing each other's values.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from PIL import Image, PngImagePlugin

_LOCK = threading.RLock()
_UNSET = object()

# Budget for PNG text metadata (tEXt/zTXt/iTXt) when the default 1 MiB per
# chunk is exceeded: generous for real metadata (XMP, embedded workflows),
# still bounded against zTXt decompression bombs.
TEXT_CHUNK_BUDGET = 64 * 1024 * 1024
TEXT_MEMORY_BUDGET = 256 * 1024 * 1024


@contextmanager
def pillow_limits(max_image_pixels=_UNSET, text_chunk: int | None = None,
                  text_memory: int | None = None) -> Iterator[None]:
    """Set Pillow's global limits inside the ``with`` block, then restore them.

    Args:
        max_image_pixels: new ``Image.MAX_IMAGE_PIXELS`` (None disables the
            decompression-bomb check); left alone when not given. Only pass
            None after checking the image size against your own budget.
        text_chunk: new ``PngImagePlugin.MAX_TEXT_CHUNK`` in bytes, or None.
        text_memory: new ``PngImagePlugin.MAX_TEXT_MEMORY`` in bytes, or None.
    """
    with _LOCK:
        saved = (Image.MAX_IMAGE_PIXELS, PngImagePlugin.MAX_TEXT_CHUNK, PngImagePlugin.MAX_TEXT_MEMORY)
        try:
            if max_image_pixels is not _UNSET:
                Image.MAX_IMAGE_PIXELS = max_image_pixels
            if text_chunk is not None:
                PngImagePlugin.MAX_TEXT_CHUNK = max(text_chunk, saved[1])
            if text_memory is not None:
                PngImagePlugin.MAX_TEXT_MEMORY = max(text_memory, saved[2])
            yield
        finally:
            Image.MAX_IMAGE_PIXELS, PngImagePlugin.MAX_TEXT_CHUNK, PngImagePlugin.MAX_TEXT_MEMORY = saved
