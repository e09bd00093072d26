"""The input-view camera and the placement of the object in the world.

The camera that saw the start image is a pinhole at an 85 mm-equivalent focal
length (36 mm sensor width on the longer image side), principal point at the
image centre, on the world -Y side looking toward +Y (shared/design/
asset-format.md). The object's silhouette is placed on the plane world y = 0:
the largest side of its bounding box spans 1.0 m on that plane and the box
centre lies on the world origin. Every point lifted with ``backend.types.InputView.to_world``
reprojects exactly onto its pixel, whatever its depth offset.
"""

from __future__ import annotations

import numpy as np

from ...asset import Camera
from ...errors import ForegroundError
from ...types import InputView

FOCAL_MM = 85.0
SENSOR_MM = 36.0
OBJECT_SIZE_M = 1.0


def input_view(mask: np.ndarray, image_size: tuple[int, int]) -> InputView:
    """Set up the input camera and the object's placement from the start mask.

    Args:
        mask: bool [H, W] foreground at the working resolution.
        image_size: (width, height) of the loaded start image (the size the
            asset's camera refers to).

    Returns:
        An ``InputView``: focal length f = 85/36 * max(W, H) pixels (85 mm on a
        36 mm sensor), principal point at the image centre, camera at
        (x_c, -d, z_c) looking along +Y with d = f * 1 m / (largest bbox side
        in pixels), so the bbox spans 1 m on the plane y = 0 and its centre
        ray hits the world origin.

    Raises:
        ForegroundError: the mask is empty.
        ValueError: ``image_size`` is not two positive integers.
    """
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    if len(image_size) != 2 or min(int(image_size[0]), int(image_size[1])) < 1:
        raise ValueError(f"image_size must be (width, height) > 0, got {image_size!r}")
    rows = np.nonzero(mask.any(axis=1))[0]
    cols = np.nonzero(mask.any(axis=0))[0]
    if len(rows) == 0:
        raise ForegroundError("No object was found in the start image.",
                              "Use an image with a clear object on a plain background, or an RGBA cut-out.",
                              code="foreground.empty")
    u0, u1 = float(cols[0]), float(cols[-1] + 1)
    v0, v1 = float(rows[0]), float(rows[-1] + 1)
    focal = FOCAL_MM / SENSOR_MM * max(w, h)
    d = focal * OBJECT_SIZE_M / max(u1 - u0, v1 - v0)
    probe = Camera.looking_along_y(w, h, focal, (0.0, 0.0, 0.0))
    centre = probe.unproject(np.array([(u0 + u1) / 2, (v0 + v1) / 2]), np.array(d))
    # Shift the camera so that the bbox centre at depth d lands on the origin.
    cam = Camera.looking_along_y(w, h, focal, -centre)
    cam_image = cam.for_size(int(image_size[0]), int(image_size[1]))
    return InputView(camera_work=cam, camera_image=cam_image, plane_depth=float(d), bbox=(u0, v0, u1, v1))
