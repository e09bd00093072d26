"""Drag arrows and pins for the one-image ``drag`` motion source: coordinates, gestures, list handling.

Plain Python (no ``bpy`` import), so the maths is testable anywhere; the
operators in ``addon.operators.drags`` feed it Blender's regions and events.

Coordinate frames:

* **image pixels** (u, v): pixels of the input image as given, origin at the
  top-left corner, u right, v down, floats. This is what a job's
  ``motion.drags`` ([u0, v0, u1, v1]) and ``motion.pins`` ([u, v]) hold
  (contract: backend.single_settings).
* **view** (x, y): the Image Editor's ``View2D`` space. Blender normalises it
  to the image: (0, 0) is the image's bottom-left corner and (1, 1) its
  top-right, whatever the image's size (``image_main_region_set_view2d`` in
  ``space_image.cc`` divides the visible rectangle by the image size).
  ``region.view2d.region_to_view(x, y)`` maps region pixels (origin
  bottom-left of the region) into it. Annotation strokes drawn in the Image
  Editor with placement "Image" store their points in this space; with
  placement "View" they store percentages (0..100) of the region's size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

#: A press and release closer than this many screen pixels is a click (a pin), not a drag.
CLICK_TOLERANCE_PX = 4.0
#: An annotation stroke whose points stay within this many image pixels of its start is a pin.
PIN_STROKE_EXTENT_PX = 6.0
#: The backend's limits (backend.single_settings MAX_DRAGS / MAX_PINS).
MAX_DRAGS = 32
MAX_PINS = 64

KIND_DRAG = "DRAG"
KIND_PIN = "PIN"


def view_to_image_px(x: float, y: float, width: int, height: int) -> tuple[float, float]:
    """Image Editor view coordinates -> image pixels (u right, v down, origin top-left).

    Args:
        x, y: ``View2D`` coordinates (0..1 across the image, origin bottom-left).
        width, height: the image's size in pixels (``Image.size``).

    Returns:
        (u, v) floats; outside 0..width / 0..height when the point is off the image.
    """
    return float(x) * width, (1.0 - float(y)) * height


def image_px_to_view(u: float, v: float, width: int, height: int) -> tuple[float, float]:
    """Inverse of :func:`view_to_image_px`."""
    return float(u) / width, 1.0 - float(v) / height


def region_to_image_px(view2d, region_x: float, region_y: float, width: int, height: int) -> tuple[float, float]:
    """Region pixels of the Image Editor's main region -> image pixels.

    Args:
        view2d: the region's ``View2D`` (anything with ``region_to_view(x, y)``).
        region_x, region_y: pixels from the region's bottom-left corner
            (``event.mouse_region_x`` / ``_y`` of that region).
        width, height: the image's size in pixels.
    """
    x, y = view2d.region_to_view(region_x, region_y)
    return view_to_image_px(x, y, width, height)


def image_px_to_region(view2d, u: float, v: float, width: int, height: int) -> tuple[float, float]:
    """Image pixels -> region pixels (for drawing); points off the region are not clipped."""
    x, y = image_px_to_view(u, v, width, height)
    return tuple(view2d.view_to_region(x, y, clip=False))


def inside_image(u: float, v: float, width: int, height: int) -> bool:
    """True when pixel coordinate (u, v) lies on the image (0 <= u <= width, 0 <= v <= height)."""
    return 0.0 <= u <= width and 0.0 <= v <= height


def classify_gesture(press_region, release_region, press_px, release_px,
                     click_tolerance: float = CLICK_TOLERANCE_PX) -> tuple[str, tuple[float, ...]]:
    """A mouse press + release in the Image Editor -> a pin or a drag arrow.

    The press/release distance is judged in screen (region) pixels, so the
    same hand movement is a click at every zoom level.

    Args:
        press_region, release_region: (x, y) region pixels of the press and release.
        press_px, release_px: the same two points in image pixels.
        click_tolerance: screen pixels under which the gesture is a click.

    Returns:
        ("PIN", (u, v)) at the press, or ("DRAG", (u0, v0, u1, v1)) from press to release.
    """
    moved = math.hypot(release_region[0] - press_region[0], release_region[1] - press_region[1])
    if moved < click_tolerance:
        return KIND_PIN, (float(press_px[0]), float(press_px[1]))
    return KIND_DRAG, (float(press_px[0]), float(press_px[1]), float(release_px[0]), float(release_px[1]))


def strokes_to_drags(strokes: Iterable[Sequence[Sequence[float]]], to_image_px: Callable[[float, float], tuple],
                     width: int, height: int, pin_extent: float = PIN_STROKE_EXTENT_PX):
    """Annotation strokes -> drag arrows and pins in image pixels.

    Each stroke is one gesture: its first point is where the arrow starts and
    its last point where it ends (the path in between is ignored); a stroke
    that never leaves ``pin_extent`` image pixels around its start (a dot or a
    small scribble) is a pin at its mean point.

    Args:
        strokes: per stroke, its points' (x, y[, z]) coordinates as stored.
        to_image_px: maps one stored (x, y) to image pixels (see the module
            doc for the two annotation placements).
        width, height: image size in pixels.
        pin_extent: image pixels.

    Returns:
        (drags, pins, skipped): drags [[u0, v0, u1, v1], ...], pins [[u, v], ...]
        and how many strokes were skipped (empty, or starting or ending off the image).
    """
    drags, pins, skipped = [], [], 0
    for stroke in strokes:
        pts = [to_image_px(float(p[0]), float(p[1])) for p in stroke]
        if not pts:
            skipped += 1
            continue
        u0, v0 = pts[0]
        extent = max(math.hypot(u - u0, v - v0) for u, v in pts)
        if extent < pin_extent:
            u = sum(p[0] for p in pts) / len(pts)
            v = sum(p[1] for p in pts) / len(pts)
            if inside_image(u, v, width, height):
                pins.append([u, v])
            else:
                skipped += 1
            continue
        u1, v1 = pts[-1]
        if inside_image(u0, v0, width, height) and inside_image(u1, v1, width, height):
            drags.append([u0, v0, u1, v1])
        else:
            skipped += 1
    return drags, pins, skipped


# -- the panel's list (a CollectionProperty of TWEEN4D_PG_drag) -----------------


def count_kind(items, kind: str) -> int:
    """How many entries of ``items`` are of ``kind`` (DRAG or PIN)."""
    return sum(1 for item in items if item.kind == kind)


def add_entry(items, kind: str, coords: Sequence[float]):
    """Append a drag (u0, v0, u1, v1) or a pin (u, v) to the panel's list.

    Args:
        items: ``Scene.tween4d.drags`` (a CollectionProperty with ``add()``).
        kind: "DRAG" or "PIN".
        coords: image pixels.

    Returns:
        The new item.

    Raises:
        ValueError: unknown kind, wrong number of coordinates, or the list is
            full (the backend takes at most MAX_DRAGS drags and MAX_PINS pins).
    """
    if kind not in (KIND_DRAG, KIND_PIN):
        raise ValueError(f"kind must be DRAG or PIN, got {kind!r}")
    want = 4 if kind == KIND_DRAG else 2
    if len(coords) != want:
        raise ValueError(f"a {kind.lower()} needs {want} coordinates, got {len(coords)}")
    limit = MAX_DRAGS if kind == KIND_DRAG else MAX_PINS
    if count_kind(items, kind) >= limit:
        raise ValueError(f"at most {limit} {kind.lower()}s are allowed; remove some first")
    item = items.add()
    item.kind = kind
    item.start = (coords[0], coords[1])
    item.end = (coords[2], coords[3]) if kind == KIND_DRAG else (coords[0], coords[1])
    return item


def motion_lists(items) -> tuple[list, list]:
    """The panel's list as a job's ``motion.drags`` and ``motion.pins`` (image pixels, floats)."""
    drags = [[float(i.start[0]), float(i.start[1]), float(i.end[0]), float(i.end[1])]
             for i in items if i.kind == KIND_DRAG]
    pins = [[float(i.start[0]), float(i.start[1])] for i in items if i.kind == KIND_PIN]
    return drags, pins


def arrow_segments(drags, pins, to_region: Callable[[float, float], tuple], head_px: float = 10.0,
                   pin_px: float = 6.0) -> list[tuple[float, float]]:
    """Line-segment end points (region pixels) that draw the arrows and pins.

    Each drag is a shaft from start to end plus two head strokes at the end,
    ``head_px`` long at +-25 degrees; each pin is an X of half-size ``pin_px``.

    Args:
        drags: [[u0, v0, u1, v1], ...] image pixels.
        pins: [[u, v], ...] image pixels.
        to_region: image pixels -> region pixels.

    Returns:
        Flat list of points, two per segment (``batch_for_shader(..., "LINES", ...)``).
    """
    out = []
    for u0, v0, u1, v1 in drags:
        a, b = to_region(u0, v0), to_region(u1, v1)
        out += [a, b]
        angle = math.atan2(b[1] - a[1], b[0] - a[0])
        for side in (-1.0, 1.0):
            t = angle + math.pi + side * math.radians(25.0)
            out += [b, (b[0] + head_px * math.cos(t), b[1] + head_px * math.sin(t))]
    for u, v in pins:
        c = to_region(u, v)
        out += [(c[0] - pin_px, c[1] - pin_px), (c[0] + pin_px, c[1] + pin_px),
                (c[0] - pin_px, c[1] + pin_px), (c[0] + pin_px, c[1] - pin_px)]
    return out
