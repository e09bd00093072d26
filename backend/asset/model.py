"""In-memory form of a Tween4D asset: Gaussians, an optional animated mesh, and the manifest.

All arrays follow shared/design/asset-format.md: Blender world frame (+Z up,
metres), T frames, point order fixed over time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

FORMAT = "tween4d.asset"
FORMAT_VERSION = 1

MANIFEST = "asset.json"
GAUSSIANS_PC2 = "gaussians.pc2"
GAUSSIANS_NPZ = "gaussians.npz"
MESH_NPZ = "mesh.npz"
MESH_PC2 = "mesh.pc2"
MESH_TEXTURE = "mesh_texture.png"
INPUTS_DIR = "inputs"
FRAMES_DIR = "frames"

MODES = ("two_image", "single_image")

# PLY / 3DGS constant: f_dc = (colour - 0.5) / SH_C0.
SH_C0 = 0.28209479177387814


@dataclass
class Gaussians:
    """Dynamic 3D Gaussians.

    Attributes:
        means: float32 [T, N, 3], centres in metres per frame.
        colors: float32 [N, 3], sRGB-encoded 0..1.
        opacities: float32 [N], 0..1.
        scales: float32 [N, 3] or [T, N, 3], standard deviations in metres.
        rotations: float32 [N, 4] or [T, N, 4], unit quaternions (w, x, y, z).
        sh_rest: optional float32 [N, K, 3] higher spherical-harmonic bands.
        source_pixel: optional int32 [N, 2], (row, column) in the start image.
        filled: optional int8 [N], single-image assets: 0 = seen in the image,
            1 = filled in (the hidden layer behind depth discontinuities, an
            object's back, the padding around a scene), so a viewer can hide or tint them.
    """

    means: np.ndarray
    colors: np.ndarray
    opacities: np.ndarray
    scales: np.ndarray
    rotations: np.ndarray
    sh_rest: Optional[np.ndarray] = None
    source_pixel: Optional[np.ndarray] = None
    filled: Optional[np.ndarray] = None

    @property
    def frame_count(self) -> int:
        return int(self.means.shape[0])

    @property
    def count(self) -> int:
        return int(self.means.shape[1])

    def scales_at(self, frame: int) -> np.ndarray:
        """[N, 3] scales at ``frame`` (static scales are returned as-is)."""
        return self.scales[frame] if self.scales.ndim == 3 else self.scales

    def rotations_at(self, frame: int) -> np.ndarray:
        """[N, 4] quaternions (w, x, y, z) at ``frame``."""
        return self.rotations[frame] if self.rotations.ndim == 3 else self.rotations


@dataclass
class AnimatedMesh:
    """A triangle mesh with per-frame vertex positions.

    Attributes:
        vertices: float32 [T, V, 3], metres per frame.
        faces: int32 [F, 3], counter-clockwise seen from outside.
        uv: float32 [V, 2], 0..1, origin bottom-left (Blender's UV convention).
        vertex_colors: optional float32 [V, 3], sRGB 0..1.
        texture: optional uint8 [H, W, 3|4] image (row 0 = top), saved as mesh_texture.png.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray
    vertex_colors: Optional[np.ndarray] = None
    texture: Optional[np.ndarray] = None


@dataclass
class Asset:
    """A loaded or to-be-written asset.

    Attributes:
        manifest: the ``asset.json`` content (see ``backend.asset.validate``
            for the required keys).
        gaussians: the dynamic Gaussians.
        mesh: the optional animated mesh.
        path: the asset directory when loaded from disk.
    """

    manifest: dict
    gaussians: Gaussians
    mesh: Optional[AnimatedMesh] = None
    path: Optional[str] = None
    extras: dict = field(default_factory=dict)
