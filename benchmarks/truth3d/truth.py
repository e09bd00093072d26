"""3D-truth cases on disk: cameras, silhouettes and carried surface points (numpy only, no bpy).

A case folder ``.cache/truth3d/<case>/`` holds

* ``start.png``, ``end.png``: RGBA renders (transparent background) of the
  first and last frame from the input camera (Cycles, see ``generate.py``);
* ``truth.npz``:
  - ``vertices`` float32 [T, V, 3]: the evaluated mesh per frame, world metres
    (Blender frame, +Z up), all objects of the scene joined;
  - ``faces`` int32 [F, 3]: its triangles (topology fixed over time);
  - ``points`` float32 [T, P, 3]: surface points carried by the same
    triangles through time (``point_face`` int32 [P], ``point_bary``
    float32 [P, 3] fixed barycentric weights);
  - ``moving`` bool [P]: the point travels more than ``MOVING_FRACTION`` of
    the bounding-box diagonal away from its frame-0 position at some frame;
  - ``silhouettes`` bool [C, T, H, W]: the mesh rasterised from each camera
    of ``CAMERA_NAMES`` (C = 5: the input view, then left, right, back, top);
* ``frames/NNNN.png``: with ``generate.py --frames-rgb``, every frame rendered
  from the input camera (the true in-between images);
* ``references.json``: written by ``benchmarks/bench_3d.py``, the cached
  scores of the truth-built references (removed when the case is rebuilt);
* ``case.json``: the cameras (``backend.asset.Camera.to_dict`` form: size,
  intrinsics in pixels, camera-to-world ``matrix_world`` in Blender's camera
  convention), the frame count, a description and tags.

Silhouettes are rasterised from the mesh (``backend.render.rasterize``: a
pixel is covered when its centre lies inside a projected triangle), not
rendered, so they are exact and cheap.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backend.asset import Camera
from backend.render.rasterize import rasterize

CAMERA_NAMES = ("front", "left", "right", "back", "top")
SIDE_CAMERAS = CAMERA_NAMES[1:]
MOVING_FRACTION = 0.01
FOCAL_MM, SENSOR_MM = 85.0, 36.0  # the input camera the pipeline assumes (85 mm on a 36 mm sensor)
FORMAT_VERSION = 1


def look_at(position, target, up) -> np.ndarray:
    """Camera-to-world matrix (Blender convention: looks down local -Z, local +Y = image up).

    Args:
        position, target: float [3] world metres.
        up: float [3] world direction that should appear up in the image.

    Returns:
        float64 [4, 4] rigid ``matrix_world``.

    Raises:
        ValueError: the view direction is parallel to ``up`` or zero.
    """
    position = np.asarray(position, np.float64)
    forward = np.asarray(target, np.float64) - position
    n = np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, np.float64))
    if n < 1e-12 or np.linalg.norm(right) < 1e-9 * n:
        raise ValueError("look_at needs a view direction that is non-zero and not parallel to up")
    forward /= n
    right /= np.linalg.norm(right)
    cam_up = np.cross(right, forward)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, cam_up, -forward, position
    return m


def benchmark_cameras(vertices: np.ndarray, size: int, fill: float = 0.85) -> dict[str, Camera]:
    """The input camera (looking along +Y) and four side cameras framing every frame of the object.

    All five share the 85 mm-equivalent square intrinsics (fx = fy = 85/36 * size)
    and look at the centre c of the bounding box of all frames. Each sits at
    the distance where the object, over all frames, spans ``fill`` of the image
    in its larger direction: d = depth_half + extent / (fill * tan(half_fov)),
    with extent the largest offset from c across the view and depth_half the
    largest along it (so even the nearest points stay inside). left looks
    along +X, right along -X, back along -Y (all with +Z up); top looks down
    -Z with +Y up.

    Args:
        vertices: float [T, V, 3] world metres.
        size: image width = height in pixels.
        fill: fraction of the image the object spans.

    Returns:
        name -> ``Camera`` for ``CAMERA_NAMES``.
    """
    pts = np.asarray(vertices, np.float64).reshape(-1, 3)
    centre = (pts.min(axis=0) + pts.max(axis=0)) / 2
    rel = pts - centre
    focal = FOCAL_MM / SENSOR_MM * size
    tan_half = size / 2 / focal
    z = np.array([0.0, 0.0, 1.0])
    views = {
        "front": (np.array([0.0, -1.0, 0.0]), z),
        "left": (np.array([-1.0, 0.0, 0.0]), z),
        "right": (np.array([1.0, 0.0, 0.0]), z),
        "back": (np.array([0.0, 1.0, 0.0]), z),
        "top": (np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0])),
    }
    cams = {}
    for name, (away, up) in views.items():
        axis_depth = np.abs(rel @ away).max()
        across = np.linalg.norm(rel - np.outer(rel @ away, away), axis=1).max()
        dist = axis_depth + across / (fill * tan_half)
        cams[name] = Camera(size, size, focal, focal, size / 2, size / 2, look_at(centre + dist * away, centre, up))
    return cams


def mesh_silhouette(vertices: np.ndarray, faces: np.ndarray, camera: Camera) -> np.ndarray:
    """bool [H, W]: pixels whose centre lies inside a projected triangle (world-metre vertices [V, 3])."""
    uv, depth = camera.project(np.asarray(vertices, np.float64))
    faces = np.asarray(faces, np.int64)
    keep = (depth[faces] > 1e-6).all(axis=1)
    return rasterize(uv, faces[keep], camera.width, camera.height).mask


def sample_surface(vertices: np.ndarray, faces: np.ndarray, count: int, seed: int = 0
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Area-weighted random (triangle, barycentric) samples on a triangle mesh.

    Args:
        vertices: float [V, 3] one frame (its areas weight the triangles).
        faces: int [F, 3].
        count: number of samples P.
        seed: random seed.

    Returns:
        (face int32 [P], bary float32 [P, 3]) uniform over the surface area.
    """
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    area = 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)
    rng = np.random.default_rng(seed)
    face = rng.choice(len(f), size=count, p=area / area.sum())
    r1, r2 = rng.random(count), rng.random(count)
    s = np.sqrt(r1)
    bary = np.stack([1 - s, s * (1 - r2), s * r2], axis=1)
    return face.astype(np.int32), bary.astype(np.float32)


def carry_points(vertices: np.ndarray, faces: np.ndarray, face: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """Surface points carried by fixed (triangle, barycentric) pairs: float [T, V, 3] -> float32 [T, P, 3]."""
    tri = np.asarray(faces, np.int64)[np.asarray(face, np.int64)]  # [P, 3]
    v = np.asarray(vertices, np.float64)
    return np.einsum("tpkc,pk->tpc", v[:, tri], np.asarray(bary, np.float64)).astype(np.float32)


def bbox_diagonal(points: np.ndarray) -> float:
    """Diagonal (metres) of the axis-aligned box around all points of all frames, [..., 3]."""
    p = np.asarray(points, np.float64).reshape(-1, 3)
    return float(np.linalg.norm(p.max(axis=0) - p.min(axis=0)))


@dataclass
class TruthCase:
    """One 3D-truth case loaded from the cache (see the module docstring for the arrays).

    Attributes:
        name: the case name (its folder name).
        vertices: float32 [T, V, 3] world metres; faces: int32 [F, 3].
        points: float32 [T, P, 3] carried surface points; moving: bool [P].
        silhouettes: bool [C, T, H, W] for ``CAMERA_NAMES``.
        cameras: name -> ``backend.asset.Camera``.
        path: the case folder; meta: ``case.json``.
    """

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    points: np.ndarray
    moving: np.ndarray
    silhouettes: np.ndarray
    cameras: dict
    path: Path | None = None
    meta: dict = field(default_factory=dict)

    @property
    def frame_count(self) -> int:
        """T, the number of frames."""
        return int(self.vertices.shape[0])

    @property
    def diagonal(self) -> float:
        """Bounding-box diagonal of the truth over all frames, metres."""
        return bbox_diagonal(self.vertices)

    @property
    def start_image(self) -> Path:
        """The first frame rendered from the input camera (RGBA PNG)."""
        return Path(self.path) / "start.png"

    @property
    def end_image(self) -> Path:
        """The last frame rendered from the input camera (RGBA PNG)."""
        return Path(self.path) / "end.png"


def build_truth(vertices: np.ndarray, faces: np.ndarray, size: int, point_count: int = 4000, seed: int = 0
                ) -> dict:
    """Cameras, silhouettes and carried points of an animated mesh.

    Args:
        vertices: float [T, V, 3] world metres per frame.
        faces: int [F, 3] fixed topology.
        size: square image size in pixels.
        point_count: carried surface points P.
        seed: sampling seed.

    Returns:
        dict with ``cameras`` (name -> Camera) and the ``truth.npz`` arrays.
    """
    vertices = np.asarray(vertices, np.float32)
    faces = np.asarray(faces, np.int32)
    cams = benchmark_cameras(vertices, size)
    face, bary = sample_surface(vertices[0], faces, point_count, seed)
    points = carry_points(vertices, faces, face, bary)
    travel = np.linalg.norm(points - points[:1], axis=2).max(axis=0)
    moving = travel > MOVING_FRACTION * bbox_diagonal(vertices)
    sil = np.stack([np.stack([mesh_silhouette(v, faces, cams[c]) for v in vertices]) for c in CAMERA_NAMES])
    return {"cameras": cams, "vertices": vertices, "faces": faces, "points": points, "point_face": face,
            "point_bary": bary, "moving": moving, "silhouettes": sil}


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_truth(case_dir: Path, truth: dict, meta: dict) -> None:
    """Write ``truth.npz`` and ``case.json`` into ``case_dir`` (atomically, each file)."""
    case_dir = Path(case_dir)
    case_dir.mkdir(parents=True, exist_ok=True)
    arrays = {k: v for k, v in truth.items() if k != "cameras"}

    def write_npz(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    _atomic_write(case_dir / "truth.npz", write_npz)
    doc = dict(meta, format_version=FORMAT_VERSION, frame_count=int(truth["vertices"].shape[0]),
               camera_names=list(CAMERA_NAMES),
               cameras={n: c.to_dict() for n, c in truth["cameras"].items()})
    _atomic_write(case_dir / "case.json", lambda tmp: Path(tmp).write_text(json.dumps(doc, indent=1)))


def load_truth(case_dir: str | os.PathLike) -> TruthCase:
    """Read a case folder written by ``generate.py``.

    Raises:
        FileNotFoundError: the folder lacks ``truth.npz`` or ``case.json``
            (rebuild the cache: ``.venv/bin/python benchmarks/truth3d/generate.py``).
    """
    case_dir = Path(case_dir)
    if not (case_dir / "truth.npz").is_file() or not (case_dir / "case.json").is_file():
        raise FileNotFoundError(f"{case_dir} is not a complete truth case: rebuild it with "
                                "`.venv/bin/python benchmarks/truth3d/generate.py`")
    meta = json.loads((case_dir / "case.json").read_text())
    with np.load(case_dir / "truth.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    cams = {n: Camera.from_dict(d) for n, d in meta["cameras"].items()}
    return TruthCase(name=case_dir.name, vertices=arrays["vertices"], faces=arrays["faces"],
                     points=arrays["points"], moving=arrays["moving"], silhouettes=arrays["silhouettes"],
                     cameras=cams, path=case_dir, meta=meta)
