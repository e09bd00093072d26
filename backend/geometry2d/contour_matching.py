"""Outline correspondences between two silhouettes by inner-distance shape context.

Feature matches need texture; a plain object (a red rose, a small skateboarder,
a cartoon frog) gets few or none, and its limbs may have swung far from where
they were. Its outline still says a lot: a hand is the far end of a thin arm,
a foot the far end of a leg. The inner-distance shape context (IDSC; Ling &
Jacobs, "Shape Classification Using the Inner-Distance", IEEE TPAMI 29(2),
2007) describes each outline point by the histogram of the *inner* distances
(shortest paths inside the shape) and inner angles to all other outline
points; inner distances barely change when parts turn about their joints, so
the descriptor is insensitive to articulation.

Method:

1. Each mask's largest outer contour is resampled at ``samples`` points equally
   spaced by arc length (at a reduced size, the larger object side at about
   ``side`` pixels).
2. Inner distances: Dijkstra on the 8-connected pixel graph of the mask
   (``scipy.sparse.csgraph.dijkstra``); inner angles: the direction, relative to
   the outline tangent, of the point ``lookahead`` pixels along each shortest
   path (walked back from the target along the shortest-path tree).
3. Descriptors: log-distance x angle histograms (distances normalised by their
   mean, so the scale drops out); cost: the chi-square distance.
4. Matching: dynamic programming along both outlines (order preserving, with a
   fixed cost per skipped point, so parts visible in only one image are left
   out), over every cyclic offset of the end outline (Ling & Jacobs 2007, Sec. 4;
   Belongie, Malik & Puzicha, TPAMI 2002, for shape context).
5. Orientation: the descriptors are rotation invariant, so an outline can match
   upside down (a turtle's shell onto its belly). A small cost on the turn of
   the outline tangent away from the expected rotation breaks such ties, in the
   spirit of the tangent-angle appearance term of Belongie et al. (Sec. 3.2),
   and a matching whose mean turn exceeds ``max_turn_deg`` is refused.

Limits: order preservation cannot follow a part that crosses over the body in
the image (a flipper swung from below the shell to above it), and a part that
appears only in the end image may be matched to the outline next to it; the
registration guards against both (``arap_registration``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra


@dataclass
class ContourMatches:
    """Ordered correspondences between the outlines of two masks.

    Attributes:
        start: float64 [K, 2] outline points (u, v) of the start mask, in its pixels
            (pixel centres at +0.5; the centre of an outline pixel).
        end: float64 [K, 2] matching outline points of the end mask, in its pixels.
        cost: float64 [K] matching cost of each pair: chi-square descriptor distance (0 = identical
            histograms, 1 = disjoint) plus the turn cost (at most ``turn_cost``).
        spacing: float64 arc length between neighbouring start samples (start pixels).
    """

    start: np.ndarray
    end: np.ndarray
    cost: np.ndarray
    spacing: float

    def __len__(self) -> int:
        return len(self.start)


def _empty() -> ContourMatches:
    return ContourMatches(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0), 0.0)


def _outline_samples(mask: np.ndarray, count: int) -> tuple[np.ndarray, float]:
    """``count`` points equally spaced along the largest outer contour (OpenCV pixel coordinates)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return np.zeros((0, 2)), 0.0
    c = max(contours, key=cv2.contourArea).reshape(-1, 2).astype(np.float64)
    closed = np.vstack([c, c[:1]])
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(closed, axis=0), axis=1))])
    if arc[-1] <= 0:
        return np.zeros((0, 2)), 0.0
    t = np.linspace(0.0, arc[-1], count, endpoint=False)
    pts = np.stack([np.interp(t, arc, closed[:, 0]), np.interp(t, arc, closed[:, 1])], axis=1)
    return pts, arc[-1] / count


def _pixel_graph(mask: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """8-connected graph of the mask pixels: adjacency (edge lengths), node index per pixel, node (x, y)."""
    h, w = mask.shape
    index = np.full((h, w), -1, np.int64)
    rows, cols = np.nonzero(mask)
    index[rows, cols] = np.arange(len(rows))
    src, dst, length = [], [], []
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        a = index[0:h - dr, max(0, -dc):w - max(0, dc)]
        b = index[dr:h, max(0, dc):w - max(0, -dc)]
        ok = (a >= 0) & (b >= 0)
        src.append(a[ok])
        dst.append(b[ok])
        length.append(np.full(int(ok.sum()), np.hypot(dr, dc)))
    n = len(rows)
    graph = sp.csr_matrix((np.concatenate(length), (np.concatenate(src), np.concatenate(dst))), shape=(n, n))
    return graph, index, np.stack([cols, rows], axis=1).astype(np.float64)


def idsc_descriptors(mask: np.ndarray, points: np.ndarray, distance_bins: int = 8, angle_bins: int = 8,
                     lookahead: float = 4.0) -> np.ndarray:
    """Inner-distance shape context of outline points.

    Args:
        mask: bool [H, W] the shape.
        points: float [N, 2] outline points in OpenCV pixel coordinates (centres at integers),
            ordered along the outline (the tangent is taken from the neighbours).
        distance_bins, angle_bins: histogram size.
        lookahead: pixels along each shortest path at which its direction is taken.

    Returns:
        float64 [N, distance_bins * angle_bins] histograms, each summing to 1.
    """
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    graph, index, coords = _pixel_graph(grown)
    h, w = grown.shape
    px = np.clip(np.round(points).astype(np.int64), 0, [w - 1, h - 1])
    source = index[px[:, 1], px[:, 0]]
    n = len(points)
    dist, pred = dijkstra(graph, directed=False, indices=source, return_predecessors=True)
    inner = dist[:, source]
    # Walk every target back along its shortest-path tree to the last node still ``lookahead``
    # or more from the source (all pairs at once; stops when no walk moves any more).
    rows = np.arange(n)[:, None]
    node = np.broadcast_to(source[None, :], (n, n)).copy()
    for _ in range(pred.shape[1]):
        up = pred[rows, node]
        step = (up >= 0) & (dist[rows, np.maximum(up, 0)] >= lookahead)
        if not step.any():
            break
        node = np.where(step, up, node)
    direction = coords[node] - coords[source][:, None, :]
    tangent = np.roll(points, -2, axis=0) - np.roll(points, 2, axis=0)
    angle = (np.arctan2(direction[..., 1], direction[..., 0])
             - np.arctan2(tangent[:, 1], tangent[:, 0])[:, None]) % (2 * np.pi)
    finite = np.isfinite(inner) & ~np.eye(n, dtype=bool)
    scale = float(inner[finite].mean()) if finite.any() else 1.0
    log_d = np.log(np.maximum(inner / scale, 1e-3))
    edges = np.linspace(np.log(0.125), np.log(2.5), distance_bins + 1)
    d_bin = np.clip(np.digitize(log_d, edges) - 1, 0, distance_bins - 1)
    a_bin = np.minimum((angle / (2 * np.pi) * angle_bins).astype(np.int64), angle_bins - 1)
    hist = np.zeros((n, distance_bins * angle_bins))
    r, c = np.nonzero(finite)
    np.add.at(hist, (r, d_bin[r, c] * angle_bins + a_bin[r, c]), 1.0)
    return hist / np.maximum(hist.sum(axis=1, keepdims=True), 1e-12)


def chi2_costs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float64 [N, M] chi-square distances between histograms a [N, B] and b [M, B] (0..1)."""
    s = a[:, None, :] + b[None, :, :]
    d = (a[:, None, :] - b[None, :, :]) ** 2
    return 0.5 * np.where(s > 0, d / np.maximum(s, 1e-12), 0.0).sum(axis=2)


def _dp_rows(cost: np.ndarray, skip: float) -> np.ndarray:
    """DP tables [N + 1, O, M + 1] of order-preserving matching for a batch of cost matrices [O, N, M]."""
    o, n, m = cost.shape
    k = np.arange(m + 1)
    table = np.empty((n + 1, o, m + 1))
    table[0] = skip * k
    for i in range(1, n + 1):
        prev = table[i - 1]
        a = np.empty((o, m + 1))
        a[:, 0] = skip * i
        a[:, 1:] = np.minimum(prev[:, :-1] + cost[:, i - 1], prev[:, 1:] + skip)
        # D[i, j] = min_k<=j (a[k] + skip * (j - k)): skipping end points along the row.
        table[i] = skip * k + np.minimum.accumulate(a - skip * k, axis=1)
    return table


def match_outlines(cost: np.ndarray, skip: float = 0.3) -> tuple[np.ndarray, float]:
    """Order-preserving cyclic matching of two closed outlines.

    Args:
        cost: float [N, M] matching cost of start point i with end point j.
        skip: cost of leaving a point of either outline unmatched.

    Returns:
        int64 [K, 2] matched (i, j) index pairs in start order, and the total cost.
    """
    n, m = cost.shape
    offsets = np.arange(m)
    batch = np.stack([np.roll(cost, -off, axis=1) for off in offsets])
    table = _dp_rows(batch, skip)
    best = int(np.argmin(table[n, :, m]))
    d, c, off = table[:, best, :], batch[best], int(offsets[best])
    i, j, pairs = n, m, []
    while i > 0 and j > 0:
        if np.isclose(d[i, j], d[i - 1, j - 1] + c[i - 1, j - 1]):
            pairs.append((i - 1, (j - 1 + off) % m))
            i, j = i - 1, j - 1
        elif np.isclose(d[i, j], d[i - 1, j] + skip):
            i -= 1
        else:
            j -= 1
    return np.asarray(pairs[::-1], dtype=np.int64).reshape(-1, 2), float(table[n, best, m])


def _tangent_angles(points: np.ndarray) -> np.ndarray:
    t = np.roll(points, -2, axis=0) - np.roll(points, 2, axis=0)
    return np.arctan2(t[:, 1], t[:, 0])


def contour_correspondences(start_mask: np.ndarray, end_mask: np.ndarray, samples: int = 100, side: int = 110,
                            skip: float = 0.3, rotation_prior: float = 0.0, turn_cost: float = 0.1,
                            max_turn_deg: float = 90.0) -> ContourMatches:
    """Outline correspondences of two object masks by IDSC + order-preserving DP (module docstring).

    Args:
        start_mask, end_mask: bool [H, W] object masks (sizes may differ).
        samples: outline points per mask.
        side: the larger side of either object's bounding box is brought to about this many
            pixels for the descriptors (inner distances cost grows with the pixel count).
        skip: cost of an unmatched point (chi-square units).
        rotation_prior: expected rotation of the object, radians (image axes).
        turn_cost: cost of a pair whose outline tangents turned by 180 degrees more than
            ``rotation_prior`` (scaled by (1 - cos(turn)) / 2).
        max_turn_deg: a matching whose mean tangent turn (about ``rotation_prior``) exceeds
            this is refused.

    Returns:
        ``ContourMatches`` in each mask's own pixels; empty when a mask is empty, has too
        few outline points, or the matching was refused.
    """
    if not np.any(start_mask) or not np.any(end_mask):
        return _empty()

    def extent(m):
        r, c = np.nonzero(m)
        return max(np.ptp(r), np.ptp(c)) + 1

    k = min(1.0, side / max(extent(start_mask), extent(end_mask)))
    small = []
    for m in (start_mask, end_mask):
        s = cv2.resize(m.astype(np.float32), None, fx=k, fy=k, interpolation=cv2.INTER_AREA) >= 0.5
        small.append(s if s.any() else cv2.resize(m.astype(np.uint8), None, fx=k, fy=k,
                                                  interpolation=cv2.INTER_NEAREST).astype(bool))
    (p_s, spacing), (p_e, _) = _outline_samples(small[0], samples), _outline_samples(small[1], samples)
    if len(p_s) < 8 or len(p_e) < 8:
        return _empty()
    cost = chi2_costs(idsc_descriptors(small[0], p_s), idsc_descriptors(small[1], p_e))
    # IDSC ignores orientation, so an outline can match upside down; the outline's turn
    # away from the expected rotation costs a little (limbs may still swing round).
    turn = _tangent_angles(p_e)[None, :] - _tangent_angles(p_s)[:, None] - rotation_prior
    cost = cost + turn_cost * 0.5 * (1.0 - np.cos(turn))
    pairs, _ = match_outlines(cost, skip)
    if not len(pairs):
        return _empty()
    i, j = pairs[:, 0], pairs[:, 1]
    mean_turn = np.angle(np.exp(1j * turn[i, j]).mean())
    if abs(mean_turn) > np.deg2rad(max_turn_deg):
        return _empty()  # the outline as a whole turned over: not a correspondence to trust
    # OpenCV small-image coordinates -> our full-size pixel coordinates (centres at +0.5).
    return ContourMatches(start=(p_s[i] + 0.5) / k, end=(p_e[j] + 0.5) / k, cost=cost[i, j], spacing=spacing / k)
