"""Drag arrows in image pixels: Image Editor view <-> pixels, gestures, annotation strokes, arrow drawing.

``addon.drags`` imports nothing from Blender, so these run in plain Python;
the operators that feed it regions and events are exercised in Blender by
test_generate_operator (list operators, ``apply_gesture``).
"""

from __future__ import annotations

import math

import pytest


@pytest.fixture
def drags(addon_package):
    from tween4d.addon import drags

    return drags


class Zoomed2D:
    """A View2D-like map for a 40x30 image drawn at 2x zoom with its bottom-left corner at region (100, 50).

    Blender's Image Editor view space spans 0..1 over the image; this is the
    affine map it applies (region = origin + zoom * size * view).
    """

    def __init__(self, width=40, height=30, zoom=2.0, origin=(100.0, 50.0)):
        self.w, self.h, self.zoom, self.origin = width, height, zoom, origin

    def region_to_view(self, x, y):
        return ((x - self.origin[0]) / (self.zoom * self.w), (y - self.origin[1]) / (self.zoom * self.h))

    def view_to_region(self, x, y, clip=True):
        return (self.origin[0] + x * self.zoom * self.w, self.origin[1] + y * self.zoom * self.h)


def test_view_corners_map_to_image_pixel_corners(drags):
    w, h = 40, 30
    assert drags.view_to_image_px(0.0, 1.0, w, h) == (0.0, 0.0)  # top-left of the image
    assert drags.view_to_image_px(1.0, 0.0, w, h) == (40.0, 30.0)  # bottom-right
    assert drags.view_to_image_px(0.5, 0.5, w, h) == (20.0, 15.0)
    for u, v in ((3.25, 7.5), (39.0, 0.5), (-2.0, 31.0)):
        x, y = drags.image_px_to_view(u, v, w, h)
        assert drags.view_to_image_px(x, y, w, h) == pytest.approx((u, v))


def test_region_clicks_land_on_the_pixel_under_the_mouse(drags):
    v2d = Zoomed2D()
    # Region pixel (100 + 2*10.5, 50 + 2*(30 - 4.5)) is image pixel column 10.5, row 4.5 (v down).
    assert drags.region_to_image_px(v2d, 121.0, 101.0, 40, 30) == pytest.approx((10.5, 4.5))
    assert drags.image_px_to_region(v2d, 10.5, 4.5, 40, 30) == pytest.approx((121.0, 101.0))
    assert not drags.inside_image(*drags.region_to_image_px(v2d, 90.0, 60.0, 40, 30), 40, 30)


def test_gestures_short_moves_are_pins_longer_ones_drags(drags):
    assert drags.classify_gesture((10, 10), (12, 11), (3.0, 4.0), (3.5, 4.2)) == ("PIN", (3.0, 4.0))
    kind, coords = drags.classify_gesture((10, 10), (40, 10), (3.0, 4.0), (18.0, 4.0))
    assert kind == "DRAG" and coords == (3.0, 4.0, 18.0, 4.0)
    # the threshold is in screen pixels: at high zoom a tiny image move is still a drag
    assert drags.classify_gesture((0, 0), (30, 0), (5.0, 5.0), (5.4, 5.0))[0] == "DRAG"


def test_annotation_strokes_become_drags_and_pins(drags):
    w, h = 40, 30

    def to_px(x, y):
        return drags.view_to_image_px(x, y, w, h)

    arrow = [(0.1, 0.9, 0.0), (0.3, 0.7, 0.0), (0.5, 0.5, 0.0)]  # a curved path: only the ends count
    dot = [(0.25, 0.25, 0.0), (0.251, 0.252, 0.0), (0.249, 0.25, 0.0)]
    off = [(0.5, 0.5, 0.0), (1.4, 0.5, 0.0)]  # ends off the image
    got, pins, skipped = drags.strokes_to_drags([arrow, dot, off, []], to_px, w, h)
    assert got == [pytest.approx([4.0, 3.0, 20.0, 15.0])]
    assert len(pins) == 1 and pins[0] == pytest.approx([10.0, 22.5], abs=0.05)
    assert skipped == 2


def test_view_placed_strokes_go_through_the_region(drags):
    v2d = Zoomed2D()
    region_w, region_h = 200, 160

    def to_px(x, y):  # "View" placement stores percentages of the region
        return drags.region_to_image_px(v2d, x / 100 * region_w, y / 100 * region_h, 40, 30)

    stroke = [(60.5, 63.125), (80.5, 63.125)]  # region (121, 101) -> (161, 101)
    got, pins, skipped = drags.strokes_to_drags([stroke], to_px, 40, 30)
    assert got == [pytest.approx([10.5, 4.5, 30.5, 4.5])] and not pins and not skipped


def test_arrow_segments_draw_a_shaft_two_heads_and_pin_crosses(drags):
    segs = drags.arrow_segments([[0, 0, 10, 0]], [[5, 5]], lambda u, v: (u, v), head_px=4.0, pin_px=2.0)
    assert len(segs) == 2 * 3 + 2 * 2
    assert segs[0] == (0, 0) and segs[1] == (10, 0)
    for head_end in (segs[3], segs[5]):  # heads point back along the shaft, +-25 degrees
        assert math.hypot(head_end[0] - 10, head_end[1]) == pytest.approx(4.0)
        assert head_end[0] < 10
    assert {segs[6], segs[7]} == {(3.0, 3.0), (7.0, 7.0)}


class Items(list):
    """The add/len/iteration a CollectionProperty offers, over plain records."""

    class Record:
        kind = "DRAG"
        start = (0.0, 0.0)
        end = (0.0, 0.0)

    def add(self):
        self.append(self.Record())
        return self[-1]


def test_list_entries_round_trip_to_the_job_and_respect_the_limits(drags):
    items = Items()
    drags.add_entry(items, "DRAG", (1.0, 2.0, 3.0, 4.0))
    drags.add_entry(items, "PIN", (5.0, 6.0))
    assert drags.motion_lists(items) == ([[1.0, 2.0, 3.0, 4.0]], [[5.0, 6.0]])
    with pytest.raises(ValueError, match="4 coordinates"):
        drags.add_entry(items, "DRAG", (1.0, 2.0))
    with pytest.raises(ValueError, match="DRAG or PIN"):
        drags.add_entry(items, "ARROW", (1.0, 2.0))
    for _ in range(drags.MAX_DRAGS - 1):
        drags.add_entry(items, "DRAG", (0.0, 0.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="at most 32"):
        drags.add_entry(items, "DRAG", (0.0, 0.0, 1.0, 1.0))
    assert drags.add_entry(items, "PIN", (1.0, 1.0)).kind == "PIN"  # pins have their own limit
