"""Asset reader: loads and validates an asset directory.

Arrays are memory-mapped where the format allows (the PC2 bodies), so
opening a large asset is cheap; ``.npz`` files are read with
``allow_pickle=False``, only the members the format defines, each after its
size in the zip directory was checked against the manifest's counts.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from . import model as M
from .pc2 import PC2Error, read_pc2
from .validate import AssetError, check_manifest_header, validate_asset, validate_manifest


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
    except RecursionError:
        raise AssetError(f"{path} is not a Tween4D manifest: its JSON is nested too deeply to read") from None
    check_manifest_header(manifest)
    return manifest


# Largest header numpy writes before an array's data in a .npy member (format 1.0-3.0 headers are short).
_NPY_HEADER_BYTES = 4096


def _load_npz(path: Path, limits: dict[str, int]) -> dict[str, np.ndarray]:
    """Load only the members named in ``limits`` (key -> most values it may hold) from an ``.npz``.

    Each member's uncompressed size is read from the zip directory first; one
    larger than its limit (8 bytes a value, plus a header) is refused before
    any of it is decompressed, and members the format does not define are
    never read.
    """
    if not path.is_file():
        raise AssetError(f"{path.name} is missing from the asset")
    try:
        with zipfile.ZipFile(path) as zf:
            sizes = {info.filename: info.file_size for info in zf.infolist()}
        for key, values in limits.items():
            size = sizes.get(f"{key}.npy")
            if size is not None and size > 8 * values + _NPY_HEADER_BYTES:
                raise AssetError(f"{path.name}: {key} holds {size:,} bytes, more than the asset's counts allow "
                                 f"({8 * values:,}); the file is corrupt or not from Tween4D")
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in limits if k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        if isinstance(exc, AssetError):
            raise
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
    validate_manifest(manifest)  # the counts bound what the arrays may hold
    means = _load_pc2(asset_dir / M.GAUSSIANS_PC2, mmap)
    t, n = manifest["frame_count"], manifest["gaussian_count"]
    attrs = _load_npz(asset_dir / M.GAUSSIANS_NPZ, {
        "colors": 3 * n, "opacities": n, "scales": 3 * t * n, "rotations": 4 * t * n,
        "sh_rest": 45 * n, "source_pixel": 2 * n,  # sh_rest: up to degree 3, 15 bands x RGB
    })
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
    )
    mesh = None
    if (asset_dir / M.MESH_NPZ).exists() or (asset_dir / M.MESH_PC2).exists():
        mesh_vertices = _load_pc2(asset_dir / M.MESH_PC2, mmap)
        v = int(mesh_vertices.shape[1])
        # A closed triangle mesh has about 2 V faces; 8 V leaves room for any mesh the writer makes.
        mattrs = _load_npz(asset_dir / M.MESH_NPZ, {"faces": 3 * 8 * (v + 16), "uv": 2 * v, "vertex_colors": 3 * v})
        if "faces" not in mattrs or "uv" not in mattrs:
            raise AssetError("mesh.npz lacks faces or uv")
        mesh = M.AnimatedMesh(
            vertices=mesh_vertices,
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
