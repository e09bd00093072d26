"""The input-view camera and the placement of the object in the world.

The camera that saw the start image is a pinhole at an 85 mm-equivalent focal
length (36 mm sensor width on the longer image side), principal point at the
image centre, on the world -Y side looking toward +Y (shared/design/
asset-format.md). The object's silhouette is placed on the plane world y = 0:
the largest side of its bounding box spans 1.0 m on that plane and the box
centre lies on the world origin. Every point lifted with ``InputView.to_world``
reprojects exactly onto its pixel, whatever its depth offset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...asset import Camera
from ...errors import ForegroundError

FOCAL_MM = 85.0
SENSOR_MM = 36.0
OBJECT_SIZE_M = 1.0


def scaled_camera(camera: Camera, sx: float, sy: float) -> Camera:
    """The same camera with its image resized by (sx, sy).

    Pixel coordinates have their origin at the image corner, so resizing an
    image by (sx, sy) maps (u, v) to (sx u, sy v): fx, cx scale by sx and fy,
    cy by sy; the extrinsics (``matrix_world``) are unchanged.

    Args:
        camera: the camera to scale.
        sx, sy: width and height ratios (new / old), > 0.

    Returns:
        A new ``Camera`` of size (round(width sx), round(height sy)).
    """
    return Camera(
        width=max(1, int(round(camera.width * sx))),
        height=max(1, int(round(camera.height * sy))),
        fx=camera.fx * sx,
        fy=camera.fy * sy,
        cx=camera.cx * sx,
        cy=camera.cy * sy,
        matrix_world=np.array(camera.matrix_world, dtype=np.float64, copy=True),
    )


def camera_for_size(camera: Camera, width: int, height: int) -> Camera:
    """``camera`` with intrinsics rescaled to an image of ``width`` x ``height`` pixels."""
    cam = scaled_camera(camera, width / camera.width, height / camera.height)
    cam.width, cam.height = int(width), int(height)
    return cam


@dataclass
class InputView:
    """The input view at the working resolution and at the start image's size.

    Attributes:
        camera_work: ``Camera`` whose image is the working-resolution mask
            (the frame of ``SilhouetteMesh`` and ``Motion2D`` pixels).
        camera_image: the same camera with intrinsics scaled to the loaded
            start image's (width, height); this is the camera the asset stores.
        plane_depth: d, metres from the camera to the object plane y = 0
            along the viewing axis.
        bbox: (u0, v0, u1, v1) foreground bounding box in working pixels
            (corner coordinates, so u1 - u0 is the width in pixels).
    """

    camera_work: Camera
    camera_image: Camera
    plane_depth: float
    bbox: tuple[float, float, float, float]

    @property
    def metres_per_pixel(self) -> float:
        """Size of one working-resolution pixel on the object plane, in metres."""
        return self.plane_depth / self.camera_work.fx

    @property
    def size(self) -> tuple[int, int]:
        """Working resolution (width, height)."""
        return self.camera_work.width, self.camera_work.height

    def to_world(self, uv: np.ndarray, y_offset: np.ndarray | float = 0.0) -> np.ndarray:
        """Lift working-resolution pixels to world points at a depth offset.

        Args:
            uv: float [..., 2] pixel coordinates at the working resolution.
            y_offset: float [...] (or scalar) metres in front of (< 0) or behind
                (> 0) the object plane, along world Y = the viewing axis.

        Returns:
            float64 [..., 3] world points with world y == ``y_offset``; their
            projection through ``camera_work`` is ``uv`` exactly.
        """
        uv = np.asarray(uv, dtype=np.float64)
        depth = self.plane_depth + np.broadcast_to(np.asarray(y_offset, dtype=np.float64), uv.shape[:-1])
        return self.camera_work.unproject(uv, depth)

    def to_image_pixels(self, uv: np.ndarray) -> np.ndarray:
        """Working-resolution pixel coordinates [..., 2] -> start-image pixel coordinates [..., 2]."""
        uv = np.asarray(uv, dtype=np.float64)
        s = np.array([self.camera_image.width / self.camera_work.width,
                      self.camera_image.height / self.camera_work.height])
        return uv * s


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
    cam_image = camera_for_size(cam, int(image_size[0]), int(image_size[1]))
    return InputView(camera_work=cam, camera_image=cam_image, plane_depth=float(d), bbox=(u0, v0, u1, v1))
