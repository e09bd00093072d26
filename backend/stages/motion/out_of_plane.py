"""Parts that turn toward or away from the camera: 3D rotations for the lift's reference deformations.

A rigid part that turns out of the image plane foreshortens in 2D: its
one-ring affine maps F (image right/up axes) lose length across the turning
axis while keeping it along the axis. Squashing it in the image plane (the
lift's default guide [[F, 0], [0, c]]) makes a flat, thinner part; instead
F is read as the weak-perspective projection of s R (``backend.geometry3d.
weak_perspective``) and the guide becomes s R, so the ARAP depth solve turns
the part in 3D about the joint where it meets the parts that do not turn.

Which vertices turn: the foreshortening k = sigma_2 / sigma_1 of the one-ring
maps (smoothed over one-rings), with sigma_1 within ``LENGTH_KEPT`` of the
object's typical scale (a part that keeps its length across the turning axis;
growth or uniform shrinking is not a turn). Their weight w ramps from 0 at
k = 1 - ``RAMP[0]`` to 1 at k = 1 - ``RAMP[1]`` on the reference frame (the
last one) and hold on every frame, blended over a joint's one-rings; the lift
blends the guides with them, the weight-free form of blending per-part
rotations at joints as ARAP does.

Only parts turn: a region must hang on non-turning vertices (a joint) and
cover at most ``MAX_PART_SHARE`` of the object; a whole object that
foreshortens is read as squeezed, as before (weak perspective cannot tell a
telescope retracting from one turning; a part that slides into another one
while attached to it is read as a turn, the known failure of this rule).

The depth sign (each turn and its mirror project alike) is fixed once, on the
frame with the largest turn, per connected turning region: the sign of the
depth gradient is made consistent over the region (continuity along the part
hierarchy), and the region's far end is brought toward the camera from the
joint where it hangs on the non-turning rest (a part turning away behind its
parent would be hidden by it in the end image, which then would not show it
foreshortened on top). Every other frame picks, per vertex, the candidate
whose depth gradient agrees with that reference, so the turn is continuous in
time.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ...geometry3d.weak_perspective import pick_sign, rotations_from_affine

RAMP = (0.06, 0.2)          # foreshortening 1 - k where the turn weight starts / reaches 1 (about 20 / 37 deg)
LENGTH_KEPT = (0.8, 1.25)   # sigma_1 relative to the object's typical scale for a turn
AFFINE_SMOOTHING = 2        # one-ring averaging passes over the affine maps
MAX_PART_SHARE = 0.5        # a turning region covers at most this share of the vertices
REFERENCE_SPREAD = 4        # one-ring passes that carry the sign reference past a region's border


def turn_weights(f2: np.ndarray, scale: float) -> np.ndarray:
    """Out-of-plane turn weight per vertex.

    Args:
        f2: float [V, 2, 2] one-ring affine maps (image right/up axes).
        scale: the object's typical 2D scale at this frame (median sigma_1).

    Returns:
        float64 [V] in 0..1: 0 where the map is a similarity (or grows / shrinks
        as a whole), 1 where it foreshortens by more than ``RAMP[1]`` while
        keeping its length along the turning axis.
    """
    sig = np.linalg.svd(np.asarray(f2, dtype=np.float64), compute_uv=False)
    s1 = np.maximum(sig[:, 0], 1e-12)
    k = sig[:, 1] / s1
    ramp = np.clip(((1.0 - k) - RAMP[0]) / (RAMP[1] - RAMP[0]), 0.0, 1.0)
    ramp = ramp * ramp * (3.0 - 2.0 * ramp)  # smoothstep
    rel = s1 / max(scale, 1e-12)
    kept = (rel >= LENGTH_KEPT[0]) & (rel <= LENGTH_KEPT[1])
    return np.where(kept, ramp, 0.0)


def border_of(adjacency: sp.spmatrix, inside: np.ndarray) -> np.ndarray:
    """bool [V]: vertices outside ``inside`` with a neighbour inside it."""
    return (adjacency @ inside.astype(float) > 0) & ~inside


class OutOfPlaneTurns:
    """Per-vertex 3D rotations of turning parts, with one depth sign per turning region.

    Args:
        adjacency: float sparse [V, V] the neighbour-mean operator of the surface.
        rest_up: float [V, 2] rest positions in image right/up axes (pixels, v negated).

    Use ``set_reference(f2)`` with the affine maps of the frame with the largest
    motion (usually the last), then ``rotations(f2)`` per frame.
    """

    def __init__(self, adjacency: sp.spmatrix, rest_up: np.ndarray):
        self.adjacency = adjacency.tocsr()
        self.rest_up = np.asarray(rest_up, dtype=np.float64)
        self.reference = np.zeros((len(self.rest_up), 2))
        self.membership = np.zeros(len(self.rest_up))
        self.region_of = np.full(len(self.rest_up), -1, np.int64)
        self.regions = 0

    def smooth(self, f2: np.ndarray) -> np.ndarray:
        """float64 [V, 2, 2] affine maps averaged over one-rings (``AFFINE_SMOOTHING`` passes)."""
        flat = np.asarray(f2, dtype=np.float64).reshape(len(f2), 4)
        for _ in range(AFFINE_SMOOTHING):
            flat = 0.5 * flat + 0.5 * (self.adjacency @ flat)
        return flat.reshape(-1, 2, 2)

    @staticmethod
    def typical_scale(f2: np.ndarray) -> float:
        """Median largest singular value of the maps: the object's 2D scale change."""
        return float(np.median(np.linalg.svd(f2, compute_uv=False)[:, 0]))

    def set_reference(self, f2: np.ndarray) -> int:
        """Fix the depth sign of every turning region from one frame's maps.

        Args:
            f2: float [V, 2, 2] smoothed one-ring affine maps of the reference frame.

        Returns:
            The number of turning regions found (0: nothing turns out of plane).
        """
        w = turn_weights(f2, self.typical_scale(f2))
        _, r_plus, _ = rotations_from_affine(f2)
        g = r_plus[:, 2, :2]  # depth gradient of the '+' candidate per vertex
        inside = w > 0.5
        ref = np.zeros_like(g)
        member = np.zeros(len(w), bool)
        self.region_of = np.full(len(w), -1, np.int64)
        self.regions = 0
        if inside.any():
            a = self.adjacency
            sub = a[inside][:, inside]
            count, labels = connected_components(sub, directed=False)
            idx = np.nonzero(inside)[0]
            # Vertices just outside a region: where it hangs on the parts that do not turn.
            border = border_of(a, inside)
            for c in range(count):
                members = idx[labels == c]
                if len(members) < 4:
                    continue
                gm = g[members]
                # Continuity: one depth-gradient direction for the whole region (principal axis).
                _, _, vt = np.linalg.svd(gm, full_matrices=False)
                e = vt[0]
                near = np.zeros(len(w), bool)
                near[members] = True
                joint = border & ((a @ near.astype(float)) > 0)
                # A turn is a part's: a region that hangs on nothing, or is most of the object, is
                # read as a squeeze (a telescope retracting foreshortens exactly like one turning).
                if not joint.any() or len(members) > MAX_PART_SHARE * len(w):
                    continue
                hinge = self.rest_up[joint].mean(axis=0)
                far = self.rest_up[members].mean(axis=0)
                # Depth decreases (toward the camera) from the joint to the region's far end.
                if float(e @ (far - hinge)) > 0.0:
                    e = -e
                ref[members] = e
                member[members] = True
                self.region_of[members] = self.regions
                self.regions += 1
        for _ in range(REFERENCE_SPREAD):
            spread = self.adjacency @ ref
            ref = np.where(inside[:, None], ref, spread)
        self.reference = ref
        # Turn weights of the accepted regions, blended over a joint's one-rings.
        weight = np.where(member, 1.0, np.where(border_of(self.adjacency, member), w, 0.0)) if self.regions else w * 0
        for _ in range(AFFINE_SMOOTHING):
            weight = 0.5 * weight + 0.5 * (self.adjacency @ weight)
        self.membership = np.where(member, 1.0, weight)
        return self.regions

    def rotations(self, f2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scale, 3D rotation and turn weight per vertex for one frame.

        Args:
            f2: float [V, 2, 2] smoothed one-ring affine maps (right/up axes).

        Returns:
            (s float64 [V], R float64 [V, 3, 3] in (right, up, view) axes with
            s R[:2, :2] the turn part of f2 and the reference's depth sign,
            w float64 [V] turn weights; 0 wherever no region was found).
        """
        f2 = np.asarray(f2, dtype=np.float64).copy()
        # A turning region is one rigid part: one turn s R for all its vertices (the mean of its
        # one-ring maps), so a jib or an arm turns as a whole instead of curving where the per-vertex
        # maps are noisy; the vertices blended over its joint keep their own maps.
        for r in range(self.regions):
            members = self.region_of == r
            f2[members] = f2[members].mean(axis=0)
        s, r_plus, r_minus = rotations_from_affine(f2)
        # The regions found on the reference frame turn on every frame, also while the turn is
        # small (a per-frame test would switch guides on and off: jumps in time).
        return s, pick_sign(r_plus, r_minus, self.reference), self.membership.copy()


__all__ = ["OutOfPlaneTurns", "turn_weights"]
