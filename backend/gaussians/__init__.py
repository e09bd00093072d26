"""Dynamic 3D Gaussians sampled on the lifted surface."""
