"""A small differentiable 3D Gaussian splatting renderer in pure PyTorch (CPU and tests).

Method: Kerbl et al., "3D Gaussian Splatting for Real-Time Radiance Field
Rendering" (SIGGRAPH 2023), Sec. 4 and 6, with the EWA projection of
Zwicker et al., "EWA Splatting" (IEEE TVCG 2002), Sec. 4-5:

1. each Gaussian's world covariance ``Sigma = R S S^T R^T`` (rotation from its
   quaternion, S = diag(scales)) is taken to the camera frame, ``W Sigma W^T``,
   and through the Jacobian J of the perspective projection at its mean,
   ``Sigma' = J W Sigma W^T J^T + eps2d I`` (the low-pass filter that keeps
   every splat at least about a pixel wide);
2. Gaussians are binned into 16x16-pixel tiles by their 3-sigma footprint and
   sorted front to back by camera depth within each tile;
3. per pixel, ``alpha_i = min(0.999, opacity_i exp(-0.5 d^T Sigma'^-1 d))``
   (contributions under 1/255 skipped) and the colour is composited front to
   back, ``C = sum_i c_i alpha_i prod_{j<i} (1 - alpha_j)``, stopping where
   the transmittance would fall under 1e-4.

The numbers (eps2d = 0.3, the 3.33-sigma footprint, the thresholds, the
clamped Jacobian for off-screen means, pixel centres at +0.5) follow gsplat
(``gsplat/cuda/_torch_impl.py`` and the CUDA rasterizer), so this renderer
and ``gsplat.rasterization`` produce the same images; see
``backend.render.gsplat_backend``. Every step is plain tensor algebra, so
autograd gives gradients with respect to means, covariances (quaternions,
scales), opacities and colours; the tile binning and the depth order are
discrete and carry no gradient, as in 3DGS.

Camera convention (as gsplat): ``viewmat`` is the 4x4 world-to-camera
transform in the OpenCV frame (x right, y down, z forward) and ``K`` the 3x3
pinhole intrinsics, so pixel (u, v) = (fx x / z + cx, fy y / z + cy) with the
centre of pixel (row r, column c) at (c + 0.5, r + 0.5) -- the same pixel
convention as ``backend.types``. ``backend.render.splatting`` builds both from
a Blender-convention ``backend.asset.Camera``.

Sized for tests and CPU fallbacks: up to about 20k Gaussians at up to about
128x128 pixels (memory grows with the number of Gaussian-tile overlaps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

EPS2D = 0.3
"""Added to the projected 2D covariance's diagonal (pixels squared), as gsplat's default."""

RADIUS_SIGMAS = 3.33
"""A Gaussian's screen footprint reaches this many standard deviations (gsplat)."""

ALPHA_MAX = 0.999
ALPHA_MIN = 1.0 / 255.0
TRANSMITTANCE_MIN = 1e-4
TILE_SIZE = 8

_CHUNK_ELEMENTS = 4_000_000  # tile x Gaussian x pixel products evaluated at once


@dataclass
class ProjectedGaussians:
    """Gaussians projected into one camera.

    Attributes:
        means2d: [N, 2] pixel positions (u, v) of the means.
        conics: [N, 3] upper triangle (a, b, c) of the inverse 2D covariance:
            the Mahalanobis term is ``0.5 (a dx^2 + c dy^2) + b dx dy``.
        depths: [N] camera z of the means (metres, > 0 in front).
        radii: int64 [N, 2] footprint half-sizes in pixels (0 = not drawn:
            behind the near plane, past the far plane or off-screen).
    """

    means2d: Tensor
    conics: Tensor
    depths: Tensor
    radii: Tensor


def quats_to_rotmats(quats: Tensor) -> Tensor:
    """Rotation matrices [N, 3, 3] of quaternions [N, 4] (w, x, y, z; normalised here)."""
    q = quats / quats.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    w, x, y, z = q.unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], dim=-1).reshape(q.shape[:-1] + (3, 3))


def covariances(quats: Tensor, scales: Tensor) -> Tensor:
    """World covariances ``R diag(s^2) R^T`` [N, 3, 3] from quaternions [N, 4] (w, x, y, z) and scales [N, 3].

    ``scales`` are standard deviations (metres), not their logarithms.
    """
    m = quats_to_rotmats(quats) * scales[..., None, :]
    return m @ m.transpose(-1, -2)


def project_gaussians(means: Tensor, covars: Tensor, viewmat: Tensor, K: Tensor, width: int, height: int,
                      near_plane: float = 0.01, far_plane: float = 1e10, eps2d: float = EPS2D) -> ProjectedGaussians:
    """EWA projection of 3D Gaussians into a pinhole camera.

    Args:
        means: [N, 3] world positions.
        covars: [N, 3, 3] world covariances.
        viewmat: [4, 4] world-to-camera transform, OpenCV axes (x right, y down, z forward).
        K: [3, 3] intrinsics (fx, fy, cx, cy in pixels).
        width, height: image size in pixels.
        near_plane, far_plane: camera-z clipping range (metres).
        eps2d: low-pass term added to the 2D covariance (pixels squared).

    Returns:
        ``ProjectedGaussians``; differentiable with respect to ``means`` and ``covars``.

    Source: Zwicker et al. 2002, Sec. 4 (local affine approximation J of the
    projection); Kerbl et al. 2023, Sec. 4 (Sigma' = J W Sigma W^T J^T). The
    Jacobian is evaluated at the mean clamped to 1.3x the field of view, as
    gsplat does, so far off-screen Gaussians do not blow up.
    """
    rot, trans = viewmat[:3, :3], viewmat[:3, 3]
    mc = means @ rot.T + trans
    cov_c = rot @ covars @ rot.T
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    tx, ty, tz = mc.unbind(-1)
    tz_safe = torch.where(tz.abs() < 1e-9, torch.full_like(tz, 1e-9), tz)
    tan_x, tan_y = 0.5 * width / fx, 0.5 * height / fy
    jx = tz_safe * torch.clamp(tx / tz_safe, min=-(cx / fx + 0.3 * tan_x), max=(width - cx) / fx + 0.3 * tan_x)
    jy = tz_safe * torch.clamp(ty / tz_safe, min=-(cy / fy + 0.3 * tan_y), max=(height - cy) / fy + 0.3 * tan_y)
    zero = torch.zeros_like(tz)
    jac = torch.stack([fx / tz_safe, zero, -fx * jx / tz_safe ** 2,
                       zero, fy / tz_safe, -fy * jy / tz_safe ** 2], dim=-1).reshape(-1, 2, 3)
    cov2d = jac @ cov_c @ jac.transpose(-1, -2)
    cov2d = cov2d + eps2d * torch.eye(2, dtype=means.dtype, device=means.device)
    means2d = torch.stack([fx * tx / tz_safe + cx, fy * ty / tz_safe + cy], dim=-1)
    det = (cov2d[:, 0, 0] * cov2d[:, 1, 1] - cov2d[:, 0, 1] * cov2d[:, 1, 0]).clamp_min(1e-10)
    conics = torch.stack([cov2d[:, 1, 1] / det, -0.5 * (cov2d[:, 0, 1] + cov2d[:, 1, 0]) / det,
                          cov2d[:, 0, 0] / det], dim=-1)
    with torch.no_grad():
        radii = torch.ceil(RADIUS_SIGMAS * torch.sqrt(torch.stack([cov2d[:, 0, 0], cov2d[:, 1, 1]], -1)))
        valid = (tz > near_plane) & (tz < far_plane)
        valid &= (means2d[:, 0] + radii[:, 0] > 0) & (means2d[:, 0] - radii[:, 0] < width)
        valid &= (means2d[:, 1] + radii[:, 1] > 0) & (means2d[:, 1] - radii[:, 1] < height)
        radii = torch.where(valid[:, None], radii, torch.zeros_like(radii)).long()
    return ProjectedGaussians(means2d=means2d, conics=conics, depths=tz, radii=radii)


def _tile_intersections(proj: ProjectedGaussians, tiles_x: int, tiles_y: int, tile_size: int
                        ) -> tuple[Tensor, Tensor]:
    """(tile id [M], Gaussian id [M]) of every Gaussian-tile overlap, sorted by tile, then front to back."""
    with torch.no_grad():
        drawn = torch.nonzero((proj.radii > 0).all(dim=1)).squeeze(1)
        m2 = proj.means2d.detach()[drawn]
        r = proj.radii[drawn].to(m2.dtype)
        x0 = torch.clamp(torch.floor((m2[:, 0] - r[:, 0]) / tile_size), 0, tiles_x).long()
        x1 = torch.clamp(torch.ceil((m2[:, 0] + r[:, 0]) / tile_size), 0, tiles_x).long()
        y0 = torch.clamp(torch.floor((m2[:, 1] - r[:, 1]) / tile_size), 0, tiles_y).long()
        y1 = torch.clamp(torch.ceil((m2[:, 1] + r[:, 1]) / tile_size), 0, tiles_y).long()
        nx, ny = (x1 - x0).clamp_min(0), (y1 - y0).clamp_min(0)
        counts = nx * ny
        gid = torch.repeat_interleave(torch.arange(len(drawn), device=m2.device), counts)
        start = torch.cumsum(counts, 0) - counts
        local = torch.arange(int(counts.sum()), device=m2.device) - torch.repeat_interleave(start, counts)
        tx = x0[gid] + local % nx[gid]
        ty = y0[gid] + torch.div(local, nx[gid].clamp_min(1), rounding_mode="floor")
        tile = ty * tiles_x + tx
        gauss = drawn[gid]
        # Front to back within a tile: sort by depth, then stably by tile.
        order = torch.argsort(proj.depths.detach()[gauss], stable=True)
        tile, gauss = tile[order], gauss[order]
        order = torch.argsort(tile, stable=True)
        return tile[order], gauss[order]


def rasterize_gaussians(means: Tensor, quats: Tensor | None, scales: Tensor | None, opacities: Tensor,
                        colors: Tensor, viewmat: Tensor, K: Tensor, width: int, height: int, *,
                        covars: Tensor | None = None, background: Tensor | None = None,
                        near_plane: float = 0.01, far_plane: float = 1e10, eps2d: float = EPS2D,
                        tile_size: int = TILE_SIZE) -> tuple[Tensor, Tensor]:
    """Render 3D Gaussians into one camera (differentiable, any device, any float dtype).

    Args:
        means: [N, 3] world positions (metres).
        quats: [N, 4] rotations (w, x, y, z; need not be unit), or None with ``covars``.
        scales: [N, 3] standard deviations (metres), or None with ``covars``.
        opacities: [N] in 0..1.
        colors: [N, D] per-Gaussian features (D = 3 for sRGB colour).
        viewmat: [4, 4] world-to-camera transform, OpenCV axes (module docstring).
        K: [3, 3] pinhole intrinsics in pixels.
        width, height: image size in pixels.
        covars: optional [N, 3, 3] world covariances used instead of quats/scales.
        background: optional [D] colour behind the Gaussians.
        near_plane, far_plane: camera-z clipping range.
        eps2d: low-pass term of the 2D covariance (pixels squared).
        tile_size: tile edge in pixels.

    Returns:
        (colors [H, W, D], alphas [H, W, 1]) -- the layout of one camera of
        ``gsplat.rasterization``; ``colors`` includes the background when given.

    Raises:
        ValueError: shapes do not match, or neither quats/scales nor covars are given.
    """
    n = means.shape[0]
    if means.shape != (n, 3) or opacities.shape != (n,) or colors.ndim != 2 or colors.shape[0] != n:
        raise ValueError(f"expected means [N, 3], opacities [N], colors [N, D]; got {tuple(means.shape)}, "
                         f"{tuple(opacities.shape)}, {tuple(colors.shape)}")
    if covars is None:
        if quats is None or scales is None:
            raise ValueError("give quats and scales, or covars")
        covars = covariances(quats, scales)
    dtype, device = means.dtype, means.device
    channels = colors.shape[1]
    viewmat = viewmat.to(dtype=dtype, device=device)
    K = K.to(dtype=dtype, device=device)
    proj = project_gaussians(means, covars, viewmat, K, width, height, near_plane, far_plane, eps2d)

    tiles_x, tiles_y = math.ceil(width / tile_size), math.ceil(height / tile_size)
    n_tiles = tiles_x * tiles_y
    tile_of, gauss_of = _tile_intersections(proj, tiles_x, tiles_y, tile_size)
    counts = torch.bincount(tile_of, minlength=n_tiles)
    offsets = torch.cumsum(counts, 0) - counts

    # Pixel centres of every tile, [n_tiles, P, 2].
    ps = tile_size * tile_size
    ly, lx = torch.meshgrid(torch.arange(tile_size, device=device), torch.arange(tile_size, device=device),
                            indexing="ij")
    tile_ids = torch.arange(n_tiles, device=device)
    px = ((tile_ids % tiles_x)[:, None] * tile_size + lx.reshape(1, -1)).to(dtype) + 0.5
    py = (torch.div(tile_ids, tiles_x, rounding_mode="floor")[:, None] * tile_size + ly.reshape(1, -1)).to(dtype) + 0.5

    # Tiles with similar overlap counts share a padded batch (little padding, bounded memory).
    by_count = torch.argsort(counts, stable=True)
    counts_sorted = counts[by_count].tolist()
    out_color: list[Tensor] = []
    out_alpha: list[Tensor] = []
    i = 0
    while i < n_tiles:
        j = i + 1
        while j < n_tiles and (j - i + 1) * max(counts_sorted[j], 1) * ps <= _CHUNK_ELEMENTS:
            j += 1
        batch = by_count[i:j]
        m = max(counts_sorted[j - 1], 1)
        slot = torch.arange(m, device=device)
        present = slot[None, :] < counts[batch][:, None]  # [b, m]
        index = torch.where(present, offsets[batch][:, None] + slot[None, :],
                            torch.zeros_like(present, dtype=torch.long))
        g = torch.where(present, gauss_of[index] if len(gauss_of) else torch.zeros_like(index),
                        torch.zeros_like(index))  # [b, m]
        mean = proj.means2d[g]  # [b, m, 2]
        con = proj.conics[g]  # [b, m, 3]
        dx = px[batch][:, None, :] - mean[..., 0:1]  # [b, m, P]
        dy = py[batch][:, None, :] - mean[..., 1:2]
        sigma = 0.5 * (con[..., 0:1] * dx * dx + con[..., 2:3] * dy * dy) + con[..., 1:2] * dx * dy
        alpha = torch.clamp_max(opacities[g][..., None] * torch.exp(-sigma), ALPHA_MAX)
        keep = present[..., None] & (sigma >= 0) & (alpha >= ALPHA_MIN)
        alpha = alpha * keep
        trans_after = torch.cumprod(1.0 - alpha, dim=1)
        trans_before = torch.cat([torch.ones_like(trans_after[:, :1]), trans_after[:, :-1]], dim=1)
        # A pixel stops before the Gaussian that would take its transmittance under 1e-4 (gsplat).
        weight = alpha * trans_before * (trans_after.detach() > TRANSMITTANCE_MIN)
        out_color.append(torch.einsum("bmp,bmd->bpd", weight, colors[g]))
        out_alpha.append(weight.sum(dim=1))
        i = j

    inverse = torch.empty_like(by_count)
    inverse[by_count] = torch.arange(n_tiles, device=device)
    color = torch.cat(out_color)[inverse]  # [n_tiles, P, D]
    alpha = torch.cat(out_alpha)[inverse]  # [n_tiles, P]
    color = color.reshape(tiles_y, tiles_x, tile_size, tile_size, channels).permute(0, 2, 1, 3, 4)
    color = color.reshape(tiles_y * tile_size, tiles_x * tile_size, channels)[:height, :width]
    alpha = alpha.reshape(tiles_y, tiles_x, tile_size, tile_size).permute(0, 2, 1, 3)
    alpha = alpha.reshape(tiles_y * tile_size, tiles_x * tile_size)[:height, :width, None]
    if background is not None:
        color = color + (1.0 - alpha) * background.to(dtype=dtype, device=device)
    return color, alpha
