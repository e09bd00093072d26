"""Asset reader: loads and validates an asset directory.

Arrays are memory-mapped where the format allows (the PC2 bodies), so
opening a large asset is cheap; ``gaussians.npz`` is read with
``allow_pickle=False``.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from . import model as M
from .pc2 import PC2Error, read_pc2
from .validate import AssetError, check_manifest_header, validate_asset


def read_manifest(asset_dir: str | os.PathLike) -> dict:
    """Read and header-check ``asset.json``.

    Raises:
        AssetError: no manifest (an incomplete or foreign folder), bad JSON,
            unknown format or a newer format version.
    """
    path = Path(asset_dir) / M.MANIFEST
    if not path.is_file():
        raise AssetError(
            f"{Path(asset_dir)} has no asset.json: it is not a Tween4D asset, or its generation did not finish"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AssetError(f"{path} is not valid JSON: {exc}") from exc
    check_manifest_header(manifest)
    return manifest


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise AssetError(f"{path.name} is missing from the asset")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise AssetError(f"{path.name} is unreadable or corrupt: {exc}") from exc


def _load_pc2(path: Path, mmap: bool) -> np.ndarray:
    if not path.is_file():
        raise AssetError(f"{path.name} is missing from the asset")
    try:
        return read_pc2(path, mmap=mmap)
    except PC2Error as exc:
        raise AssetError(str(exc)) from exc


def load_asset(asset_dir: str | os.PathLike, mmap: bool = True) -> M.Asset:
    """Load and validate an asset directory.

    Args:
        asset_dir: the asset folder (holding ``asset.json``).
        mmap: memory-map the PC2 bodies instead of reading them into memory.

    Returns:
        The validated ``Asset`` (``mesh`` is None when the asset has none).

    Raises:
        AssetError: anything missing, corrupt, or inconsistent with the manifest.
    """
    asset_dir = Path(asset_dir)
    manifest = read_manifest(asset_dir)
    means = _load_pc2(asset_dir / M.GAUSSIANS_PC2, mmap)
    attrs = _load_npz(asset_dir / M.GAUSSIANS_NPZ)
    missing = [k for k in ("colors", "opacities", "scales", "rotations") if k not in attrs]
    if missing:
        raise AssetError(f"gaussians.npz lacks {', '.join(missing)}")
    gaussians = M.Gaussians(
        means=means,
        colors=attrs["colors"],
        opacities=attrs["opacities"],
        scales=attrs["scales"],
        rotations=attrs["rotations"],
        sh_rest=attrs.get("sh_rest"),
        source_pixel=attrs.get("source_pixel"),
        filled=attrs.get("filled"),
    )
    mesh = None
    if (asset_dir / M.MESH_NPZ).exists() or (asset_dir / M.MESH_PC2).exists():
        mattrs = _load_npz(asset_dir / M.MESH_NPZ)
        if "faces" not in mattrs or "uv" not in mattrs:
            raise AssetError("mesh.npz lacks faces or uv")
        mesh = M.AnimatedMesh(
            vertices=_load_pc2(asset_dir / M.MESH_PC2, mmap),
            faces=mattrs["faces"],
            uv=mattrs["uv"],
            vertex_colors=mattrs.get("vertex_colors"),
        )
    asset = M.Asset(manifest=manifest, gaussians=gaussians, mesh=mesh, path=str(asset_dir))
    validate_asset(asset)
    for rel in manifest.get("files", []):
        if not (asset_dir / rel).exists():
            raise AssetError(f"the asset lists {rel} but the file is missing")
    return asset


def texture_path(asset: M.Asset) -> Path | None:
    """The mesh texture file of a loaded asset, or None."""
    if asset.path is None:
        return None
    p = Path(asset.path) / M.MESH_TEXTURE
    return p if p.is_file() else None
