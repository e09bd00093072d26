"""Sparse feature matches and dense optical flow between two images of one object.

* ``match_features``: SIFT keypoints (Lowe, IJCV 2004; ``cv2.SIFT``) on the
  foreground, Lowe's ratio test plus a mutual nearest-neighbour check.
* ``group_matches``: sequential RANSAC with 4-DoF similarity models
  (``cv2.estimateAffinePartial2D``) so that articulated motion (several parts
  moving rigidly) keeps the matches of every part; matches explained by no model
  are dropped.
* ``dense_flow``: DIS optical flow (Kroeger et al., ECCV 2016;
  ``cv2.DISOpticalFlow``) in both directions with a forward-backward
  consistency check.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Matches:
    """Point correspondences between a start and an end image.

    Attributes:
        start: float64 [M, 2] pixel positions (u, v) in the start image.
        end: float64 [M, 2] matching positions in the end image.
        group: int64 [M] index of the rigid motion model that explains the match (-1: none).
        models: float64 [K, 2, 3] similarity transforms (start -> end pixels), best supported first.
    """

    start: np.ndarray
    end: np.ndarray
    group: np.ndarray
    models: np.ndarray

    def __len__(self) -> int:
        return len(self.start)


def to_gray_u8(rgb: np.ndarray) -> np.ndarray:
    """uint8 [H, W] luminance of a float sRGB image [H, W, 3] in 0..1."""
    return cv2.cvtColor((np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), cv2.COLOR_RGB2GRAY)


def _detect(gray: np.ndarray, mask: np.ndarray, upscale: float):
    sift = cv2.SIFT_create(contrastThreshold=0.02)
    # Keypoints just outside the mask see the outline against the background: keep them.
    m = cv2.dilate(mask.astype(np.uint8) * 255, np.ones((7, 7), np.uint8))
    if upscale != 1.0:
        gray = cv2.resize(gray, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
        m = cv2.resize(m, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_NEAREST)
    kp, desc = sift.detectAndCompute(gray, m)
    # OpenCV keypoint coordinates put pixel centres at integers; ours at +0.5.
    pts = np.array([k.pt for k in kp], dtype=np.float64).reshape(-1, 2) / upscale + 0.5
    return pts, desc


def match_features(start_rgb: np.ndarray, start_mask: np.ndarray, end_rgb: np.ndarray, end_mask: np.ndarray,
                   ratio: float = 0.8, min_side: int = 320) -> tuple[np.ndarray, np.ndarray]:
    """SIFT matches on the foreground of two images.

    Args:
        start_rgb, end_rgb: float32 [H, W, 3] sRGB 0..1 (sizes may differ).
        start_mask, end_mask: bool [H, W] object masks.
        ratio: Lowe's ratio test threshold.
        min_side: images whose longer side is below this are upsampled for detection
            (small objects otherwise give too few keypoints).

    Returns:
        start points float64 [M, 2] and end points float64 [M, 2] in pixels (u, v);
        M may be 0.
    """
    longest = max(start_mask.shape + end_mask.shape)
    up = float(np.clip(min_side / max(longest, 1), 1.0, 2.0))
    p1, d1 = _detect(to_gray_u8(start_rgb), start_mask, up)
    p2, d2 = _detect(to_gray_u8(end_rgb), end_mask, up)
    empty = np.zeros((0, 2))
    if d1 is None or d2 is None or len(p1) < 2 or len(p2) < 2:
        return empty, empty
    bf = cv2.BFMatcher(cv2.NORM_L2)
    knn = bf.knnMatch(d1, d2, k=2)
    back = bf.match(d2, d1)
    best_back = np.full(len(p2), -1)
    for m in back:
        best_back[m.queryIdx] = m.trainIdx
    pairs = [(m[0].queryIdx, m[0].trainIdx) for m in knn
             if len(m) == 2 and m[0].distance < ratio * m[1].distance and best_back[m[0].trainIdx] == m[0].queryIdx]
    if not pairs:
        return empty, empty
    i, j = np.array(pairs).T
    return p1[i], p2[j]


def group_matches(start: np.ndarray, end: np.ndarray, threshold_px: float = 3.0, min_inliers: int = 6,
                  max_models: int = 8, seed: int = 0, conflict_radius_px: float = 0.0) -> Matches:
    """Split matches into rigidly moving groups by sequential RANSAC; drop the rest.

    Each round fits a similarity transform (rotation, uniform scale, translation)
    with RANSAC to the matches not yet explained, keeps its inliers as one group
    and repeats while a model finds at least ``min_inliers`` inliers.

    Repetitive texture (identical blades) produces groups that contradict each
    other; with ``conflict_radius_px`` > 0 a group is dropped when 30% or more of
    its matches contradict a larger group: they sit within that radius of the
    larger group's matches in the start image but move differently, or land
    within it of the larger group's matches in the end image while coming from
    far away (one part cannot be in two places).

    Args:
        start, end: float [M, 2] matched pixel positions.
        threshold_px: RANSAC reprojection threshold in pixels.
        min_inliers: smallest group kept.
        max_models: most groups.
        seed: OpenCV RNG seed, for reproducible results.
        conflict_radius_px: neighbourhood of the contradiction test (0 disables it).

    Returns:
        ``Matches`` holding only the grouped matches.
    """
    start = np.asarray(start, dtype=np.float64).reshape(-1, 2)
    end = np.asarray(end, dtype=np.float64).reshape(-1, 2)
    group = np.full(len(start), -1, np.int64)
    models = []
    remaining = np.arange(len(start))
    cv2.setRNGSeed(seed)
    while len(models) < max_models and len(remaining) >= min_inliers:
        model, inl = cv2.estimateAffinePartial2D(start[remaining], end[remaining], method=cv2.RANSAC,
                                                 ransacReprojThreshold=threshold_px, maxIters=2000,
                                                 confidence=0.995)
        if model is None:
            break
        inl = inl.ravel().astype(bool)
        if inl.sum() < min_inliers:
            break
        # Refit on the inliers only, and keep everything within the threshold of the refit.
        refit, _ = cv2.estimateAffinePartial2D(start[remaining[inl]], end[remaining[inl]], method=cv2.LMEDS)
        if refit is not None:
            pred = start[remaining] @ refit[:, :2].T + refit[:, 2]
            close = np.linalg.norm(pred - end[remaining], axis=1) < threshold_px
            if close.sum() >= inl.sum():
                model, inl = refit, close
        group[remaining[inl]] = len(models)
        models.append(model)
        remaining = remaining[~inl]
    models_arr = np.asarray(models, dtype=np.float64).reshape(-1, 2, 3)
    if conflict_radius_px > 0 and len(models_arr) > 1:
        group, models_arr = _drop_conflicting_groups(start, end, group, models_arr, conflict_radius_px,
                                                     3.0 * threshold_px)
    keep = group >= 0
    return Matches(start=start[keep], end=end[keep], group=group[keep], models=models_arr)


def _drop_conflicting_groups(start, end, group, models, radius, tolerance):
    """Remove smaller groups that contradict a larger one (see ``group_matches``)."""
    alive = []
    for j in range(len(models)):
        mj = group == j
        conflicts = np.zeros(int(mj.sum()), bool)
        for i in alive:
            mi = group == i
            # Same place in the start image, different motion.
            d_start = np.linalg.norm(start[mj][:, None] - start[mi][None], axis=2)
            near = d_start.min(axis=1) < radius
            moved_i = start[mj] @ models[i][:, :2].T + models[i][:, 2]
            conflicts |= near & (np.linalg.norm(moved_i - end[mj], axis=1) > tolerance)
            # Same place in the end image, from far-apart places in the start image.
            d_end = np.linalg.norm(end[mj][:, None] - end[mi][None], axis=2)
            k = d_end.argmin(axis=1)
            apart = np.linalg.norm(start[mj] - start[mi][k], axis=1) > 3.0 * radius
            conflicts |= (d_end.min(axis=1) < radius) & apart
        if conflicts.mean() >= 0.3:
            group[mj] = -1
        else:
            alive.append(j)
    remap = np.full(len(models), -1)
    remap[alive] = np.arange(len(alive))
    group = np.where(group >= 0, remap[np.maximum(group, 0)], -1)
    return group, models[alive]


_DIS_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
                "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


def dense_flow(source_gray: np.ndarray, target_gray: np.ndarray, preset: str = "medium",
               consistency_px: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """DIS optical flow from ``source`` to ``target`` with a forward-backward check.

    Args:
        source_gray, target_gray: uint8 [H, W] images of the same size.
        preset: "ultrafast" | "fast" | "medium" (OpenCV DIS presets).
        consistency_px: a pixel is reliable when following its flow and the
            backward flow there returns within this distance (plus 5% of the motion).

    Returns:
        flow float32 [H, W, 2] (du, dv) in pixels such that source pixel p matches
        target position p + flow[p]; reliable bool [H, W].
    """
    dis = cv2.DISOpticalFlow_create(_DIS_PRESETS[preset])
    fwd = dis.calc(source_gray, target_gray, None)
    bwd = dis.calc(target_gray, source_gray, None)
    h, w = source_gray.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    back_at = cv2.remap(bwd, gx + fwd[..., 0], gy + fwd[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    err = np.linalg.norm(fwd + back_at, axis=2)
    reliable = err < consistency_px + 0.05 * np.linalg.norm(fwd, axis=2)
    return fwd, reliable
