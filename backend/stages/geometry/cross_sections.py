"""A cross-section per silhouette part: round limbs and blobs, bases that keep their width in depth.

Each part of ``parts.segment_parts`` gets a kind (``describe_parts``):

* ``round`` -- the union of the medial balls (``parts.ball_union``): a tube
  as deep as it is wide along a limb, a sphere on a round blob (Teddy,
  Igarashi et al. 1999, Sec. 4.2).
* ``revolution`` -- the base: a band of rows at the bottom of the object much
  wider than what stands on it (``find_base``). Objects stand on rotationally
  symmetric bases (the disc foot of a lamp, a turntable, a flower pot), so the
  band is taken as a cylinder about the world's vertical axis: a generalised
  cylinder with a straight axis (3-Sweep, Chen et al., SIGGRAPH Asia 2013,
  Sec. 4, with the axis fixed instead of swept). Its radius r is the band's
  half-width; the sagitta of its bottom arc gives the elevation e under which
  the camera sees it (v(0) - v(0.8 r) = 0.4 r sin e), its half-height
  B = r sin(e) + (t / 2) cos(e) below the widest row the thickness t. A flat
  bottom, a small e or a thick base is seen edge-on: a solid of revolution
  whose radius per row is the row's half-width (a slab, a pot).
  Each pixel's front and back depths are the ray's entry and exit of that
  solid (``disc_interval``). A disc foot then keeps its width in depth instead
  of becoming a blade.

The base also fixes the ground: with the camera looking down by e_cam (e less
the angle of the ray to the base below the optical axis), a point at height H
above the base stands H sin(e_cam) nearer to the camera than the base's
centre, so every other part's mid-surface is sheared by (v - v_base)
tan(e_cam): upright parts lean toward the camera in camera space and stand
upright in the world. Without a base, e_cam = 0.

The base's rows blend into the round profile over ``BLEND_SIGMA`` analysis
pixels, so the surface has no cliff where a pole meets its foot.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from .parts import MedialBalls, PartMap, ball_union

ROUND, REVOLUTION = 0, 1
BASE_MIN_ASPECT = 1.6        # width / height of the base band (a thin disc seen from up to ~35 deg above)
BASE_STEP = 0.5              # rows narrower than this share of the band's widest row end the band
BASE_MIN_ABOVE = 0.2         # share of the object's height that must stand above the band
BASE_MAX_ABOVE_WIDTH = 0.5   # median pixel count of the rows above the band, over the band's width
BASE_MAX_WIDTH = 1.2         # band width over the object's height
MAX_DISC_THICKNESS = 0.6     # thicker bases (over their radius) are taken edge-on
FLAT_BOTTOM = 0.6            # lowest row at least this share of the widest: a flat bottom, seen edge-on
MIN_ELEVATION_DEG = 5.0      # below this the base is taken edge-on (a slab as thick as it looks)
MAX_ELEVATION_DEG = 35.0
BLEND_SIGMA = 2.0            # analysis pixels: width of the blend between part kinds


@dataclass
class PartInfo:
    """2D description of one part (analysis raster measurements in caller pixels).

    Attributes:
        index: part index in the ``PartMap``.
        area: pixels (caller units).
        centroid: (u, v) pixels.
        axes: (a, b) semi-axes of the moment-equivalent ellipse, a >= b, pixels.
        angle_deg: direction of the major axis from the image horizontal, degrees in (-90, 90].
        bbox: (u0, v0, u1, v1) pixels.
        reaches_bottom: the part touches the object's lowest row.
        kind: ``ROUND`` or ``REVOLUTION``.
    """

    index: int
    area: float
    centroid: tuple[float, float]
    axes: tuple[float, float]
    angle_deg: float
    bbox: tuple[float, float, float, float]
    reaches_bottom: bool = False
    kind: int = ROUND


def describe_parts(parts: PartMap) -> list[PartInfo]:
    """Moments and bounding boxes of every part; a part whose pixels lie mostly in the base band
    (``find_base``) has kind ``REVOLUTION``, the others ``ROUND``.

    Args:
        parts: the silhouette's parts.

    Returns:
        One ``PartInfo`` per part, in index order.
    """
    s = parts.scale
    infos = []
    band = find_base(parts)
    rows_all = np.nonzero((parts.labels >= 0).any(axis=1))[0]
    bottom = rows_all.max() if len(rows_all) else 0
    for k in range(parts.count):
        m = (parts.labels == k).astype(np.uint8)
        mom = cv2.moments(m, binaryImage=True)
        area = max(mom["m00"], 1e-9)
        cu, cv = mom["m10"] / area, mom["m01"] / area
        cov = np.array([[mom["mu20"], mom["mu11"]], [mom["mu11"], mom["mu02"]]]) / area
        w, vec = np.linalg.eigh(cov)
        a, b = 2.0 * np.sqrt(max(w[1], 0.0)), 2.0 * np.sqrt(max(w[0], 0.0))
        major = vec[:, 1]
        angle = float(np.degrees(np.arctan2(-major[1], major[0])))
        angle = angle - 180.0 if angle > 90.0 else angle + 180.0 if angle <= -90.0 else angle
        rr, cc = np.nonzero(m)
        bbox = (cc.min() / s, rr.min() / s, (cc.max() + 1) / s, (rr.max() + 1) / s)
        infos.append(PartInfo(index=k, area=area / s ** 2, centroid=((cu + 0.5) / s, (cv + 0.5) / s),
                              axes=(a / s, b / s), angle_deg=angle, bbox=bbox,
                              reaches_bottom=bool(rr.max() >= bottom - 1)))
        if band is not None and np.mean((rr >= band[0]) & (rr <= band[1])) > 0.5:
            infos[-1].kind = REVOLUTION
    return infos


@dataclass
class Ground:
    """The base disc and the camera elevation it implies (caller pixels).

    Attributes:
        elevation: e, radians >= 0 (camera looking down by e).
        axis_u: u of the disc's vertical axis.
        centre_v: v of the disc's centre in the image.
        radius: r, the disc's radius.
        thickness: t, the disc's thickness.
        camera_elevation: the camera's own elevation: e less the angle of the
            ray to the disc's centre below the optical axis (perspective);
            upright parts are sheared by its tangent.
        top_v, bottom_v: the rows the base covers: the band, and above it the far
            half of the disc's ellipse (centre_v - half-height) when e > 0.
        rows_v: float64 [R] v of the band's rows (edge-on bases, e = 0).
        rows_radius: float64 [R] each row's half-width: the radius profile of
            an edge-on solid of revolution (a pot, a vase, a slab).
    """

    elevation: float = 0.0
    axis_u: float = 0.0
    centre_v: float = 0.0
    radius: float = 0.0
    thickness: float = 0.0
    camera_elevation: float = 0.0
    top_v: float = 0.0
    bottom_v: float = 0.0
    rows_v: np.ndarray | None = None
    rows_radius: np.ndarray | None = None


def find_base(parts: PartMap) -> tuple[int, int] | None:
    """The rows of a base band: the bottom of the object, much wider than what stands on it.

    From the lowest row up, rows belong to the band while their extent (first
    to last object pixel) is at least ``BASE_STEP`` of the band's widest row;
    the band is a base when it is at least ``BASE_MIN_ASPECT`` times wider than
    tall, the object goes on above it for at least ``BASE_MIN_ABOVE`` of its
    height, and the rows above are narrow (median pixel count at most
    ``BASE_MAX_ABOVE_WIDTH`` of the band's width): a lamp's foot under its pole, a
    robot arm's turntable; not a sitting animal's body under its head. A band
    more than ``BASE_MAX_WIDTH`` times wider than the object is tall is a
    rail or a shelf, not a foot.

    Args:
        parts: the silhouette's parts (its ``labels >= 0`` is the silhouette).

    Returns:
        (first row, last row) of the band on the analysis raster, or None.
    """
    sil = parts.labels >= 0
    rows = np.nonzero(sil.any(axis=1))[0]
    if len(rows) < 4:
        return None
    ext = np.zeros(sil.shape[0])
    for r in rows:
        cols = np.nonzero(sil[r])[0]
        ext[r] = cols.max() - cols.min() + 1
    top, bottom = rows.min(), rows.max()
    widest = 0.0
    r = bottom
    while r >= top and ext[r] >= BASE_STEP * max(widest, ext[r]):
        widest = max(widest, ext[r])
        r -= 1
    first = r + 1
    height = bottom - first + 1
    if r < top or (first - top) < BASE_MIN_ABOVE * (bottom - top + 1) or widest < BASE_MIN_ASPECT * height:
        return None
    # Pixels, not extent: a hook hanging off a jib makes a row wide but not full.
    above = sil[top:first].sum(axis=1)
    if np.median(above[above > 0]) > BASE_MAX_ABOVE_WIDTH * widest:
        return None  # what stands on the band is about as wide: a body, not a foot
    if widest > BASE_MAX_WIDTH * (bottom - top + 1):
        return None  # far wider than the object is tall: a rail or a shelf, not a round foot
    return int(first), int(bottom)


def estimate_ground(parts: PartMap, focal_px: float | None = None, cy: float | None = None) -> Ground:
    """Disc radius, thickness and camera elevation from the base band's silhouette (see the module docstring).

    The elevation comes from the sagitta of the band's bottom arc, the
    thickness from its half-height below the widest row; a flat bottom
    (lowest row at least ``FLAT_BOTTOM`` of the widest, or e below
    ``MIN_ELEVATION_DEG``) is a disc, pot or slab seen edge-on
    (e = 0), whose per-row half-widths are its radius profile; so is a base
    whose thickness would exceed ``MAX_DISC_THICKNESS`` of its radius (a pot:
    sloping sides and perspective curve its bottom, it is no thin disc).

    Args:
        parts: the silhouette's parts.
        focal_px: the camera's vertical focal length in the caller's pixels;
            with ``cy`` it corrects the elevation for perspective (None: orthographic).
        cy: the principal point's v.

    Returns:
        A ``Ground`` in the caller's pixels (elevation 0 and radius 0 without a base).
    """
    s = parts.scale
    band = find_base(parts)
    if band is None:
        return Ground()
    m = np.zeros(parts.labels.shape, bool)
    m[band[0]:band[1] + 1] = parts.labels[band[0]:band[1] + 1] >= 0
    rows = np.nonzero(m.any(axis=1))[0]
    lo = np.array([np.nonzero(m[r])[0].min() for r in rows], np.float64)
    hi = np.array([np.nonzero(m[r])[0].max() + 1 for r in rows], np.float64)
    half = (hi - lo) / 2.0
    wide = half >= 0.8 * half.max()
    axis_u = float(((lo + hi) / 2.0)[wide].mean()) / s
    radius = float(half.max()) / s
    # The disc's centre is its widest row (what stands on it may hide the upper half of the ellipse), its
    # half-height the distance from there to the bottom.
    widest = half >= 0.95 * half.max()
    centre_v = float(rows[widest].mean() + 0.5) / s
    half_height = max((band[1] + 1) / s - centre_v, 0.5 / s)
    # The elevation from the sagitta of the bottom arc: a disc of radius r seen from above by e has the bottom
    # outline v(x) = c + r sin(e) sqrt(1 - x^2 / r^2) + t cos(e) / 2, so v(0) - v(0.8 r) = 0.4 r sin(e).
    # What stands on a base hides its top, never its bottom.
    cols = np.nonzero(m.any(axis=0))[0]
    bottom_of = np.array([np.nonzero(m[:, c])[0].max() + 1 for c in cols], np.float64) / s
    x = (cols + 0.5) / s - axis_u
    centre_sel = np.abs(x) <= 0.1 * radius
    side_sel = np.abs(np.abs(x) - 0.8 * radius) <= 0.1 * radius
    sag = bottom_of[centre_sel].mean() - bottom_of[side_sel].mean() if centre_sel.any() and side_sel.any() else 0.0
    e = float(np.arcsin(np.clip(sag / (0.4 * radius), 0.0, np.sin(np.radians(MAX_ELEVATION_DEG)))))
    flat = half[-1] >= FLAT_BOTTOM * half.max()  # the lowest row is wide: no elliptic arc (a pot's sloping sides)
    if flat or e < np.radians(MIN_ELEVATION_DEG):
        e = 0.0  # a flat bottom: seen edge-on, each row its own radius (a slab, a pot, a drum)
    if e > 0.0:
        thickness = max(2.0 * (half_height - radius * np.sin(e)) / np.cos(e), 1.0 / s)
        if thickness > MAX_DISC_THICKNESS * radius:
            e = 0.0  # a pot or a drum with a curved (perspective) bottom: a solid of revolution seen edge-on
    if e == 0.0:
        thickness = (band[1] + 1 - band[0]) / s
    ray = float(np.arctan2(centre_v - cy, focal_px)) if focal_px and cy is not None else 0.0
    cam_e = float(np.clip(e - ray, -np.radians(MAX_ELEVATION_DEG), np.radians(MAX_ELEVATION_DEG))) if e > 0 else 0.0
    top_v = min(band[0] / s, centre_v - half_height) if e > 0.0 else band[0] / s
    return Ground(elevation=e, axis_u=axis_u, centre_v=centre_v, radius=radius, thickness=thickness,
                  camera_elevation=cam_e, top_v=top_v, bottom_v=(band[1] + 1) / s,
                  rows_v=(rows + 0.5) / s, rows_radius=half / s)


def disc_interval(points: np.ndarray, ground: Ground) -> tuple[np.ndarray, np.ndarray]:
    """Entry and exit depths of the rays through points in the base disc (orthographic, pixels).

    In camera axes (x right, y away from the camera, z up) the disc's axis is
    (0, -sin e, cos e); a point q relative to the disc centre is inside when
    x^2 + (y cos e + z sin e)^2 <= r^2 and |z cos e - y sin e| <= t / 2.
    Seen edge-on (e = 0) r is each row's own half-width (a solid of revolution).

    Args:
        points: float [N, 2] pixels (u, v).
        ground: the base disc.

    Returns:
        (front float64 [N], back float64 [N]) depth offsets in pixels (+ away
        from the camera) relative to the disc centre; front > back where the
        ray passes beside the disc (|x| >= r).
    """
    e, r, t = ground.elevation, ground.radius, ground.thickness
    x = points[:, 0] - ground.axis_u
    z = -(points[:, 1] - ground.centre_v)
    if e == 0.0 and ground.rows_v is not None and len(ground.rows_v):
        r = np.interp(points[:, 1], ground.rows_v, ground.rows_radius)  # edge-on: each row's own radius
    half = np.sqrt(np.maximum(r ** 2 - x ** 2, 0.0))
    ce, se = np.cos(e), np.sin(e)
    front = (-z * se - half) / ce
    back = (-z * se + half) / ce
    if se > 1e-3:
        slab_lo, slab_hi = (z * ce - t / 2.0) / se, (z * ce + t / 2.0) / se
        cyl_lo, cyl_hi = front, back
        front, back = np.maximum(cyl_lo, slab_lo), np.minimum(cyl_hi, slab_hi)
        # Pixels just past the ideal ellipse (outline pixels, meshing): the point of the ray's cylinder chord
        # nearest to the slab, zero thickness.
        off = (front > back) & (half > 0.0)
        near = np.clip((slab_lo + slab_hi) / 2.0, cyl_lo, cyl_hi)
        front[off], back[off] = near[off], near[off] + 1e-9
    miss = half <= 0.0
    front[miss], back[miss] = 1.0, -1.0
    return front, back


@dataclass
class Profile:
    """Depth profile of the surface over the mesh's vertices (caller pixels).

    Attributes:
        half_thickness: float64 [N] >= 0, half the depth extent at each point
            for the part's cross-section (before any inflation factor).
        mid: float64 [N] depth offset of the mid-surface (+ away from the camera).
        label: int32 [N] part index of each point.
        kind: int8 [N] the point's part kind (``ROUND`` / ``REVOLUTION``).
        ground: the base disc and camera elevation (elevation 0 without a base).
    """

    half_thickness: np.ndarray
    mid: np.ndarray
    label: np.ndarray
    kind: np.ndarray
    ground: Ground


def part_profile(points: np.ndarray, parts: PartMap, balls: MedialBalls,
                 infos: list[PartInfo] | None = None, focal_px: float | None = None,
                 cy: float | None = None) -> Profile:
    """Cross-section depths of the surface over points, part by part.

    Args:
        points: float [N, 2] pixel positions inside the silhouette (the mesh's vertices).
        parts: the silhouette's parts (same pixels).
        balls: its medial balls (same pixels).
        infos: ``describe_parts(parts)`` (computed when None).
        focal_px, cy: the camera's vertical focal length and principal point
            (pixels) for the perspective correction of the elevation (``estimate_ground``).

    Returns:
        A ``Profile``: ``ROUND`` parts have the ball-union half-thickness around
        a mid-surface sheared by the camera elevation; the base's rows the
        disc's entry/exit interval (the ball union where the ray passes beside
        it); the two blend over ``BLEND_SIGMA`` analysis pixels.
    """
    pts = np.asarray(points, dtype=np.float64)
    infos = infos if infos is not None else describe_parts(parts)
    round_h, _ = ball_union(pts, balls)
    label = parts.label_at(pts).astype(np.int32)
    if parts.count == 0:
        return Profile(round_h, np.zeros(len(pts)), label, np.zeros(len(pts), np.int8), Ground())
    kinds = np.array([p.kind for p in infos], np.int8)
    ground = estimate_ground(parts, focal_px, cy)
    if ground.radius <= 0.0:
        return Profile(round_h, np.zeros(len(pts)), label, kinds[label], ground)
    shear = (pts[:, 1] - ground.centre_v) * np.tan(ground.camera_elevation)
    front, back = disc_interval(pts, ground)
    hit = back > front
    disc_h = np.where(hit, (back - front) / 2.0, round_h)
    disc_m = np.where(hit, (back + front) / 2.0, shear)
    # Base weight: the base's rows, blended over BLEND_SIGMA analysis pixels (pixels the disc misses there,
    # such as a pole in front of its far half, keep the round profile).
    in_band = np.zeros(parts.labels.shape, np.float32)
    in_band[int(round(ground.top_v * parts.scale)):] = 1.0  # nothing below the base: full weight to the bottom
    in_band = cv2.GaussianBlur(in_band, (0, 0), BLEND_SIGMA)
    coords = np.stack([pts[:, 1] * parts.scale - 0.5, pts[:, 0] * parts.scale - 0.5])
    w = ndimage.map_coordinates(in_band, coords, order=1, mode="nearest")
    height = w * disc_h + (1.0 - w) * round_h
    mid = w * disc_m + (1.0 - w) * shear
    return Profile(height, mid, label, kinds[label], ground)
