"""Dynamic 3D Gaussians sampled on the lifted surface (weight-free engine)."""

from .sample import sample_gaussians

__all__ = ["sample_gaussians"]
