"""Depth engine "popup" (weight-free): a scene as a ground plane, a backdrop and inflated foreground layers.

The scene model of "Tour into the Picture" (Horry, Anjyo and Arai, SIGGRAPH
1997, Sec. 4: a floor and a back wall meeting at a line, foreground objects as
vertical billboards) and "Automatic Photo Pop-up" (Hoiem, Efros and Hebert,
SIGGRAPH 2005, Sec. 5: ground, vertical parts standing on their ground
contact, sky/backdrop), with the billboards inflated like the object mode:

* camera: a pinhole with a 50 mm-equivalent focal length (36 mm sensor on the
  longer side), principal point at the image centre, pitched down so the
  ground's vanishing line lies ``VANISH_GAP`` of the image height above the
  contact line (a gentle ground: the image's bottom row is about three times
  nearer than the contact line, instead of a grazing plane whose
  texture would smear when the camera moves);
* the **contact line** (the row where the ground meets the backdrop; the
  ``horizon`` setting, a fraction of the height from the top) is estimated
  from the image as the strongest horizontal edge of the background, weighted
  by a prior around 40 % of the height and kept above the layers' bases;
* ground: the plane z = const below the contact line; backdrop: the vertical
  plane facing the camera through the contact line; the camera height is set
  so the nearest layer's base (or the image's bottom row) lies ``NEAR_M``
  metres away;
* each foreground layer stands on the ground at its lowest pixel (a vertical
  plane parallel to the backdrop) and is inflated toward the camera with a
  circular cross-section of the layer's width (distance transform), as the
  object mode inflates a silhouette.

Depth is metres along the viewing axis. The world is then shifted so the
scene's centre (the optical axis at ``scene_centre_depth``) is the origin.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ...asset import Camera
from ...types import ImageLayers, InputView, LayeredDepth, pixel_centres

FOCAL_MM = 50.0
SENSOR_MM = 36.0
NEAR_M = 3.0
VANISH_GAP = 0.5
HORIZON_PRIOR = 0.4
#: Padding of the background canvas (fraction of width, height) for camera moves.
PAD_FRACTION = (0.9, 0.45)
#: Layers floating above the contact line stand this fraction of the backdrop's distance away.
FLOAT_FRACTION = 0.85


def scene_focal(width: int, height: int) -> float:
    """Focal length in pixels of the scene camera (50 mm on a 36 mm sensor along the longer side)."""
    return FOCAL_MM / SENSOR_MM * max(width, height)


def estimate_horizon(rgb: np.ndarray, foreground: np.ndarray) -> float:
    """Row (working pixels) where the ground meets the backdrop, from the image.

    Method: the mean absolute vertical Sobel derivative of the blurred
    luminance over background pixels, per row, smoothed over 5 % of the
    height, times a Gaussian prior (centre 40 % of the height, sigma 25 %);
    the argmax within 15..85 % of the height.

    Args:
        rgb: float32 [H, W, 3] sRGB 0..1.
        foreground: bool [H, W] pixels to ignore (foreground layers).

    Returns:
        The row v (float, pixels from the top).
    """
    h = rgb.shape[0]
    grey = cv2.GaussianBlur(cv2.cvtColor(np.asarray(rgb, np.float32), cv2.COLOR_RGB2GRAY), (0, 0), 1.5)
    dy = np.abs(cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3))
    keep = ~np.asarray(foreground, bool)
    rows = (dy * keep).sum(axis=1) / np.maximum(keep.sum(axis=1), 1)
    k = max(1, int(0.05 * h)) | 1
    rows = cv2.GaussianBlur(rows.reshape(-1, 1).astype(np.float32), (1, k), 0).ravel()
    v = np.arange(h) + 0.5
    score = rows * np.exp(-0.5 * ((v / h - HORIZON_PRIOR) / 0.25) ** 2)
    lo, hi = int(0.15 * h), max(int(0.15 * h) + 1, int(0.85 * h))
    return float(v[lo + int(np.argmax(score[lo:hi]))])


def _rays(camera: Camera, uv: np.ndarray) -> np.ndarray:
    """World directions [..., 3] of pixel rays with unit component along the viewing axis."""
    return camera.unproject(uv, np.ones(uv.shape[:-1])) - camera.position


def _plane_depths(rays: np.ndarray, ground_z: float, back_y: float) -> np.ndarray:
    """Depth of the first hit of each ray (camera at the origin) with the ground z = ground_z or backdrop y = back_y."""
    with np.errstate(divide="ignore", invalid="ignore"):
        tg = np.where(rays[..., 2] < -1e-9, ground_z / rays[..., 2], np.inf)
        tb = np.where(rays[..., 1] > 1e-9, back_y / rays[..., 1], np.inf)
    return np.minimum(tg, tb)


def scene_centre_depth(depth: np.ndarray, foreground: np.ndarray) -> float:
    """Depth of the scene's centre (what rigs orbit): the foreground layers' median depth, or
    without layers the harmonic mean of the nearest and farthest depth (the middle in parallax)."""
    if np.asarray(foreground).any():
        return float(np.median(depth[foreground]))
    near, far = float(np.min(depth)), float(np.max(depth))
    return 2.0 / (1.0 / near + 1.0 / far)


def inflation_relief(mask: np.ndarray) -> np.ndarray:
    """float32 [H, W] relief in pixels of a circular cross-section over each part of ``mask``.

    h = sqrt(d (2R - d)) with d the distance to the part's outline and R its
    largest d (a half-cylinder of the part's width; 0 outside).
    """
    mask = np.asarray(mask, np.uint8)
    d = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
    r = float(d.max()) if mask.any() else 0.0
    return np.sqrt(np.maximum(d * (2.0 * r - d), 0.0)).astype(np.float32)


def popup_depth(layers: ImageLayers, image_size: tuple[int, int], inflation: float = 0.7,
                horizon: float | None = None) -> LayeredDepth:
    """Layered depth of a scene by the pop-up model (module docstring).

    Args:
        layers: the scene's ``ImageLayers`` (working resolution).
        image_size: (width, height) of the input image (the stored camera's size).
        inflation: relief of the foreground layers relative to a round cross-section.
        horizon: contact-line row as a fraction of the height from the top, None = estimated.

    Returns:
        ``LayeredDepth`` with the background over the padded canvas, the
        ground mask, the layers as given, ``method`` "popup".
    """
    w, h = layers.size
    labels = layers.labels
    fgmask = labels > 0
    f = scene_focal(w, h)
    cx, cy = w / 2.0, h / 2.0
    bases = []
    for k in range(1, int(labels.max()) + 1):
        rows, cols = np.nonzero(labels == k)
        if len(rows):
            low = rows >= rows.max() - max(1, int(0.02 * h))
            bases.append((k, float(rows.max() + 1), float(cols[low].mean() + 0.5)))
    v_c = horizon * h if horizon is not None else estimate_horizon(layers.fg.rgb, fgmask)
    v_c = float(np.clip(v_c, 0.05 * h, 0.95 * h))
    if horizon is None and bases:
        # objects stand on the ground, below the contact line
        v_c = min(v_c, max(0.05 * h, min(b[1] for b in bases) - 0.03 * h))
    v_vanish = v_c - VANISH_GAP * h
    pitch = math.atan2(cy - v_vanish, f)
    m = np.eye(4)
    c, s = math.cos(pitch), math.sin(pitch)
    rx = np.array([[1, 0, 0], [0, c, s], [0, -s, c]])  # rotation about X by -pitch (looks down)
    m[:3, :3] = rx @ np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
    cam0 = Camera(w, h, f, f, cx, cy, m)

    v_ref = max([b[1] for b in bases if b[1] > v_c + 1], default=float(h))
    ray_ref = _rays(cam0, np.array([cx, v_ref]))
    ground_z = NEAR_M * ray_ref[2]  # the base of the nearest layer lies NEAR_M away
    ray_c = _rays(cam0, np.array([cx, v_c]))
    back_y = (ground_z / ray_c[2]) * ray_c[1]

    px, py = 4 * int(math.ceil(PAD_FRACTION[0] * w / 4)), 4 * int(math.ceil(PAD_FRACTION[1] * h / 4))
    canvas_uv = pixel_centres(w + 2 * px, h + 2 * py, 1.0, (-px, -py))
    background = _plane_depths(_rays(cam0, canvas_uv), ground_z, back_y).astype(np.float32)
    back = background[py:py + h, px:px + w]
    uv = canvas_uv[py:py + h, px:px + w]
    rays = _rays(cam0, uv)
    ground = rays[..., 2] < -1e-9
    ground &= (ground_z / np.where(ground, rays[..., 2], -1.0)) <= back + 1e-6

    depth = back.copy()
    for k, vb, ub in bases:
        part = labels == k
        if vb > v_c + 1:
            r = _rays(cam0, np.array([ub, vb]))
            plane_y = (ground_z / r[2]) * r[1]
        else:
            plane_y = FLOAT_FRACTION * back_y
        z = plane_y / np.maximum(rays[..., 1], 1e-9)
        relief_m = inflation * inflation_relief(part) * z / f
        depth[part] = np.maximum(z - relief_m, 0.5 * z)[part]

    centre_depth = scene_centre_depth(depth, fgmask)
    centre_cam = cam0.unproject(np.array([cx, cy]), np.array(centre_depth))
    m = m.copy()
    m[:3, 3] = -centre_cam
    cam = Camera(w, h, f, f, cx, cy, m)
    view = InputView(camera_work=cam, camera_image=cam.for_size(int(image_size[0]), int(image_size[1])),
                     plane_depth=centre_depth, bbox=(0.0, 0.0, float(w), float(h)))
    back_depth = np.where(fgmask, back, np.nan).astype(np.float32)
    return LayeredDepth(view=view, depth=depth.astype(np.float32), occluder=fgmask, back_depth=back_depth,
                        background=background, pad=(px, py), near=float(depth.min()), far=float(depth.max()),
                        centre=np.zeros(3), horizon_v=v_c, method="popup", labels=labels.astype(np.int32),
                        ground=ground)


__all__ = ["FOCAL_MM", "NEAR_M", "estimate_horizon", "inflation_relief", "popup_depth", "scene_centre_depth", "scene_focal"]
