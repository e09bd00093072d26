"""Joint colour regions of two cut-outs (``backend.geometry2d.colour_regions``) and their registration term."""

from __future__ import annotations

import numpy as np

from backend.geometry2d import build_silhouette_mesh
from backend.geometry2d.arap_registration import register_mesh
from backend.geometry2d.colour_regions import colour_regions
from backend.types import Foreground

H = W = 96


def _two_part_object(top=(0.8, 0.1, 0.1), bottom=(0.1, 0.2, 0.8), textured=True) -> Foreground:
    """A vertical bar: the top half one paint, the bottom half another, each with a fine check texture."""
    mask = np.zeros((H, W), bool)
    mask[20:76, 40:56] = True
    rgb = np.ones((H, W, 3), np.float32)
    rgb[20:48, 40:56] = top
    rgb[48:76, 40:56] = bottom
    if textured:
        yy, xx = np.mgrid[0:H, 0:W]
        checks = ((yy // 2 + xx // 2) % 2 == 0)[..., None]
        rgb = np.where(checks, rgb * 0.6, rgb)  # dark and light checks of the same paint
    return Foreground(rgb=rgb, alpha=mask.astype(np.float32), mask=mask, method="alpha")


def test_two_paints_make_two_regions_whatever_their_texture():
    fg = _two_part_object()
    regions = colour_regions(fg.rgb, fg.mask, fg.rgb, fg.mask)
    assert regions is not None
    top, bottom = regions.start_labels[22:46, 42:54], regions.start_labels[50:74, 42:54]
    # Each half is one colour (the checks do not split it), and the two halves differ.
    top_label = np.bincount(top[top >= 0]).argmax()
    bottom_label = np.bincount(bottom[bottom >= 0]).argmax()
    assert top_label != bottom_label
    assert (top == top_label).mean() > 0.95 and (bottom == bottom_label).mean() > 0.95
    assert (regions.start_labels[~fg.mask] == -1).all()
    assert regions.end_fields[top_label].inside(np.array([[48.0, 30.0]]))[0]
    assert not regions.end_fields[top_label].inside(np.array([[48.0, 70.0]]))[0]


def test_a_one_colour_object_has_no_colour_regions():
    fg = _two_part_object(top=(0.2, 0.7, 0.3), bottom=(0.2, 0.7, 0.3), textured=False)
    assert colour_regions(fg.rgb, fg.mask, fg.rgb, fg.mask) is None


def test_the_colour_term_leaves_a_registration_of_identical_images_alone():
    fg = _two_part_object()
    mesh = build_silhouette_mesh(fg.mask, 4.0)
    reg = register_mesh(mesh, fg, fg, iterations=8)
    assert np.abs(reg.positions - mesh.vertices).max() < 0.5
