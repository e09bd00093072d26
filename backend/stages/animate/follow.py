"""Carrying the per-pixel Gaussians along a motion: surfaces, 2D meshes, 2D tracks.

* ``follow_surface``: every point follows the ``Shape3D`` triangle it sits on
  (barycentric coordinates from frame 0), for objects animated through the
  two-image keyframes and lift stages;
* ``follow_mesh_2d``: points of a scene's foreground layer follow their 2D
  silhouette-mesh triangle at constant depth: P_t = unproject(uv_t, z_0);
* ``lift_tracks``: MoRe4D's "sequential" lifting of dense 2D tracks (Zhang et
  al., arXiv 2512.05044, App. Fig. A): P_t = unproject(track_t, z_0 * r_t)
  with r_t = z_t / z_0 the per-frame depth ratio; filled-in points copy the
  3D displacement of the nearest seen point of their layer kind;
* ``normalised_motion``: MoRe4D's depth-normalised motion (Sec. 3.2):
  (dx f / (W z), dy f / (H z), dz / z) in camera axes, whose scale does not
  depend on the distance; summarised for ``asset.json``.
"""

from __future__ import annotations

import numpy as np

from ...geometry2d.mesh_ops import barycentric
from ...render.rasterize import rasterize
from ...types import PixelGaussians, SilhouetteMesh


def follow_surface(points: PixelGaussians, faces: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """float64 [T, N, 3]: points carried by their triangles of a moving surface.

    Args:
        points: with ``face`` [N] and ``bary`` [N, 3] (objects).
        faces: int [F, 3] the surface's triangles.
        vertices: float [T, V, 3] the surface per frame (frame 0 = rest).
    """
    tri = np.asarray(faces)[points.face]  # [N, 3]
    on_surface = np.einsum("nk,tnkd->tnd", points.bary, np.asarray(vertices)[:, tri])
    return on_surface + (points.means - on_surface[0])[None]


def follow_mesh_2d(points: PixelGaussians, movable: np.ndarray, mesh: SilhouetteMesh, trajectories: np.ndarray,
                   camera) -> np.ndarray:
    """float64 [T, N, 3]: ``movable`` points follow their 2D mesh triangle at constant depth; the rest stay.

    Args:
        points: the Gaussians (``uv`` working pixels, ``means`` at frame 0).
        movable: bool [N].
        mesh: the 2D mesh; trajectories: float [T, V, 2] its vertices per frame.
        camera: the working-resolution input camera.
    """
    t_count = len(trajectories)
    out = np.repeat(points.means[None], t_count, axis=0)
    idx = np.nonzero(movable)[0]
    if len(idx) == 0:
        return out
    raster = rasterize(mesh.vertices, mesh.faces, camera.width, camera.height)
    uv = points.uv[idx]
    r = np.clip(np.floor(uv[:, 1]).astype(int), 0, camera.height - 1)
    c = np.clip(np.floor(uv[:, 0]).astype(int), 0, camera.width - 1)
    face = raster.face_id[r, c]
    hit = face >= 0
    idx, uv, face = idx[hit], uv[hit], face[hit]
    bary = barycentric(uv, mesh.vertices[mesh.faces[face]])
    _, z0 = camera.project(points.means[idx])
    uv_t = np.einsum("nk,tnkd->tnd", bary, np.asarray(trajectories)[:, mesh.faces[face]])
    out[:, idx] = camera.unproject(uv_t, np.broadcast_to(z0, uv_t.shape[:2]))
    return out


def lift_tracks(points: PixelGaussians, query: np.ndarray, tracks: np.ndarray, depth_ratio: np.ndarray,
                camera) -> np.ndarray:
    """float64 [T, N, 3] from 2D tracks of the ``query`` points (module docstring).

    Args:
        points: the Gaussians.
        query: int [M] indices of the tracked (seen) points.
        tracks: float [T, M, 2] their working-pixel positions per frame (frame 0 = their ``uv``).
        depth_ratio: float [T, M] z_t / z_0.
        camera: the working-resolution input camera.
    """
    tracks = np.asarray(tracks, np.float64)
    t_count = len(tracks)
    _, z0 = camera.project(points.means[query])
    lifted = camera.unproject(tracks, z0[None] * np.asarray(depth_ratio, np.float64))
    lifted += (points.means[query] - lifted[0])[None]  # frame 0 is exactly the rest point
    out = np.repeat(points.means[None], t_count, axis=0)
    out[:, query] = lifted
    rest = np.setdiff1d(np.arange(points.count), query)
    if len(rest):
        from scipy.spatial import cKDTree

        kind = points.layer > 0
        for k in (False, True):
            src = query[kind[query] == k]
            dst = rest[kind[rest] == k]
            if len(dst) == 0:
                continue
            if len(src) == 0:
                src = query
            _, j = cKDTree(points.uv[src]).query(points.uv[dst])
            out[:, dst] = points.means[dst][None] + (out[:, src[j]] - points.means[src[j]][None])
    return out


def normalised_motion(means: np.ndarray, camera) -> dict:
    """MoRe4D's depth-normalised motion of trajectories [T, N, 3], summarised.

    Returns:
        {"max": [3], "mean": [3]} of |(dx f / (W z), dy f / (H z), dz / z)| over
        points and frames, with (dx, dy, dz) the displacement from frame 0 in
        camera axes (x right, y down, z forward) and z the frame-0 depth.
    """
    means = np.asarray(means)[:, :: max(1, means.shape[1] // 20000)]  # a sample is enough for a summary
    m = np.asarray(camera.matrix_world, np.float64)
    rot = m[:3, :3]
    d = (means - means[:1]) @ rot  # Blender camera axes: x right, y up, -z forward
    _, z = camera.project(means[0])
    z = np.maximum(z, 1e-9)[None]
    n = np.stack([d[..., 0] * camera.fx / (camera.width * z), -d[..., 1] * camera.fy / (camera.height * z),
                  -d[..., 2] / z], axis=-1)
    a = np.abs(n)
    return {"max": [float(x) for x in a.reshape(-1, 3).max(0)], "mean": [float(x) for x in a.reshape(-1, 3).mean(0)]}


__all__ = ["follow_mesh_2d", "follow_surface", "lift_tracks", "normalised_motion"]
