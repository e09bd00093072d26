"""Shared 3D geometry: triangle-mesh operators and unit-quaternion maths (numpy + SciPy).

Base layer: used by the stages of both pipelines, by ``backend.gaussians`` and
by ``backend.render``; imports nothing from them.

* ``mesh_ops``: edges, boundary, Euler characteristic, cotangent Laplacian,
  lumped mass, face areas (Botsch et al., "Polygon Mesh Processing", 2010).
* ``quaternions``: (w, x, y, z) quaternion products, matrices, axis-angle and
  the rotation extraction of Müller et al. (MIG 2016).
"""

from .mesh_ops import (
    boundary_vertex_mask,
    cotangent_stiffness,
    cotangents,
    edge_weights,
    euler_characteristic,
    face_areas,
    is_closed_manifold,
    lumped_mass,
    unique_edges,
)
from .quaternions import (
    extract_rotations,
    matrix_from_quats,
    multiply,
    normalize,
    quats_from_axis_angle,
    quats_from_matrix,
)

__all__ = [
    "boundary_vertex_mask", "cotangent_stiffness", "cotangents", "edge_weights", "euler_characteristic",
    "extract_rotations", "face_areas", "is_closed_manifold", "lumped_mass", "matrix_from_quats", "multiply",
    "normalize", "quats_from_axis_angle", "quats_from_matrix", "unique_edges",
]
