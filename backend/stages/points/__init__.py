"""Points stage (single-image mode): one Gaussian per working-size pixel, shaped like the pixel's footprint.

MoRe4D lifts every pixel to one 3D point P0 = unproject(pixel, depth)
(Zhang et al., arXiv 2512.05044, Sec. 3.1). Here each point becomes a flat 3D
Gaussian whose covariance is the pixel's footprint on the surface: with the
surface tangents P_u, P_v (the 3D step to the neighbouring pixel, one-sided
at depth discontinuities, the shorter side), Sigma = k^2 (P_u P_u^T + P_v P_v^T)
+ (eps)^2 n n^T, n = P_u x P_v normalised -- the tangent-plane ellipse of
surface splatting (Zwicker et al., "Surface Splatting", SIGGRAPH 2001,
Sec. 3), with k = ``FOOTPRINT_SIGMA`` so neighbours overlap without gaps.
The 2x2 tangent covariance is diagonalised in closed form to give scales
(metres) and a rotation whose local z is the normal.
"""

from __future__ import annotations

import numpy as np

from ...geometry3d.quaternions import quats_from_matrix
from ...types import ImageLayers, LayeredDepth, PixelGaussians, PixelGrid, pixel_centres

#: Gaussian standard deviation in units of the pixel step.
FOOTPRINT_SIGMA = 0.5
#: Thickness along the normal relative to the smaller tangential scale.
THICKNESS = 0.15
#: A tangent longer than this many fronto-parallel footprints is clipped (a discontinuity on both sides).
MAX_STRETCH = 50.0
OPACITY = 0.98
#: Lowest opacity taken from an object's soft matte (its outline pixels).
MIN_OPACITY = 0.1


def visible_grid(rgb: np.ndarray, layers: ImageLayers, ldepth: LayeredDepth, surface: dict | None = None) -> PixelGrid:
    """The image's own pixels: objects' silhouette pixels, every pixel of a scene (``filled = 0``)."""
    h, w = ldepth.depth.shape
    labels = ldepth.labels if ldepth.labels is not None else layers.labels
    valid = labels > 0 if layers.subject == "object" else np.ones((h, w), bool)
    return PixelGrid(uv=pixel_centres(w, h), depth=ldepth.depth, valid=valid & np.isfinite(ldepth.depth),
                     rgb=np.asarray(rgb, np.float32), layer=labels.astype(np.int32), filled=0,
                     face=None if surface is None else surface["front_face"],
                     bary=None if surface is None else surface["front_bary"],
                     alpha=layers.fg.alpha if layers.subject == "object" else None)


def _tangent(p: np.ndarray, valid: np.ndarray, axis: int) -> np.ndarray:
    """Per-cell 3D step to the neighbour along ``axis`` (the shorter valid side), NaN where none."""
    fwd = np.full(p.shape, np.nan)
    bwd = np.full(p.shape, np.nan)
    sl_a = [slice(None)] * 2
    sl_b = [slice(None)] * 2
    sl_a[axis], sl_b[axis] = slice(1, None), slice(None, -1)
    d = p[tuple(sl_a)] - p[tuple(sl_b)]
    ok = valid[tuple(sl_a)] & valid[tuple(sl_b)]
    d = np.where(ok[..., None], d, np.nan)
    fwd[tuple(sl_b)] = d
    bwd[tuple(sl_a)] = d
    nf = np.linalg.norm(fwd, axis=-1)
    nb = np.linalg.norm(bwd, axis=-1)
    use_b = np.isnan(nf) | (~np.isnan(nb) & (nb < nf))
    return np.where(use_b[..., None], bwd, fwd)


def grid_gaussians(grid: PixelGrid, camera, step: float = 1.0) -> dict:
    """Gaussians of one ``PixelGrid`` seen through ``camera`` (module docstring).

    Args:
        grid: the samples (``valid`` cells only become Gaussians, in row-major order).
        camera: ``backend.asset.Camera`` at the working resolution.
        step: the grid's cell size in pixels.

    Returns:
        dict of arrays over the valid cells: means float64 [M, 3], scales
        float32 [M, 3], rotations float32 [M, 4], colors float32 [M, 3], opacity float32 [M]
        (``OPACITY``, or the grid's matte clipped to ``MIN_OPACITY``..``OPACITY``), uv
        float64 [M, 2], layer int32 [M], face int32 [M] / bary float64 [M, 3] (or None).
    """
    valid = np.asarray(grid.valid, bool) & np.isfinite(grid.depth)
    p = camera.unproject(grid.uv, np.where(valid, grid.depth, 1.0))
    m = np.asarray(camera.matrix_world, np.float64)
    right, up, back = m[:3, 0], m[:3, 1], m[:3, 2]
    foot = (np.where(valid, grid.depth, 1.0) * step / camera.fx)[..., None]
    tu = _tangent(p, valid, 1)
    tv = _tangent(p, valid, 0)
    tu = np.where(np.isnan(tu), foot * right, tu)
    tv = np.where(np.isnan(tv), -foot * up, tv)
    for t in (tu, tv):
        n = np.linalg.norm(t, axis=-1, keepdims=True)
        t *= np.minimum(1.0, MAX_STRETCH * foot / np.maximum(n, 1e-12))
    sel = valid.ravel()
    tu = tu.reshape(-1, 3)[sel]
    tv = tv.reshape(-1, 3)[sel]
    normal = np.cross(tu, tv)
    nn = np.linalg.norm(normal, axis=1, keepdims=True)
    normal = np.where(nn > 1e-12, normal / np.maximum(nn, 1e-12), back)
    e1 = tu / np.maximum(np.linalg.norm(tu, axis=1, keepdims=True), 1e-12)
    e1 = e1 - normal * (e1 * normal).sum(1, keepdims=True)
    e1 /= np.maximum(np.linalg.norm(e1, axis=1, keepdims=True), 1e-12)
    e2 = np.cross(normal, e1)
    # tangent covariance k^2 (a a^T + b b^T) in the (e1, e2) basis
    a = np.stack([(tu * e1).sum(1), (tu * e2).sum(1)], 1)
    b = np.stack([(tv * e1).sum(1), (tv * e2).sum(1)], 1)
    k2 = FOOTPRINT_SIGMA ** 2
    cxx = k2 * (a[:, 0] ** 2 + b[:, 0] ** 2)
    cyy = k2 * (a[:, 1] ** 2 + b[:, 1] ** 2)
    cxy = k2 * (a[:, 0] * a[:, 1] + b[:, 0] * b[:, 1])
    theta = 0.5 * np.arctan2(2 * cxy, cxx - cyy)
    mid, rad = 0.5 * (cxx + cyy), np.sqrt((0.5 * (cxx - cyy)) ** 2 + cxy ** 2)
    s1 = np.sqrt(np.maximum(mid + rad, 1e-18))
    s2 = np.sqrt(np.maximum(mid - rad, 1e-18))
    ax1 = np.cos(theta)[:, None] * e1 + np.sin(theta)[:, None] * e2
    ax2 = np.cross(normal, ax1)
    rot = np.stack([ax1, ax2, normal], axis=2)  # columns = local axes
    s2 = np.maximum(s2, 0.2 * s1)
    scales = np.stack([s1, s2, THICKNESS * np.minimum(s1, s2)], 1)
    return {
        "means": p.reshape(-1, 3)[sel],
        "scales": scales.astype(np.float32),
        "rotations": quats_from_matrix(rot).astype(np.float32),
        "colors": np.clip(grid.rgb.reshape(-1, 3)[sel], 0, 1).astype(np.float32),
        "uv": grid.uv.reshape(-1, 2)[sel],
        "opacity": (np.full(int(sel.sum()), OPACITY, np.float32) if grid.alpha is None
                    else np.clip(grid.alpha.reshape(-1)[sel], MIN_OPACITY, OPACITY).astype(np.float32)),
        "layer": grid.layer.reshape(-1)[sel].astype(np.int32),
        "face": None if grid.face is None else grid.face.reshape(-1)[sel].astype(np.int32),
        "bary": None if grid.bary is None else grid.bary.reshape(-1, 3)[sel].astype(np.float64),
    }


def pixel_gaussians(grids: list[PixelGrid], camera, image_size: tuple[int, int]) -> PixelGaussians:
    """All grids' Gaussians, in the grids' order (the visible grid first), as ``PixelGaussians``.

    Args:
        grids: ``PixelGrid``s (``visible_grid`` first, then ``hidden_grids``).
        camera: the working-resolution input camera.
        image_size: (width, height) of the input image (for ``source_pixel``).

    Returns:
        ``PixelGaussians``; ``face``/``bary`` set when every grid has them.
    """
    parts = [grid_gaussians(g, camera, g.step) for g in grids]
    filled = np.concatenate([np.full(len(p["means"]), g.filled, np.int8) for p, g in zip(parts, grids)])
    uv = np.concatenate([p["uv"] for p in parts])
    sx, sy = image_size[0] / camera.width, image_size[1] / camera.height
    col = np.clip(np.floor(uv[:, 0] * sx), 0, image_size[0] - 1)
    row = np.clip(np.floor(uv[:, 1] * sy), 0, image_size[1] - 1)
    has_faces = all(p["face"] is not None for p in parts)
    return PixelGaussians(
        means=np.concatenate([p["means"] for p in parts]),
        colors=np.concatenate([p["colors"] for p in parts]),
        opacities=np.concatenate([p["opacity"] for p in parts]),
        scales=np.concatenate([p["scales"] for p in parts]),
        rotations=np.concatenate([p["rotations"] for p in parts]),
        uv=uv,
        source_pixel=np.stack([row, col], 1).astype(np.int32),
        filled=filled,
        layer=np.concatenate([p["layer"] for p in parts]),
        face=np.concatenate([p["face"] for p in parts]) if has_faces else None,
        bary=np.concatenate([p["bary"] for p in parts]) if has_faces else None,
    )


__all__ = ["FOOTPRINT_SIGMA", "grid_gaussians", "pixel_gaussians", "visible_grid"]
