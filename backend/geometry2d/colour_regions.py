"""Colour regions shared by the two cut-outs: which end pixels a start pixel of a given colour may land on.

A silhouette alone cannot tell an orange upper arm from a blue forearm, so a
registration that only fits outlines may fold one limb onto the other's place.
Clustering the colours of both cut-outs together (k-means in CIELAB, chroma
weighted over lightness so shading changes between the poses matter less)
gives per-colour masks; a start sample of colour c that lands where the end
shows another colour is pulled toward the nearest end pixel of colour c, the
per-colour form of the silhouette's "outside" term (a colour chamfer term, as
in multi-channel distance-transform matching; Borgefors 1988 for the chamfer
distance, Lloyd's k-means through ``cv2.kmeans``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .silhouette_field import SilhouetteField

LIGHTNESS_WEIGHT = 0.3   # L* counts half as much as a*, b* (shading moves with the pose, paint does not)
MIN_SHARE = 0.03         # a colour must cover this share of each object to be used
MAX_SAMPLES = 20000      # pixels fed to k-means
SMOOTH_SHARE = 0.03      # colour averaging radius over the object's size (sqrt of its area), at least 2 px
COHERENT_SHARE = 0.6     # the largest piece of a usable colour holds this share of its pixels
MERGE_DISTANCE = 10.0    # cluster centres closer than this (weighted L*a*b*) are one colour


@dataclass
class ColourRegions:
    """Joint colour clusters of a start and an end cut-out.

    Attributes:
        start_labels: int32 [H0, W0] cluster per start pixel (-1 off the object or for unused clusters).
        end_fields: one ``SilhouetteField`` per cluster over the end pixels of that colour (None when unused).
    """

    start_labels: np.ndarray
    end_fields: list

    def label_at(self, points: np.ndarray) -> np.ndarray:
        """int64 [N] cluster of the start pixel under each point (u, v) in start pixels (-1 off the object)."""
        h, w = self.start_labels.shape
        c = np.clip(np.floor(points[:, 0]).astype(np.int64), 0, w - 1)
        r = np.clip(np.floor(points[:, 1]).astype(np.int64), 0, h - 1)
        return self.start_labels[r, c].astype(np.int64)


def _lab(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float32 [H, W, 3] L*a*b* averaged over ``SMOOTH_SHARE`` of the object's size inside the mask
    (a part's paint, not its texture's checks and stripes), L* scaled by ``LIGHTNESS_WEIGHT``."""
    lab = cv2.cvtColor(np.clip(rgb, 0.0, 1.0).astype(np.float32), cv2.COLOR_RGB2LAB)
    sigma = max(2.0, SMOOTH_SHARE * np.sqrt(max(mask.sum(), 1)))
    m = mask.astype(np.float32)
    den = cv2.GaussianBlur(m, (0, 0), sigma)
    lab = cv2.GaussianBlur(lab * m[..., None], (0, 0), sigma) / np.maximum(den, 1e-6)[..., None]
    lab[..., 0] *= LIGHTNESS_WEIGHT
    return lab


def _coherent(region: np.ndarray) -> bool:
    """True when the largest connected piece of ``region`` holds ``COHERENT_SHARE`` of its pixels."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(region.astype(np.uint8), connectivity=8)
    if count <= 1:
        return False
    areas = stats[1:, cv2.CC_STAT_AREA]
    return bool(areas.max() >= COHERENT_SHARE * areas.sum())


def _nearest(lab: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """int64 [N] index of the nearest centre of each row of ``lab``."""
    return np.argmin(((lab[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2), axis=1)


def colour_regions(start_rgb: np.ndarray, start_mask: np.ndarray, end_rgb: np.ndarray, end_mask: np.ndarray,
                   clusters: int = 6, seed: int = 0) -> ColourRegions | None:
    """Cluster the colours of both objects jointly and build the per-colour end masks.

    Args:
        start_rgb, end_rgb: float [H, W, 3] sRGB 0..1 cut-outs (each at its own size).
        start_mask, end_mask: bool [H, W] the objects.
        clusters: k of k-means (at most this many colours: centres of one paint are merged).
        seed: k-means seed (OpenCV's RNG).

    Returns:
        ``ColourRegions``, or None when fewer than two colours cover ``MIN_SHARE`` of both
        objects (a one-colour object: the silhouette terms say everything there is).
    """
    a = _lab(start_rgb, start_mask)[start_mask]
    b = _lab(end_rgb, end_mask)[end_mask]
    if len(a) < clusters or len(b) < clusters:
        return None
    data = np.vstack([a, b]).astype(np.float32)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(data), size=min(MAX_SAMPLES, len(data)), replace=False)
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.5)
    _, _, centres = cv2.kmeans(data[pick], clusters, None, criteria, 2, cv2.KMEANS_PP_CENTERS)

    # k-means always returns k centres: centres of one paint (shading, a texture's checks) are merged.
    sizes = np.bincount(_nearest(data[pick], centres), minlength=clusters)
    kept: list[int] = []
    for c in np.argsort(-sizes):
        if sizes[c] and all(np.linalg.norm(centres[c] - centres[k]) >= MERGE_DISTANCE for k in kept):
            kept.append(int(c))
    centres = centres[kept]
    clusters = len(kept)

    def assign(lab: np.ndarray) -> np.ndarray:
        return _nearest(lab, centres)

    la, lb = assign(a), assign(b)
    share_a = np.bincount(la, minlength=clusters) / len(la)
    share_b = np.bincount(lb, minlength=clusters) / len(lb)
    used = (share_a >= MIN_SHARE) & (share_b >= MIN_SHARE)
    start_labels = np.full(start_mask.shape, -1, np.int32)
    start_labels[start_mask] = la
    end_labels = np.full(end_mask.shape, -1, np.int32)
    end_labels[end_mask] = lb
    # A part's paint is one piece; a colour scattered over many pieces (the squares of a checker
    # pattern) would pull every sample toward the nearest square of its colour, anywhere.
    for c in np.nonzero(used)[0]:
        used[c] = _coherent(start_labels == c) and _coherent(end_labels == c)
    if used.sum() < 2:
        return None
    start_labels[(start_labels >= 0) & ~used[np.maximum(start_labels, 0)]] = -1
    end_labels[(end_labels >= 0) & ~used[np.maximum(end_labels, 0)]] = -1
    fields = [SilhouetteField(end_labels == c) if used[c] else None for c in range(clusters)]
    return ColourRegions(start_labels=start_labels, end_fields=fields)
