"""Global similarity alignment of two object silhouettes by their thick cores.

Feature matches give the start -> end motion of textured parts; a plain object
(a red rose, a small skateboarder) gets few or none, and aligning the masks'
centroids and areas is thrown off by whatever moved (arms spread out, wings
raised): the centroid follows the limbs. Limbs are thin, so they vanish under
a morphological opening with a disc of about half the largest inscribed radius
(the same "core" ``limb_search`` uses); the cores of the two silhouettes are
what stays put, and the similarity transform that overlaps them best is a
robust global alignment.

Method: for a grid of scales and rotations the rotated, scaled start core is
cross-correlated with the end core by FFT (Fourier correlation: the
translation that maximises the overlap of two binary images; e.g. Reddy &
Chatterji, IEEE TIP 1996, for the FFT registration family); the overlap gives
the intersection, hence the IoU, of every candidate at once. The best grid
cell is refined on a finer grid around it.
"""

from __future__ import annotations

import cv2
import numpy as np


def core_mask(mask: np.ndarray, fraction: float = 0.5, radius_px: float | None = None) -> np.ndarray:
    """The thick part of an object: its opening by a disc.

    Args:
        mask: bool [H, W] object mask.
        fraction: disc radius as a fraction of the largest inscribed radius (used when
            ``radius_px`` is None).
        radius_px: disc radius in pixels (overrides ``fraction``).

    Returns:
        bool [H, W]; may be empty when the object is thin everywhere.
    """
    m = np.asarray(mask, dtype=np.uint8)
    if radius_px is None:
        dist = cv2.distanceTransform(m, cv2.DIST_L2, 5)
        radius_px = fraction * float(dist.max())
    rho = max(2, int(round(radius_px)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rho + 1, 2 * rho + 1))
    return cv2.morphologyEx(m, cv2.MORPH_OPEN, disc).astype(bool)


def _similarity(scale: float, angle: float, centre_from: np.ndarray, centre_to: np.ndarray) -> np.ndarray:
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    a = np.array([[c, -s], [s, c]])
    return np.hstack([a, (centre_to - a @ centre_from)[:, None]])


def transform_iou(transform: np.ndarray, start_mask: np.ndarray, end_mask: np.ndarray) -> float:
    """IoU of ``end_mask`` with ``start_mask`` moved by a 2x3 transform (pixel-area coordinates).

    Args:
        transform: float [2, 3] start -> end map on (u, v) with pixel centres at +0.5.
        start_mask, end_mask: bool [H, W] (sizes may differ).

    Returns:
        IoU in [0, 1].
    """
    m = np.asarray(transform, dtype=np.float64).copy()
    # cv2.warpAffine puts pixel centres at integers.
    m[:, 2] += m[:, :2] @ np.array([0.5, 0.5]) - 0.5
    h, w = end_mask.shape
    moved = cv2.warpAffine(start_mask.astype(np.float32), m, (w, h), flags=cv2.INTER_LINEAR) >= 0.5
    union = np.logical_or(moved, end_mask).sum()
    return float(np.logical_and(moved, end_mask).sum() / union) if union else 0.0


def align_silhouettes(start_mask: np.ndarray, end_mask: np.ndarray, side: int = 96,
                      scale_range: tuple[float, float] = (0.7, 1.4), max_angle_deg: float = 45.0
                      ) -> tuple[np.ndarray, float]:
    """The similarity transform that overlaps two masks best (IoU), by FFT correlation.

    Args:
        start_mask, end_mask: bool [H, W] masks (sizes may differ; typically the cores
            from ``core_mask``).
        side: the search runs with the longer side of both images at this many pixels.
        scale_range: scales searched, relative to the square root of the area ratio.
        max_angle_deg: rotations searched, +- this.

    Returns:
        transform float64 [2, 3] mapping start pixels (u, v) to end pixels, and its IoU
        at the search resolution. The identity and IoU 0 when either mask is empty.
    """
    identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    if not np.any(start_mask) or not np.any(end_mask):
        return identity, 0.0
    k = min(1.0, side / max(start_mask.shape + end_mask.shape))
    small_s = cv2.resize(start_mask.astype(np.float32), None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    small_e = cv2.resize(end_mask.astype(np.float32), None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    h, w = small_e.shape
    area_s, area_e = float(small_s.sum()), float(small_e.sum())
    if area_s < 1.0 or area_e < 1.0:
        return identity, 0.0
    ys, xs = np.mgrid[:small_s.shape[0], :small_s.shape[1]]
    centre_s = np.array([(xs * small_s).sum(), (ys * small_s).sum()]) / area_s
    base = np.sqrt(area_e / area_s)
    canvas = np.array([w / 2.0, h / 2.0])
    pad = (2 * h, 2 * w)  # zero padding: correlation without wrap-around
    spectrum_e = np.fft.rfft2(small_e, pad)

    def best_of(scales, angles):
        best = (-1.0, None)
        for sc in scales:
            for an in angles:
                m = _similarity(base * sc, an, centre_s, canvas)
                moved = cv2.warpAffine(small_s, m, (w, h), flags=cv2.INTER_LINEAR)
                corr = np.fft.irfft2(spectrum_e * np.conj(np.fft.rfft2(moved, pad)), pad)
                i = int(np.argmax(corr))
                dy, dx = np.unravel_index(i, pad)
                dy = dy - pad[0] if dy >= h else dy
                dx = dx - pad[1] if dx >= w else dx
                inter = float(corr.flat[i])
                iou = inter / max(float(moved.sum()) + area_e - inter, 1e-9)
                if iou > best[0]:
                    m = m.copy()
                    m[:, 2] += (dx, dy)
                    best = (iou, m, sc, an)
        return best

    lo, hi = np.log(scale_range[0]), np.log(scale_range[1])
    coarse = best_of(np.exp(np.linspace(lo, hi, 7)), np.deg2rad(np.linspace(-max_angle_deg, max_angle_deg, 13)))
    d_log = (hi - lo) / 6 / 2
    d_ang = np.deg2rad(2 * max_angle_deg / 12) / 2
    fine = best_of(coarse[2] * np.exp(np.array([-d_log, 0.0, d_log])),
                   coarse[3] + np.array([-d_ang, 0.0, d_ang]))
    iou, m = fine[0], fine[1]
    # The small images use OpenCV's pixel-centre-at-integer coordinates: i = k * p - 0.5 for
    # a full-size position p in our centre-at-+0.5 convention (INTER_AREA by k).
    a, t = m[:, :2], m[:, 2]
    t_full = (t + 0.5 - a @ np.array([0.5, 0.5])) / k
    return np.hstack([a, t_full[:, None]]), float(iou)


def core_alignment(start_mask: np.ndarray, end_mask: np.ndarray, fraction: float = 0.5
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Align the cores of two silhouettes (see the module docstring).

    The end core uses the start's disc radius scaled by the square root of the area
    ratio, so both openings remove limbs of the same relative thickness.

    Args:
        start_mask, end_mask: bool [H, W] object masks.
        fraction: disc radius as a fraction of the start's largest inscribed radius.

    Returns:
        (transform float64 [2, 3] start -> end pixels, start core bool, end core bool,
        IoU of the aligned cores at full resolution). Falls back to the whole masks
        when a core is empty.
    """
    dist = cv2.distanceTransform(np.asarray(start_mask, np.uint8), cv2.DIST_L2, 5)
    rho = fraction * float(dist.max())
    ratio = np.sqrt(max(float(np.count_nonzero(end_mask)), 1.0) / max(float(np.count_nonzero(start_mask)), 1.0))
    core_s, core_e = core_mask(start_mask, radius_px=rho), core_mask(end_mask, radius_px=rho * ratio)
    if not core_s.any() or not core_e.any():
        core_s, core_e = np.asarray(start_mask, bool), np.asarray(end_mask, bool)
    transform, _ = align_silhouettes(core_s, core_e)
    return transform, core_s, core_e, transform_iou(transform, core_s, core_e)
