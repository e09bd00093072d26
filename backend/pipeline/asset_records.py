"""Small pieces both pipelines use when they write an asset."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..asset.png import encode_png


def mask_png(mask: np.ndarray):
    """A writer for ``write_asset``'s ``extra_files``: bool [H, W] mask -> an 8-bit RGB PNG (255 = object)."""

    def write(path: Path) -> None:
        img = np.repeat((np.asarray(mask, np.uint8) * 255)[..., None], 3, axis=2)
        path.write_bytes(encode_png(img))

    return write


def jsonable(d: dict) -> dict:
    """The scalar entries of ``d`` as plain JSON values (numpy scalars converted; arrays and objects dropped)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, (np.floating, np.integer)):
            v = v.item()
        if isinstance(v, (int, float, str, bool)) or v is None:
            out[k] = v
    return out
