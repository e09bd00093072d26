"""Silhouette inflation: a closed, textured 2.5D surface from a 2D silhouette mesh.

Method: the thickness field solves a Poisson problem on the silhouette mesh,
-Δu = 2 inside, u = 0 on the outline, discretised with the cotangent
Laplacian and lumped mass matrix; the height is h = inflation * sqrt(u).
For a strip of width w, u = x (w - x) and sqrt(u) is a circle of radius w/2,
so inflation = 1 gives round cross-sections (the smooth-inflation idea of
Igarashi et al., "Teddy", SIGGRAPH 1999, and Johnston, "Lumo", NPAR 2002, in
the Poisson form used by Sýkora et al., "Ink-and-Ray", TOG 2014).

The surface has a front sheet at world y = -h (toward the camera) and a back
sheet at y = +h that share the silhouette (rim) vertices, so it is closed. The
back sheet mirrors the front one and reuses its texture coordinates: a
plausible fill for the unseen side.
"""

from __future__ import annotations

import cv2
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ...geometry3d.mesh_ops import cotangent_stiffness, lumped_mass
from ...types import Foreground, InputView, Shape3D, SilhouetteMesh
from .refine import RefinedMesh, refine_for_inflation

SIDE_FRONT, SIDE_RIM, SIDE_BACK = 1, 0, -1


def poisson_height(refined: RefinedMesh) -> np.ndarray:
    """sqrt(u) for -Δu = 2 inside, u = 0 on the rim, in pixels.

    Args:
        refined: a chord-free silhouette mesh (pixels).

    Returns:
        float64 [V'] >= 0, zero on rim vertices.
    """
    v, f = refined.vertices, refined.faces
    k = cotangent_stiffness(v, f)
    m = lumped_mass(v, f)
    inner = np.nonzero(~refined.rim)[0]
    u = np.zeros(len(v))
    if len(inner):
        a = k[inner][:, inner].tocsc()
        # Tiny diagonal shift: protects against an interior vertex not linked to any rim.
        a = a + sp.diags(np.full(len(inner), 1e-9 * max(a.diagonal().mean(), 1e-12)))
        u[inner] = spla.spsolve(a, 2.0 * m[inner])
    return np.sqrt(np.maximum(u, 0.0))


def bleed_texture(rgb: np.ndarray, mask: np.ndarray, alpha: np.ndarray | None = None, ring_px: int = 6) -> np.ndarray:
    """The image as uint8 with object colours extended a few pixels past the outline.

    Bilinear texture lookups at the silhouette would otherwise mix in the
    background; the ring outside the object (and its half-transparent edge)
    is filled by OpenCV's Telea inpainting (``cv2.inpaint``).

    Args:
        rgb: float [H, W, 3] sRGB 0..1.
        mask: bool [H, W] the object.
        alpha: optional float [H, W] matte; edge pixels below 0.9 are refilled.
        ring_px: width of the filled ring outside the mask.

    Returns:
        uint8 [H, W, 3].
    """
    img = np.clip(np.round(np.asarray(rgb, dtype=np.float32)[..., :3] * 255.0), 0, 255).astype(np.uint8)
    mask = np.asarray(mask, dtype=bool)
    # The outermost pixel ring mixes object and background (the halo of keyed
    # images): refill it from inside, except in parts too thin to have an inside.
    eroded = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    if alpha is not None:
        eroded &= np.asarray(alpha) >= 0.9
    near_core = cv2.dilate(eroded.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    known = eroded | (mask & ~near_core)
    if known.sum() < 0.5 * mask.sum():
        known = mask
    ring = cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ring_px + 1,) * 2))
    fill = (ring.astype(bool) & ~known).astype(np.uint8)
    if not fill.any() or not known.any():
        return img
    return cv2.inpaint(img, fill, 3, cv2.INPAINT_TELEA)


def build_shape(mesh: SilhouetteMesh, fg: Foreground, view: InputView, inflation: float = 0.7) -> Shape3D:
    """Inflate the start silhouette into a closed, textured 2.5D surface.

    Args:
        mesh: 2D silhouette mesh of the start object (working pixels, faces
            CCW in (u, -v)).
        fg: the start image's foreground at the working resolution (its
            ``rgb`` becomes the texture).
        view: the input view (``input_view``) of the same working resolution.
        inflation: thickness relative to a round cross-section (0 = flat
            double-sided card, 1 = round); >= 0.

    Returns:
        A ``Shape3D`` in world metres. Vertex layout: the refined 2D mesh's
        vertices in order form the front sheet (rim vertices have side 0,
        the others +1), followed by one back copy of every non-rim vertex
        (side -1). Front faces are counter-clockwise seen from -Y, back faces
        reversed: a closed, consistently oriented surface (Euler
        characteristic 2 per hole-free part). ``uv`` is each vertex's pixel
        normalised to 0..1 with origin bottom-left; ``texture`` is the start
        image (uint8, colours bled past the outline). ``source_vertex`` is the
        original 2D vertex of each 3D vertex (for vertices inserted by
        ``refine_for_inflation``, the original vertex with the largest weight).

    Raises:
        ValueError: malformed mesh, negative inflation, or a mesh/view size mismatch.
    """
    if not np.isfinite(inflation) or inflation < 0:
        raise ValueError(f"inflation must be >= 0, got {inflation!r}")
    w, h = view.size
    if fg.mask.shape != (h, w):
        raise ValueError(f"foreground is {fg.mask.shape[1]}x{fg.mask.shape[0]} but the view is {w}x{h}: "
                         "use the same working resolution")
    refined = refine_for_inflation(mesh)
    height_px = inflation * poisson_height(refined)
    height_m = height_px * view.metres_per_pixel
    inner = np.nonzero(~refined.rim)[0]
    n = len(refined.vertices)

    uv_px = refined.vertices
    front = view.to_world(uv_px, -height_m)
    back = view.to_world(uv_px[inner], height_m[inner])
    vertices = np.concatenate([front, back])

    back_index = np.arange(n)
    back_index[inner] = n + np.arange(len(inner))
    faces_front = refined.faces.astype(np.int64)
    faces_back = back_index[faces_front][:, ::-1]
    faces = np.concatenate([faces_front, faces_back]).astype(np.int32)

    uv_norm = np.stack([uv_px[:, 0] / w, 1.0 - uv_px[:, 1] / h], axis=1)
    uv = np.concatenate([uv_norm, uv_norm[inner]]).astype(np.float32)

    nearest = refined.nearest_original()
    source_vertex = np.concatenate([nearest, nearest[inner]]).astype(np.int32)
    side = np.concatenate([np.where(refined.rim, SIDE_RIM, SIDE_FRONT), np.full(len(inner), SIDE_BACK)]).astype(np.int8)
    texture = bleed_texture(fg.rgb, fg.mask, fg.alpha)
    pixel_weights = sp.vstack([refined.weights, refined.weights[inner]]).tocsr()
    return Shape3D(vertices=vertices, faces=faces, uv=uv, texture=texture, source_vertex=source_vertex, side=side,
                   pixel_weights=pixel_weights)


def surface_pixel_weights(shape: Shape3D, mesh: SilhouetteMesh) -> sp.csr_matrix:
    """How each ``Shape3D`` vertex's pixel follows the 2D mesh vertices (``Shape3D.pixel_weights_for``).

    Args:
        shape: a shape made by ``build_shape`` (or the depth engine) from ``mesh``.
        mesh: the same 2D silhouette mesh.

    Returns:
        scipy CSR [V3, V]: ``W @ trajectories[t]`` gives every 3D vertex's
        pixel position at frame t (rows are identity rows for vertices that
        stand on an original 2D vertex).

    Raises:
        ValueError: ``shape`` was not built from ``mesh``.
    """
    return shape.pixel_weights_for(mesh)
