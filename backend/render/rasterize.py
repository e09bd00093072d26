"""A vectorised triangle rasterizer with an optional z-buffer (numpy only).

Used to warp images along a 2D mesh, to find which triangle each pixel of a
silhouette lies in, and to render previews of the 3D mesh from the input
view. Pixel convention as ``backend.types``: the centre of pixel (r, c) is at
(u, v) = (c + 0.5, r + 0.5). A pixel is covered by a triangle when its centre
lies inside it (edges included, so shared edges leave no cracks).

Method: every triangle enumerates the pixel centres in its bounding box,
barycentric coordinates decide coverage, and with depths the nearest
candidate per pixel wins (a z-buffer). Work is chunked so memory
stays bounded whatever the triangle sizes; the per-pixel minimum uses
``np.minimum.at`` on a (quantised depth, candidate) key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_CHUNK = 2_000_000  # candidate pixels per batch
_EPS = 1e-7


@dataclass
class Raster:
    """Per-pixel result of ``rasterize``.

    Attributes:
        face_id: int32 [H, W], the covering triangle or -1.
        bary: float32 [H, W, 3] barycentric weights of its three vertices (0 where empty).
        depth: float32 [H, W] interpolated depth, +inf where empty (only with depths).
    """

    face_id: np.ndarray
    bary: np.ndarray
    depth: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """bool [H, W]: pixels covered by any triangle."""
        return self.face_id >= 0

    def interpolate(self, faces: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Interpolate per-vertex ``values`` [V, C] to float32 [H, W, C] (0 outside the mesh)."""
        values = np.asarray(values, dtype=np.float32)
        if values.ndim == 1:
            values = values[:, None]
        out = np.zeros(self.face_id.shape + (values.shape[1],), np.float32)
        m = self.mask
        tri = np.asarray(faces)[self.face_id[m]]
        w = self.bary[m]
        out[m] = (values[tri] * w[..., None]).sum(axis=1)
        return out


def box_pixels(u_lo, u_hi, v_lo, v_hi, width: int, height: int, chunk: int = _CHUNK):
    """Enumerate the pixel centres inside axis-aligned boxes, in bounded batches.

    Args:
        u_lo, u_hi, v_lo, v_hi: float [K] box extents in pixel coordinates
            (pixel centres at +0.5); boxes are clipped to the image.
        width, height: image size in pixels.
        chunk: about how many pixels one batch holds.

    Yields:
        (box index int64 [M], pixel row int64 [M], pixel column int64 [M]) batches.
    """
    c0 = np.clip(np.ceil(np.asarray(u_lo) - 0.5), 0, width).astype(np.int64)
    c1 = np.clip(np.floor(np.asarray(u_hi) - 0.5), -1, width - 1).astype(np.int64)
    r0 = np.clip(np.ceil(np.asarray(v_lo) - 0.5), 0, height).astype(np.int64)
    r1 = np.clip(np.floor(np.asarray(v_hi) - 0.5), -1, height - 1).astype(np.int64)
    nx = np.maximum(c1 - c0 + 1, 0)
    ny = np.maximum(r1 - r0 + 1, 0)
    counts = nx * ny
    order = np.nonzero(counts)[0]
    start = 0
    while start < len(order):
        csum = np.cumsum(counts[order[start:]])
        stop = start + max(1, int(np.searchsorted(csum, chunk, side="right")))
        idx = order[start:stop]
        c = counts[idx]
        box = np.repeat(idx, c)
        offsets = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
        yield box, r0[box] + offsets // nx[box], c0[box] + offsets % nx[box]
        start = stop


def _candidates(uv: np.ndarray, faces: np.ndarray, width: int, height: int):
    """Yield (face index, pixel row, pixel column) batches of bounding-box candidates."""
    tri = uv[faces]  # [F, 3, 2]
    lo, hi = tri.min(axis=1), tri.max(axis=1)
    yield from box_pixels(lo[:, 0], hi[:, 0], lo[:, 1], hi[:, 1], width, height)


def rasterize(uv: np.ndarray, faces: np.ndarray, width: int, height: int, depth: np.ndarray | None = None,
              cull_backfaces: bool = False) -> Raster:
    """Rasterize triangles given in pixel coordinates.

    Args:
        uv: float [V, 2] vertex pixel coordinates (u right, v down).
        faces: int [F, 3] vertex indices.
        width, height: output size in pixels.
        depth: optional float [V] per-vertex depth; the smallest wins per pixel.
            Without it, overlapping triangles resolve arbitrarily.
        cull_backfaces: skip triangles that are clockwise in (u, -v), i.e.
            facing away from the viewer (``backend.types`` orientation).

    Returns:
        A ``Raster``.
    """
    uv = np.asarray(uv, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    face_id = np.full((height, width), -1, np.int32)
    bary = np.zeros((height, width, 3), np.float32)
    zbuf = np.full((height, width), np.inf, np.float32)
    if len(faces) == 0:
        return Raster(face_id, bary, zbuf)
    a, b, c = uv[faces[:, 0]], uv[faces[:, 1]], uv[faces[:, 2]]
    # Signed area in (u, v) with v down: counter-clockwise in (u, -v) is negative here.
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    keep = np.abs(area) > 1e-12
    if cull_backfaces:
        keep &= area < 0
    kept = np.nonzero(keep)[0]
    faces_k = faces[kept]
    area_k = area[kept]
    dv = None if depth is None else np.asarray(depth, dtype=np.float64)
    if dv is not None:
        zlo = float(dv.min())
        zscale = float((2**30) / max(float(dv.max()) - zlo, 1e-12))
    for f, rows, cols in _candidates(uv, faces_k, width, height):
        p = np.stack([cols + 0.5, rows + 0.5], axis=1)
        ta, tb, tc = uv[faces_k[f, 0]], uv[faces_k[f, 1]], uv[faces_k[f, 2]]
        inv = 1.0 / area_k[f]
        w0 = ((tb[:, 0] - p[:, 0]) * (tc[:, 1] - p[:, 1]) - (tb[:, 1] - p[:, 1]) * (tc[:, 0] - p[:, 0])) * inv
        w1 = ((tc[:, 0] - p[:, 0]) * (ta[:, 1] - p[:, 1]) - (tc[:, 1] - p[:, 1]) * (ta[:, 0] - p[:, 0])) * inv
        w2 = 1.0 - w0 - w1
        inside = (w0 >= -_EPS) & (w1 >= -_EPS) & (w2 >= -_EPS)
        if not inside.any():
            continue
        f, rows, cols = f[inside], rows[inside], cols[inside]
        w = np.stack([w0[inside], w1[inside], w2[inside]], axis=1)
        pix = rows * width + cols
        if dv is None:
            z = np.zeros(len(f))
            zq = np.zeros(len(f), np.int64)
        else:
            z = (dv[faces_k[f]] * w).sum(axis=1)
            zq = np.round((z - zlo) * zscale).astype(np.int64)
        # Nearest candidate per pixel in this batch: the smallest (quantised depth, index) key.
        key = (zq << 32) | np.arange(len(f), dtype=np.int64)
        best = np.full(width * height, np.iinfo(np.int64).max, np.int64)
        np.minimum.at(best, pix, key)
        hit = np.nonzero(best != np.iinfo(np.int64).max)[0]
        win = best[hit] & 0xFFFFFFFF
        r, cc = rows[win], cols[win]
        better = z[win] < zbuf[r, cc] if dv is not None else np.ones(len(win), bool)
        win, r, cc = win[better], r[better], cc[better]
        zbuf[r, cc] = z[win]
        face_id[r, cc] = kept[f[win]]
        bary[r, cc] = w[win]
    if dv is None:
        zbuf[face_id >= 0] = 0.0
    return Raster(face_id, bary, zbuf)
