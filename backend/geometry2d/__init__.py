"""2D geometry of the two-image engine (weight-free, CPU).

* ``build_silhouette_mesh``: constrained quality triangulation of a foreground mask.
* ``register_mesh``: ARAP registration of the start mesh onto the end image
  (feature matches, outline correspondences, optical flow, silhouettes, limb placement).
* ``contour_correspondences``: outline matches between two silhouettes by
  inner-distance shape context (Ling & Jacobs 2007) and dynamic programming.
* ``arap_interpolate`` / ``ArapInterpolator``: as-rigid-as-possible shape
  interpolation (Alexa, Cohen-Or & Levin 2000).
* ``render_inbetween_frames``: textured in-between images along the mesh.
* ``warp_maps``: piecewise-affine warps through the shared rasterizer.
"""

from .arap_interpolation import ArapInterpolator, arap_interpolate
from .arap_registration import Registration, RegistrationConfig, mask_iou, register_mesh
from .contour_matching import ContourMatches, contour_correspondences
from .correspondence import Matches, dense_flow, group_matches, match_features
from .inbetween_frames import overlay_mesh, render_inbetween_frames
from .silhouette_mesh import build_silhouette_mesh
from .warp import WarpMaps, warp_maps

__all__ = ["ArapInterpolator", "ContourMatches", "Matches", "Registration", "RegistrationConfig", "WarpMaps",
           "arap_interpolate", "build_silhouette_mesh", "contour_correspondences", "dense_flow", "group_matches",
           "mask_iou", "match_features", "overlay_mesh", "register_mesh", "render_inbetween_frames", "warp_maps"]
