"""Fixtures for the importer / export / camera-rig tests in real headless Blender.

The asset under test comes from the ``asset_dir`` fixture: a small synthetic
asset written with ``backend.asset.write_asset`` (Gaussians on an ellipsoid
that bends and moves over time, a textured quad strip mesh, an off-centre
input camera). A later fixture can produce it from the real backend instead:
override ``asset_dir`` and every test runs on that asset.

The repository root is the extension root and its modules use relative imports
(``from ..backend.asset import ...``), so the tests import it as a package
named ``tween4d`` (``tween4d_pkg``), as Blender does under ``bl_ext.*``.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "tween4d"

# Keep Blender away from the developer's own config and any model hub.
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="tween4d-blender-user-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

bpy = pytest.importorskip("bpy", reason="bpy (headless Blender) is not installed")

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from backend.asset import AnimatedMesh, Asset, Camera, Gaussians, write_asset  # noqa: E402


def load_package(name: str = PACKAGE):
    """Make the repository root importable as package ``name`` without running its ``__init__``."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [str(ROOT)]
    mod = importlib.util.module_from_spec(spec)
    mod.__path__ = [str(ROOT)]
    sys.modules[name] = mod
    return mod


def addon_module(sub: str):
    """Import ``tween4d.addon.<sub>`` (e.g. "importer")."""
    load_package()
    return importlib.import_module(f"{PACKAGE}.addon.{sub}")


def asset_api():
    """``tween4d.backend.asset``: the same module (and AssetError class) the add-on raises from."""
    load_package()
    return importlib.import_module(f"{PACKAGE}.backend.asset")


def synthetic_means(t: int, n: int, seed: int = 0) -> np.ndarray:
    """float32 [T, N, 3]: points on an ellipsoid (about 1 m tall) that sway and lift over time."""
    rng = np.random.default_rng(seed)
    d = rng.normal(size=(n, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    base = d * np.array([0.3, 0.2, 0.5])
    out = np.empty((t, n, 3), np.float32)
    for i in range(t):
        s = i / max(t - 1, 1)
        bend = 0.25 * s * (base[:, 2] + 0.5) ** 2  # more sway higher up: not a rigid shift
        out[i] = base + np.stack([bend, 0.05 * s * np.ones(n), 0.1 * s * np.ones(n)], axis=1)
    return out


def make_test_asset(
    out_dir: Path, *, n: int = 500, t: int = 8, with_mesh: bool = True, fps: float = 24.0, seed: int = 0, camera: Camera | None = None
) -> Path:
    """Write a small valid asset and return its folder.

    The default input camera is 3 m in front (-Y) with an off-centre principal
    point, so tests also exercise the lens shift.
    """
    rng = np.random.default_rng(seed)
    means = synthetic_means(t, n, seed)
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    g = Gaussians(
        means=means,
        colors=rng.uniform(size=(n, 3)).astype(np.float32),
        opacities=rng.uniform(0.2, 1.0, size=n).astype(np.float32),
        scales=rng.uniform(0.005, 0.02, size=(n, 3)).astype(np.float32),
        rotations=q.astype(np.float32),
    )
    cam = camera
    if cam is None:
        cam = Camera.looking_along_y(160, 120, 180.0, (0.0, -3.0, 0.0))
        cam.cx, cam.cy = 86.0, 55.0
    mesh = None
    if with_mesh:
        cols = 6
        x = np.linspace(-0.3, 0.3, cols)
        z = np.linspace(-0.5, 0.5, 3)
        xx, zz = np.meshgrid(x, z)
        v0 = np.stack([xx.ravel(), np.full(xx.size, -0.2), zz.ravel()], axis=1)
        faces = []
        for r in range(2):
            for c in range(cols - 1):
                a, b = r * cols + c, r * cols + c + 1
                faces += [[a, b, b + cols], [a, b + cols, a + cols]]
        verts = np.stack([v0 + np.array([0.1 * i / max(t - 1, 1), 0, 0.05 * i]) for i in range(t)]).astype(np.float32)
        uv = np.stack([(xx.ravel() + 0.3) / 0.6, (zz.ravel() + 0.5)], axis=1).astype(np.float32)
        tex = np.zeros((8, 8, 3), np.uint8)
        tex[:, :, 0] = np.linspace(0, 255, 8, dtype=np.uint8)[None, :]
        mesh = AnimatedMesh(vertices=verts, faces=np.array(faces, np.int32), uv=uv, texture=tex)
    manifest = {
        "mode": "two_image",
        "fps": fps,
        "keyframes": [0, t - 1],
        "camera": cam.to_dict(),
        "settings": {},
        "engines": {},
        "generator": {"name": "tween4d", "version": "test"},
        "timings_s": {},
    }
    return write_asset(out_dir, Asset(manifest=manifest, gaussians=g, mesh=mesh))


SCENE_DEPTH_RANGE = (2.0, 8.0)


def make_single_image_asset(out_dir: Path, *, subject: str = "scene", t: int = 9, width: int = 32, height: int = 24,
                            record_depth_range: bool = True) -> Path:
    """Write a small one-image asset (mode "single_image") and return its folder.

    One Gaussian per pixel of a ``width`` x ``height`` image seen by the input
    camera (3 m in front on -Y, looking +Y), unprojected at a depth that runs
    from 2 m (bottom row) to 8 m (top row), with a block in the middle at 3 m;
    behind the block a hidden layer of Gaussians at 4 m, flagged filled in
    (``filled`` = 1 in gaussians.npz, as asset-format.md asks for single-image
    assets). The seen points sway sideways over the frames, more toward the
    top. No mesh. For ``subject`` "scene" the manifest records the depth range
    (``SCENE_DEPTH_RANGE``) and the centre at its middle depth on the optical
    axis, as ``scene.depth_range_m`` / ``scene.centre``, unless
    ``record_depth_range`` is off; one far
    outlier at 60 m stretches the bounding box, so a rig framed on the bounding
    box would differ from one framed on the depth range.
    """
    cam = Camera.looking_along_y(width, height, 30.0, (0.0, -3.0, 1.0))
    rows, cols = np.mgrid[0:height, 0:width]
    uv = np.stack([cols.ravel() + 0.5, rows.ravel() + 0.5], axis=1)
    depth = 8.0 - 6.0 * rows.ravel() / (height - 1)
    block = (np.abs(cols.ravel() - width / 2) < width / 6) & (np.abs(rows.ravel() - height / 2) < height / 5)
    depth = np.where(block, 3.0, depth)
    seen = cam.unproject(uv, depth)
    hidden = cam.unproject(uv[block], np.full(block.sum(), 4.0))
    points = np.concatenate([seen, hidden, cam.unproject(np.array([[width / 2, 0.5]]), np.array([60.0]))])
    n = len(points)
    filled = np.zeros(n, np.int8)
    filled[len(seen):len(seen) + len(hidden)] = 1
    means = np.empty((t, n, 3), np.float32)
    for i in range(t):
        sway = 0.05 * np.sin(2 * np.pi * i / t) * (points[:, 2] - points[:, 2].min())
        means[i] = points + np.stack([sway, np.zeros(n), np.zeros(n)], axis=1)
    rng = np.random.default_rng(1)
    g = Gaussians(
        means=means,
        colors=rng.uniform(size=(n, 3)).astype(np.float32),
        opacities=np.full(n, 0.9, np.float32),
        scales=np.full((n, 3), 0.03, np.float32),
        rotations=np.tile(np.array([[1.0, 0, 0, 0]], np.float32), (n, 1)),
        source_pixel=np.concatenate([np.stack([rows.ravel(), cols.ravel()], 1), np.stack([rows.ravel()[block], cols.ravel()[block]], 1), [[0, width // 2]]]).astype(np.int32),
        filled=filled,
    )
    manifest = {
        "mode": "single_image", "fps": 24.0, "keyframes": [0], "camera": cam.to_dict(), "subject": subject,
        "motion": {"source": "preset", "preset": "sway", "amplitude": 1.0, "period_frames": None,
                   "direction_deg": 0.0, "loop": True},
        "settings": {}, "engines": {}, "generator": {"name": "tween4d", "version": "test"}, "timings_s": {},
    }
    if subject == "scene" and record_depth_range:  # as backend.pipeline.one_image records it
        mid = sum(SCENE_DEPTH_RANGE) / 2
        centre = cam.unproject(np.array([cam.cx, cam.cy]), np.array(mid))
        manifest["scene"] = {"depth_range_m": list(SCENE_DEPTH_RANGE), "centre": [float(v) for v in centre]}
    return Path(write_asset(out_dir, Asset(manifest=manifest, gaussians=g)))


@pytest.fixture(scope="session")
def tween4d_pkg():
    """The repository imported as package ``tween4d``."""
    return load_package()


@pytest.fixture(scope="session")
def asset_dir(tmp_path_factory) -> Path:
    """A complete asset folder: 500 Gaussians x 8 frames + a 36-triangle textured mesh."""
    return make_test_asset(tmp_path_factory.mktemp("assets") / "wobble")


@pytest.fixture()
def empty_scene():
    """An empty factory scene (no camera, frame_start 1) for each test."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    yield bpy.context.scene


OPERATOR_MODULES = ("import_asset", "export", "camera_rig")


@pytest.fixture(scope="session")
def tween4d_operators():
    """Register this package's import / export / camera-rig operators (unless already registered)."""
    load_package()
    mine = []
    for name in OPERATOR_MODULES:
        module = importlib.import_module(f"{PACKAGE}.addon.operators.{name}")
        for cls in module.classes:
            if not hasattr(bpy.types, cls.__name__):
                bpy.utils.register_class(cls)
                mine.append(cls)
    yield bpy.ops.tween4d
    for cls in reversed(mine):
        bpy.utils.unregister_class(cls)


DATA_KINDS = ("objects", "meshes", "materials", "node_groups", "images", "cameras", "collections", "actions", "shape_keys")


def datablock_counts() -> dict[str, int]:
    """How many datablocks of each kind the file holds (to catch leftovers and orphans)."""
    return {k: len(getattr(bpy.data, k)) for k in DATA_KINDS}


def evaluated_vertices(obj, scene, frame: int, world: bool = False) -> np.ndarray:
    """float32 [V, 3] vertex positions of ``obj`` after its modifiers at ``frame`` (object space, or world)."""
    scene.frame_set(frame)
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    mesh = ev.to_mesh()
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    ev.to_mesh_clear()
    co = co.reshape(-1, 3)
    if world:
        mw = np.array(ev.matrix_world)
        co = co @ mw[:3, :3].T + mw[:3, 3]
    return co


def match_order(got0: np.ndarray, want0: np.ndarray, tol: float = 1e-4) -> np.ndarray:
    """Index into ``got0`` for each wanted vertex (exporters may reorder or split vertices).

    Raises:
        AssertionError: some wanted vertex has no counterpart within ``tol`` metres.
    """
    d = np.linalg.norm(got0[None, :, :] - want0[:, None, :], axis=2)
    order = d.argmin(axis=1)
    assert d[np.arange(len(want0)), order].max() < tol
    return order
