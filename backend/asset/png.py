"""Minimal PNG encoder (standard library zlib), so the asset module needs no Pillow.

Follows the PNG specification (ISO/IEC 15948): 8-bit RGB or RGBA, filter 0.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(image: np.ndarray, level: int = 6) -> bytes:
    """Encode an image as PNG bytes.

    Args:
        image: uint8 [H, W, 3] (RGB) or [H, W, 4] (RGBA), row 0 at the top.
        level: zlib compression level 0..9.

    Raises:
        ValueError: wrong shape or dtype.
    """
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] not in (3, 4) or img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"encode_png needs uint8 [H, W, 3|4], got {img.dtype} {img.shape}")
    h, w, c = img.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), img.reshape(h, w * c)], axis=1)
    header = struct.pack(">IIBBBBB", w, h, 8, 6 if c == 4 else 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
        + _chunk(b"IEND", b"")
    )
