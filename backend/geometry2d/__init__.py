"""2D geometry of the two-image engine: silhouette mesh, correspondence, ARAP registration and interpolation, warps."""

from .silhouette_mesh import build_silhouette_mesh

__all__ = ["build_silhouette_mesh"]
