"""The Tween4D asset: reader, writer and validator (numpy + standard library only).

This is the one backend module the Blender add-on imports. The format is
specified in README.md ("Asset format") and shared/design/asset-format.md.
"""

from .camera import Camera
from .model import (
    FORMAT,
    FORMAT_VERSION,
    GAUSSIANS_NPZ,
    GAUSSIANS_PC2,
    MANIFEST,
    MESH_NPZ,
    MESH_PC2,
    MESH_TEXTURE,
    SH_C0,
    AnimatedMesh,
    Asset,
    Gaussians,
)
from .pc2 import PC2Error, read_pc2, read_pc2_header, write_pc2
from .ply import gaussians_to_ply_bytes, read_ply, write_ply
from .reader import load_asset, read_manifest, texture_path
from .validate import AssetError, validate_asset
from .writer import AssetWriteError, InputFile, check_target, sha256_of, write_asset

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "GAUSSIANS_NPZ",
    "GAUSSIANS_PC2",
    "MANIFEST",
    "MESH_NPZ",
    "MESH_PC2",
    "MESH_TEXTURE",
    "SH_C0",
    "AnimatedMesh",
    "Asset",
    "AssetError",
    "AssetWriteError",
    "Camera",
    "check_target",
    "Gaussians",
    "InputFile",
    "PC2Error",
    "gaussians_to_ply_bytes",
    "load_asset",
    "read_manifest",
    "read_pc2",
    "read_pc2_header",
    "read_ply",
    "sha256_of",
    "texture_path",
    "validate_asset",
    "write_asset",
    "write_pc2",
    "write_ply",
]
