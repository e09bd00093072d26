"""Keyframes by a motion-magnitude hierarchy.

In-2-4D (Sec. "hierarchical keyframe selection") splits the interpolated video
recursively until every segment's motion is small enough for one deformation
step. The weight-free version measures motion directly on the 2D mesh
trajectories: a segment [a, b] is split at its midpoint while the largest
vertex displacement between frames a and b exceeds a fraction of the object's
size and the segment still has a frame inside.
"""

from __future__ import annotations

import numpy as np


def object_size(vertices: np.ndarray) -> float:
    """Diagonal of the bounding box of vertex positions [V, 2] (pixels), at least 1."""
    v = np.asarray(vertices, dtype=np.float64)
    if len(v) == 0:
        return 1.0
    return max(float(np.linalg.norm(v.max(axis=0) - v.min(axis=0))), 1.0)


def motion_keyframes(trajectories: np.ndarray, threshold_fraction: float = 0.12) -> list[int]:
    """Hierarchical keyframes of mesh trajectories.

    Args:
        trajectories: float [T, V, 2] vertex positions per frame (pixels), T >= 1.
        threshold_fraction: a segment is split while some vertex moves more than
            this fraction of the object's bounding-box diagonal (frame 0) between
            the segment's end keyframes.

    Returns:
        Sorted unique frame indices, always including 0 and T-1.
    """
    traj = np.asarray(trajectories, dtype=np.float64)
    t = len(traj)
    if t <= 1:
        return [0]
    threshold = threshold_fraction * object_size(traj[0])
    keys = {0, t - 1}
    stack = [(0, t - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        motion = float(np.linalg.norm(traj[b] - traj[a], axis=1).max()) if traj.shape[1] else 0.0
        if motion <= threshold:
            continue
        mid = (a + b) // 2
        keys.add(mid)
        stack += [(a, mid), (mid, b)]
    return sorted(keys)
