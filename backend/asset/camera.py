"""The input-view pinhole camera stored in ``asset.json``.

Conventions (shared/design/asset-format.md):

* World frame = Blender's: right-handed, +Z up, metres.
* ``matrix_world`` is a 4x4 camera-to-world matrix in Blender's camera
  convention: the camera looks down its local -Z axis, local +Y is image up,
  local +X is image right.
* Pixel coordinates (u, v): origin at the top-left corner of the top-left
  pixel, u to the right, v down; the centre of pixel (row r, column c) is
  (c + 0.5, r + 0.5). Intrinsics fx, fy, cx, cy are in pixels.
* ``depth`` is the distance along the viewing axis (camera -Z), in metres,
  positive in front of the camera.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Camera looking toward world +Y, image right = +X, image up = +Z: a rotation
# of +90 degrees about X (Blender's default camera rotated to Euler (90, 0, 0)).
LOOK_ALONG_PLUS_Y = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


@dataclass
class Camera:
    """A pinhole camera with Blender's ``matrix_world`` convention.

    Attributes:
        width, height: image size in pixels.
        fx, fy: focal lengths in pixels.
        cx, cy: principal point in pixels (image centre = width / 2, height / 2).
        matrix_world: float64 [4, 4] camera-to-world transform (rigid).
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    matrix_world: np.ndarray = field(default_factory=lambda: np.eye(4))

    @classmethod
    def looking_along_y(cls, width: int, height: int, focal_px: float, position) -> "Camera":
        """The input-view camera: at ``position`` (metres), looking toward +Y.

        Args:
            width, height: image size in pixels.
            focal_px: focal length in pixels (fx = fy), principal point centred.
            position: (x, y, z) of the camera centre in world metres.
        """
        m = np.eye(4)
        m[:3, :3] = LOOK_ALONG_PLUS_Y
        m[:3, 3] = np.asarray(position, dtype=np.float64)
        return cls(int(width), int(height), float(focal_px), float(focal_px), width / 2.0, height / 2.0, m)

    @property
    def position(self) -> np.ndarray:
        """Camera centre in world metres, float64 [3]."""
        return np.asarray(self.matrix_world, dtype=np.float64)[:3, 3].copy()

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points [N, 3] -> camera-local coordinates [N, 3] (Blender camera frame)."""
        m = np.asarray(self.matrix_world, dtype=np.float64)
        rot, pos = m[:3, :3], m[:3, 3]
        return (np.asarray(points, dtype=np.float64) - pos) @ rot

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project world points to pixels.

        Args:
            points: [N, 3] world metres (any leading shape [..., 3] works).

        Returns:
            (uv, depth): uv float64 [..., 2] pixel coordinates (see module doc),
            depth float64 [...] metres along the viewing axis. Points behind
            the camera get depth <= 0 and meaningless uv.
        """
        pts = np.asarray(points, dtype=np.float64)
        local = self.world_to_camera(pts.reshape(-1, 3))
        depth = -local[:, 2]
        safe = np.where(np.abs(depth) < 1e-12, 1e-12, depth)
        u = self.cx + self.fx * local[:, 0] / safe
        v = self.cy - self.fy * local[:, 1] / safe
        uv = np.stack([u, v], axis=-1)
        return uv.reshape(pts.shape[:-1] + (2,)), depth.reshape(pts.shape[:-1])

    def unproject(self, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Pixels and depths back to world points.

        Args:
            uv: [..., 2] pixel coordinates.
            depth: [...] metres along the viewing axis.

        Returns:
            float64 [..., 3] world points; ``project`` of them returns ``uv``.
        """
        uv = np.asarray(uv, dtype=np.float64)
        d = np.asarray(depth, dtype=np.float64)
        x = (uv[..., 0] - self.cx) / self.fx * d
        y = -(uv[..., 1] - self.cy) / self.fy * d
        local = np.stack([x, y, -d], axis=-1)
        m = np.asarray(self.matrix_world, dtype=np.float64)
        return local @ m[:3, :3].T + m[:3, 3]

    def scaled(self, sx: float, sy: float) -> "Camera":
        """The same camera with its image resized by (sx, sy).

        Pixel coordinates have their origin at the image corner, so resizing an
        image by (sx, sy) maps (u, v) to (sx u, sy v): fx, cx scale by sx and fy,
        cy by sy; the extrinsics (``matrix_world``) are unchanged.

        Args:
            sx, sy: width and height ratios (new / old), > 0.

        Returns:
            A new ``Camera`` of size (round(width sx), round(height sy)), at least 1 x 1.
        """
        return Camera(
            width=max(1, int(round(self.width * sx))),
            height=max(1, int(round(self.height * sy))),
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=self.cx * sx,
            cy=self.cy * sy,
            matrix_world=np.array(self.matrix_world, dtype=np.float64, copy=True),
        )

    def for_size(self, width: int, height: int) -> "Camera":
        """This camera with intrinsics rescaled to an image of ``width`` x ``height`` pixels.

        Returns:
            A new ``Camera`` whose size is exactly (width, height); see ``scaled``.
        """
        cam = self.scaled(width / self.width, height / self.height)
        cam.width, cam.height = int(width), int(height)
        return cam

    def to_dict(self) -> dict:
        """JSON-ready form, as stored under ``asset.json['camera']``."""
        return {
            "width": int(self.width),
            "height": int(self.height),
            "fx": float(self.fx),
            "fy": float(self.fy),
            "cx": float(self.cx),
            "cy": float(self.cy),
            "matrix_world": np.asarray(self.matrix_world, dtype=np.float64).tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Camera":
        """Inverse of ``to_dict``.

        Raises:
            ValueError: a key is missing, ``matrix_world`` is not 4x4 finite, or
                an intrinsic (fx, fy, cx, cy) is NaN or infinite.
        """
        try:
            m = np.asarray(data["matrix_world"], dtype=np.float64)
            cam = cls(
                int(data["width"]),
                int(data["height"]),
                float(data["fx"]),
                float(data["fy"]),
                float(data["cx"]),
                float(data["cy"]),
                m,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"camera entry is incomplete or malformed: {exc}") from exc
        if m.shape != (4, 4) or not np.all(np.isfinite(m)):
            raise ValueError("camera matrix_world must be a finite 4x4 matrix")
        if not np.all(np.isfinite([cam.fx, cam.fy, cam.cx, cam.cy])):
            raise ValueError("camera intrinsics fx, fy, cx, cy must be finite numbers")
        if cam.width < 1 or cam.height < 1 or cam.fx <= 0 or cam.fy <= 0:
            raise ValueError("camera needs a positive image size and focal length")
        return cam
