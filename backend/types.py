"""Plain data passed between pipeline stages.

Conventions used by every stage:

* Images are float32 sRGB in 0..1, row 0 at the top, at the *working
  resolution* (the longer side is ``QualityPreset.working_max_side`` or the
  input's own size, whichever is smaller).
* 2D positions are pixel coordinates (u, v) at the working resolution: origin
  at the top-left corner of the top-left pixel, u right, v down; the centre of
  pixel (row r, column c) is (c + 0.5, r + 0.5) -- the same convention as
  ``backend.asset.Camera``.
* 2D triangles are counter-clockwise in (u, -v), i.e. as seen on screen with
  y up; lifted front faces then face the camera (-Y in the world).
* 3D positions are Blender world metres (+Z up); the input camera looks
  toward +Y (shared/design/asset-format.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .asset.camera import Camera


@dataclass
class InputImage:
    """A decoded, validated input image.

    Attributes:
        path: the file it came from.
        rgba: float32 [H, W, 4] sRGB 0..1; alpha is 1 where the file had none.
        has_alpha: the file carried a meaningful alpha channel (not all opaque).
        original_size: (width, height) as stored in the file, before any
            safety downscale.
    """

    path: Path
    rgba: np.ndarray
    has_alpha: bool
    original_size: tuple[int, int]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of ``rgba``."""
        return int(self.rgba.shape[1]), int(self.rgba.shape[0])


@dataclass
class Foreground:
    """One image split into object and background, at the working resolution.

    Attributes:
        rgb: float32 [H, W, 3] sRGB 0..1 (the image, background untouched).
        alpha: float32 [H, W] soft matte 0..1.
        mask: bool [H, W] the object (``alpha >= 0.5``, cleaned: holes below a
            size filled, specks removed).
        method: which engine produced it ("alpha", "key", "u2netp", ...).
    """

    rgb: np.ndarray
    alpha: np.ndarray
    mask: np.ndarray
    method: str

    @property
    def size(self) -> tuple[int, int]:
        return int(self.mask.shape[1]), int(self.mask.shape[0])


@dataclass
class SilhouetteMesh:
    """A 2D triangle mesh covering the start image's foreground.

    Attributes:
        vertices: float64 [V, 2] pixel coordinates (u, v), working resolution.
        faces: int32 [F, 3], counter-clockwise in (u, -v).
        boundary: int32 [B] indices of vertices on the silhouette outline
            (outer contours and holes).
    """

    vertices: np.ndarray
    faces: np.ndarray
    boundary: np.ndarray


@dataclass
class Motion2D:
    """The 2D in-between result: the start mesh moved over T frames.

    Attributes:
        trajectories: float64 [T, V, 2] vertex positions (u, v) per frame;
            frame 0 equals the mesh's rest vertices, frame T-1 lies on the end
            image's object.
        frames: optional uint8 [T, H, W, 3] in-between images (sRGB), e.g. the
            textured warp; used for previews and feature-based keyframes.
        diagnostics: free-form numbers (e.g. ``end_iou``, ``feature_matches``).
    """

    trajectories: np.ndarray
    frames: Optional[np.ndarray] = None
    diagnostics: dict = field(default_factory=dict)


@dataclass
class Shape3D:
    """The closed 2.5D surface built on the start silhouette, at rest (frame 0).

    Attributes:
        vertices: float64 [V3, 3] world metres.
        faces: int32 [F3, 3], outward-facing (counter-clockwise seen from outside).
        uv: float32 [V3, 2] texture coordinates 0..1, origin bottom-left.
        texture: uint8 [H, W, 3] the texture image (row 0 at the top).
        source_vertex: int32 [V3] index of the 2D mesh vertex each 3D vertex
            stands on (front, back and rim copies share it).
        side: int8 [V3] +1 front (toward the camera), -1 back, 0 silhouette rim.
        pixel_weights: scipy.sparse CSR [V3, V] or None: how each 3D vertex's
            pixel follows the 2D mesh vertices (``pixel_weights @
            trajectories[t]`` gives every 3D vertex's (u, v) at frame t); set
            by the engine that built the shape, needed by the motion stage.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray
    texture: np.ndarray
    source_vertex: np.ndarray
    side: np.ndarray
    pixel_weights: Optional[Any] = None

    def pixel_weights_for(self, mesh: SilhouetteMesh):
        """``pixel_weights`` checked against the 2D mesh the motion refers to.

        Returns:
            scipy.sparse CSR [V3, V].

        Raises:
            ValueError: the shape carries no weights or was built from another mesh.
        """
        w = self.pixel_weights
        if w is None or w.shape != (len(self.vertices), len(mesh.vertices)):
            raise ValueError("the 3D shape was not built from this silhouette mesh (no matching pixel weights)")
        return w


@dataclass
class Motion3D:
    """Per-frame positions of the ``Shape3D`` vertices.

    Attributes:
        vertices: float64 [T, V3, 3] world metres; frame 0 equals the rest shape.
        diagnostics: free-form numbers (e.g. rigidity residuals).
    """

    vertices: np.ndarray
    diagnostics: dict = field(default_factory=dict)


@dataclass
class InputView:
    """The input view at the working resolution and at the input image's size.

    Attributes:
        camera_work: ``Camera`` whose image is the working-resolution mask
            (the frame of ``SilhouetteMesh`` and ``Motion2D`` pixels).
        camera_image: the same camera with intrinsics scaled to the loaded
            input image's (width, height); this is the camera the asset stores.
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
        """Working-resolution pixel coordinates [..., 2] -> input-image pixel coordinates [..., 2]."""
        uv = np.asarray(uv, dtype=np.float64)
        s = np.array([self.camera_image.width / self.camera_work.width,
                      self.camera_image.height / self.camera_work.height])
        return uv * s
