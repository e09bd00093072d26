"""Plain-background keying ("key" engine).

The background is modelled from the image border: its dominant colour (mode
of a coarse CIE L*a*b* histogram, so an object touching the border does not
bias it), refined to a bilinear colour ramp over the image when inliers lie
on at least three sides (studio backdrops with a vignette or light fall-off).
The matte is a ramp of the CIE76 colour difference Delta E*ab to that model,
with thresholds derived from the border's own noise level (video compression
raises it). Colour difference keying is the textbook difference matte
(Smith & Blinn, "Blue Screen Matting", SIGGRAPH 1996, sec. 2); L*a*b* via
OpenCV ``cvtColor(COLOR_RGB2Lab)`` on float sRGB.

Clean-up: hysteresis (weak matte pixels join the object when connected to
strong ones, so thin low-contrast parts survive); specks removed by relative
component size; a GrabCut pass that may only add pixels in a narrow band
round the mask (object parts close to the background colour, such as the
astronaut's white suit on white, join where an image edge bounds them); and
enclosed holes filled unless most of their pixels match the background, so
near-white inner parts are kept while real see-through gaps stay open.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .cleanup import fill_labels, find_holes, finish_matte, grabcut_grow, hysteresis, remove_specks, report

INLIER_DELTA_E = 6.0
"""Border pixels within this Delta E of the background model count as background."""

PLAIN_MIN_INLIERS = 0.6
"""A border is plain when at least this fraction of it is background ..."""

PLAIN_MAX_SPREAD = 3.0
"""... and the median Delta E of those pixels is at most this (camera noise of
about 1 % still passes; textured scenes do not)."""


@dataclass
class BackgroundModel:
    """A plain background estimated from the image border.

    Attributes:
        coeffs: float64 [4, 3] Lab = c0 + c1 x + c2 y + c3 x y, with x, y in
            -1..1 across the image (columns, rows); c1..c3 are 0 for a flat colour.
        rgb: float32 [3] sRGB 0..1 of the dominant border colour.
        inlier_fraction: share of border pixels that match the model.
        noise: 95th percentile Delta E of the matching border pixels (sets the key thresholds).
        spread: median Delta E of the matching border pixels (decides plainness).
    """

    coeffs: np.ndarray
    rgb: np.ndarray
    inlier_fraction: float
    noise: float
    spread: float

    @property
    def plain(self) -> bool:
        """Whether keying against this background can be trusted."""
        return self.inlier_fraction >= PLAIN_MIN_INLIERS and self.spread <= PLAIN_MAX_SPREAD

    def describe(self) -> str:
        """One line for logs and error messages."""
        r, g, b = (int(round(float(c) * 255)) for c in self.rgb)
        return (f"border colour rgb({r},{g},{b}), {100 * self.inlier_fraction:.0f}% of the border matches, "
                f"spread {self.spread:.1f} dE, noise {self.noise:.1f} dE")

    def lab_at(self, shape: tuple[int, int]) -> np.ndarray:
        """float32 [H, W, 3] background Lab at every pixel."""
        h, w = shape
        x = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :, None]
        y = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None, None]
        c = self.coeffs.astype(np.float32)
        return c[0] + c[1] * x + c[2] * y + c[3] * (x * y)


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """float32 [H, W, 3] sRGB 0..1 -> CIE L*a*b* (L 0..100) via OpenCV."""
    return cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2Lab)


def _border(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Border strip pixels: Lab [N, 3], x [N], y [N] in -1..1, side index [N] (0 top, 1 bottom, 2 left, 3 right)."""
    h, w = lab.shape[:2]
    k = max(2, round(0.01 * min(h, w)))
    rows, cols = np.mgrid[0:h, 0:w]
    parts = [(np.s_[:k, :], 0), (np.s_[-k:, :], 1), (np.s_[k:-k, :k], 2), (np.s_[k:-k, -k:], 3)]
    pix, xs, ys, side = [], [], [], []
    for sl, s in parts:
        pix.append(lab[sl].reshape(-1, 3))
        xs.append(cols[sl].ravel())
        ys.append(rows[sl].ravel())
        side.append(np.full(xs[-1].size, s))
    x = np.concatenate(xs) / max(w - 1, 1) * 2 - 1
    y = np.concatenate(ys) / max(h - 1, 1) * 2 - 1
    return np.concatenate(pix).astype(np.float64), x, y, np.concatenate(side)


def estimate_background(rgb: np.ndarray, lab: np.ndarray | None = None) -> BackgroundModel:
    """Estimate the background from the image border.

    Args:
        rgb: float32 [H, W, 3] sRGB 0..1.
        lab: optional precomputed ``to_lab(rgb)``.

    Returns:
        ``BackgroundModel``; check ``.plain`` before keying.
    """
    lab = to_lab(rgb) if lab is None else lab
    pix, x, y, side = _border(lab)
    # dominant colour: mode of a 4 dE histogram, robust to an object touching the border
    q = np.floor(pix / 4.0).astype(np.int64)
    _, inverse, counts = np.unique(q, axis=0, return_inverse=True, return_counts=True)
    seed = pix[inverse.ravel() == np.argmax(counts)].mean(axis=0)
    near = np.linalg.norm(pix - seed, axis=1) < 2 * INLIER_DELTA_E
    dominant = np.median(pix[near], axis=0)

    coeffs = np.zeros((4, 3))
    coeffs[0] = dominant
    design = np.stack([np.ones_like(x), x, y, x * y], axis=1)
    for _ in range(3):
        residual = np.linalg.norm(pix - design @ coeffs, axis=1)
        inl = residual < INLIER_DELTA_E * (2.0 if _ == 0 else 1.0)
        if len(np.unique(side[inl])) < 3 or inl.sum() < 16:
            break  # a ramp is only determined with background on three sides
        fit, *_ = np.linalg.lstsq(design[inl], pix[inl], rcond=None)
        # the ramp must stay gentle: it models light fall-off, not a scene
        if np.abs(fit[1:]).sum(axis=0).max() > 25.0:
            break
        coeffs = fit
    residual = np.linalg.norm(pix - design @ coeffs, axis=1)
    inl = residual < INLIER_DELTA_E
    noise = float(np.percentile(residual[inl], 95)) if inl.any() else float("inf")
    spread = float(np.median(residual[inl])) if inl.any() else float("inf")
    dom_rgb = cv2.cvtColor(dominant.astype(np.float32).reshape(1, 1, 3), cv2.COLOR_Lab2RGB).reshape(3)
    return BackgroundModel(coeffs=coeffs, rgb=np.clip(dom_rgb, 0, 1), inlier_fraction=float(inl.mean()),
                           noise=noise, spread=spread)


def key_matte(rgb: np.ndarray, background: BackgroundModel | None = None, progress=None
              ) -> tuple[np.ndarray, np.ndarray, BackgroundModel]:
    """Soft matte and cleaned mask of the object on a plain background.

    Args:
        rgb: float32 [H, W, 3] sRGB 0..1 at the working resolution.
        background: a model from ``estimate_background`` (estimated when None).
        progress: optional object with ``update(fraction)``.

    Returns:
        (alpha float32 [H, W] 0..1, mask bool [H, W] == alpha >= 0.5, background).
        The caller checks ``background.plain`` and the mask coverage.
    """
    lab = to_lab(rgb)
    bg = estimate_background(rgb, lab) if background is None else background
    report(progress, 0.2)
    dist = np.linalg.norm(lab - bg.lab_at(lab.shape[:2]), axis=-1)
    # thresholds scale with the border noise: clean renders key tightly,
    # compressed video frames (ringing round the object) need more slack
    lo = max(3.0, 1.5 * bg.noise + 1.0)
    hi = lo + max(8.0, 2.0 * bg.noise)
    t = np.clip((dist - lo) / (hi - lo), 0.0, 1.0)
    alpha = (t * t * (3.0 - 2.0 * t)).astype(np.float32)  # smoothstep
    report(progress, 0.4)

    strong = alpha >= 0.5
    weak = dist >= lo + 0.25 * (hi - lo)
    mask = hysteresis(strong, weak | strong)
    h, w = mask.shape
    speck = max(4, int(2e-4 * h * w))
    mask = remove_specks(mask, min_fraction=0.01, min_pixels=speck)
    report(progress, 0.5)

    grown = grabcut_grow(rgb, mask, radius=max(3, round(0.03 * max(h, w))))
    mask |= grown
    solid = grown
    report(progress, 0.7)

    labels, ids, areas = find_holes(mask)
    if len(ids):
        # a hole is object (a near-white part) unless it looks like the
        # background, or it is tiny (compression noise)
        counts = np.bincount(labels.ravel(), minlength=int(labels.max()) + 1)
        bg_like = np.bincount(labels.ravel(), weights=(dist <= lo).ravel(), minlength=counts.size)
        share = bg_like[ids] / np.maximum(counts[ids], 1)
        fill = ids[(share < 0.5) | (areas <= max(4, int(5e-5 * h * w)))]
        solid = solid | fill_labels(np.zeros_like(mask), labels, fill)
        mask = fill_labels(mask, labels, fill)
    mask = remove_specks(mask, min_fraction=0.01, min_pixels=speck)
    alpha = np.where(solid, 1.0, alpha).astype(np.float32)
    report(progress, 0.8)
    alpha = finish_matte(alpha, mask)
    return alpha, mask, bg
