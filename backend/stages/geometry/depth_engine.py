"""Geometry model engine "depth": the front of the 2.5D shape from monocular depth.

Depth Anything V2 (Yang et al., "Depth Anything V2", NeurIPS 2024; transformers
``DepthAnythingForDepthEstimation``) predicts *relative inverse depth*
(disparity, affine-invariant: d = a / z + b with unknown a > 0, b) for the
start image. Inside the silhouette it becomes the front height field of the
same closed surface the weight-free engine builds (``inflate.build_shape``):

1. crop the image to the object (plus a margin) so the model's 518-pixel input
   spends its resolution on the object; preprocess exactly as the model's
   ``DPTImageProcessor`` does (aspect-keeping resize to multiples of 14,
   bicubic, ImageNet mean/std) with Pillow and numpy;
2. robust-normalise the disparity inside the mask (median / 5-95 % spread,
   outliers clipped) and replace the outline ring, where the prediction mixes
   in the background, by the nearest inner value;
3. relief = disparity minus its harmonic interpolation from the silhouette
   (the silhouette stays on the object plane, as in the inflation engine, so
   the relief is zero there and a tilt of the whole object is removed);
4. smooth the relief on the mesh (one implicit Laplacian step, radius half a
   mesh edge);
5. fit its scale by least squares to the inflation height (area-weighted), so
   the metric depth stays as plausible as the inflation's: with the sole
   scale s of ``s * relief ~= inflation height``, affine depth ambiguity is
   resolved by the silhouette (offset) and the inflation prior (scale);
6. the back sheet keeps the inflation height (the unseen side).

When the relief carries no usable signal (flat, or anti-correlated with the
inflation: s <= 0) the front falls back to the inflation height, and a
warning is logged.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy import ndimage

from ...geometry3d.mesh_ops import cotangent_stiffness, lumped_mass, unique_edges
from ...types import Foreground, InputView, Shape3D, SilhouetteMesh
from .inflate import build_shape, poisson_height
from .refine import RefinedMesh, refine_for_inflation

log = logging.getLogger(__name__)

MODEL_KEY = "depth"

#: ImageNet statistics, the ``DPTImageProcessor`` defaults of Depth Anything V2.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: The crop around the object's bounding box, as a fraction of its larger side.
CROP_MARGIN = 0.15
#: Pixels of the outline ring whose disparity is replaced from inside.
EDGE_RING_PX = 1
#: Relief smoothing radius in mean mesh edge lengths: removes per-vertex sampling
#: noise; on an exact (oracle) disparity it costs about 1 % of shape correlation.
SMOOTH_EDGES = 0.5
#: RMS relief (normalised disparity units) below which the prediction counts as flat.
MIN_RELIEF = 1e-6


@dataclass(frozen=True)
class DepthPreprocessing:
    """How an image is turned into the model's ``pixel_values`` (the ``DPTImageProcessor`` settings).

    Attributes:
        height, width: target size before the multiple-of constraint (518 x 518
            for Depth Anything V2).
        multiple: both output sides are multiples of this (the ViT patch, 14).
        keep_aspect_ratio: scale both sides by the factor closer to 1 (the
            processor's rule), instead of stretching to height x width.
        mean, std: per-channel normalisation after scaling to 0..1.
    """

    height: int = 518
    width: int = 518
    multiple: int = 14
    keep_aspect_ratio: bool = True
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD

    @classmethod
    def from_folder(cls, folder: str | Path) -> "DepthPreprocessing":
        """Read ``preprocessor_config.json`` of a model folder; the defaults fill what it lacks."""
        path = Path(folder) / "preprocessor_config.json"
        if not path.is_file():
            return cls()
        cfg = json.loads(path.read_text())
        size = cfg.get("size") or {}
        return cls(
            height=int(size.get("height", cls.height)),
            width=int(size.get("width", cls.width)),
            multiple=int(cfg.get("ensure_multiple_of") or cls.multiple),
            keep_aspect_ratio=bool(cfg.get("keep_aspect_ratio", cls.keep_aspect_ratio)),
            mean=tuple(float(x) for x in cfg.get("image_mean", IMAGENET_MEAN)),
            std=tuple(float(x) for x in cfg.get("image_std", IMAGENET_STD)),
        )

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) the processor resizes an image of ``height`` x ``width`` to.

        Same rule as transformers' ``dpt.image_processing_dpt.get_resize_output_image_size``:
        with ``keep_aspect_ratio`` both sides use the scale closer to 1, then
        each side is rounded to the nearest multiple.
        """
        sh, sw = self.height / height, self.width / width
        if self.keep_aspect_ratio:
            if abs(1 - sw) < abs(1 - sh):
                sh = sw
            else:
                sw = sh

        def constrain(v: float) -> int:
            return max(self.multiple, int(round(v / self.multiple) * self.multiple))

        return constrain(sh * height), constrain(sw * width)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """``pixel_values`` float32 [1, 3, h, w] of an sRGB image (uint8 [H, W, 3] or float 0..1)."""
        from PIL import Image

        img = _to_uint8(rgb)
        oh, ow = self.output_size(img.shape[0], img.shape[1])
        # Pillow's bicubic on uint8, as the processor's PIL path (resample=3, BICUBIC).
        resized = np.asarray(Image.fromarray(img).resize((ow, oh), Image.Resampling.BICUBIC), dtype=np.float32)
        x = (resized / 255.0 - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint8:
        return np.ascontiguousarray(rgb[..., :3])
    return np.clip(np.round(rgb[..., :3].astype(np.float32) * 255.0), 0, 255).astype(np.uint8)


class MonocularDepth:
    """A loaded relative-depth model (Depth Anything V2 by default) on a device.

    Args:
        model: a transformers depth-estimation model (output ``predicted_depth``
            [B, h, w], larger = closer).
        preprocessing: its ``DepthPreprocessing``.
        device: ``torch.device`` it runs on.
        dtype: ``torch.dtype`` of its weights and inputs.
    """

    def __init__(self, model, preprocessing: DepthPreprocessing, device, dtype):
        self.model = model
        self.preprocessing = preprocessing
        self.device = device
        self.dtype = dtype

    @classmethod
    def load(cls, device: str = "auto", model_path: str | Path | None = None,
             cache_dir: str | Path | None = None) -> "MonocularDepth":
        """Load the registry's "depth" model from local files.

        Args:
            device: "auto" | "cpu" | "cuda".
            model_path: a model folder instead of the Hugging Face cache
                (else ``$TWEEN4D_MODEL_DEPTH``, else the pinned snapshot).
            cache_dir: Hugging Face hub cache folder.

        Raises:
            backend.errors.ModelUnavailableError: weights, libraries or CUDA missing
                (the message names the model and how to get it).
        """
        from ...models import load_transformers_model

        model, folder, dev, dtype = load_transformers_model(
            MODEL_KEY, "AutoModelForDepthEstimation", device=device, local_path=model_path, cache_dir=cache_dir,
            engine="depth geometry")
        return cls(model, DepthPreprocessing.from_folder(folder), dev, dtype)

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        """Relative inverse depth of one image.

        Args:
            rgb: sRGB uint8 [H, W, 3] or float [H, W, 3] in 0..1.

        Returns:
            float32 [H, W] disparity (larger = closer; arbitrary scale and
            offset), resized back to the image with bicubic interpolation as
            ``DPTImageProcessor.post_process_depth_estimation`` does.
        """
        import torch

        h, w = np.asarray(rgb).shape[:2]
        x = torch.from_numpy(self.preprocessing(rgb)).to(device=self.device, dtype=self.dtype)
        with torch.inference_mode():
            pred = self.model(pixel_values=x).predicted_depth
            pred = torch.nn.functional.interpolate(pred.float()[:, None], size=(h, w), mode="bicubic",
                                                   align_corners=False)[0, 0]
        return pred.cpu().numpy().astype(np.float32)


def object_crop_box(mask: np.ndarray, margin: float = CROP_MARGIN) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) pixel box around the mask's bounding box, grown by ``margin`` of its larger side.

    Raises:
        ValueError: the mask is empty.
    """
    mask = np.asarray(mask, dtype=bool)
    rows = np.nonzero(mask.any(axis=1))[0]
    cols = np.nonzero(mask.any(axis=0))[0]
    if len(rows) == 0:
        raise ValueError("the foreground mask is empty")
    pad = int(np.ceil(margin * max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)))
    h, w = mask.shape
    return (max(0, cols[0] - pad), max(0, rows[0] - pad), min(w, cols[-1] + 1 + pad), min(h, rows[-1] + 1 + pad))


def object_disparity(depth: MonocularDepth, rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Robust-normalised disparity of the object, defined on the whole image.

    Args:
        depth: a loaded ``MonocularDepth``.
        rgb: float [H, W, 3] sRGB 0..1 (or uint8), the start image at the working resolution.
        mask: bool [H, W] the object.

    Returns:
        float32 [H, W]: inside the mask (less an outline ring of
        ``EDGE_RING_PX``), (d - median) / (p95 - p5) clipped to the 1..99 %
        range; every other pixel holds the value of its nearest inner pixel,
        so bilinear lookups at the silhouette see the object, not the background.
    """
    mask = np.asarray(mask, dtype=bool)
    x0, y0, x1, y1 = object_crop_box(mask)
    disp = np.zeros(mask.shape, np.float32)
    disp[y0:y1, x0:x1] = depth.predict(np.asarray(rgb)[y0:y1, x0:x1])
    inner = cv2.erode(mask.astype(np.uint8), np.ones((2 * EDGE_RING_PX + 1,) * 2, np.uint8)).astype(bool)
    if inner.sum() < max(16, 0.25 * mask.sum()):
        inner = mask  # thin objects: no ring to spare
    finite = np.isfinite(disp)
    if not finite.all():
        ok = disp[inner & finite]
        disp[~finite] = float(np.median(ok)) if len(ok) else 0.0
    values = disp[inner]
    lo, p5, med, p95, hi = np.percentile(values, [1, 5, 50, 95, 99])
    spread = float(p95 - p5)
    norm = (np.clip(disp, lo, hi) - med) / spread if spread > 1e-12 else np.zeros_like(disp)
    _, (iy, ix) = ndimage.distance_transform_edt(~inner, return_indices=True)
    return norm[iy, ix].astype(np.float32)


def sample_at_vertices(image: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear samples of a float [H, W] image at pixel positions (u, v) [N, 2] (pixel centres at +0.5)."""
    uv = np.asarray(uv, dtype=np.float32)
    map_x = (uv[:, 0] - 0.5).reshape(-1, 1)
    map_y = (uv[:, 1] - 0.5).reshape(-1, 1)
    out = cv2.remap(np.asarray(image, np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.ravel().astype(np.float64)


def _solve_interior(refined: RefinedMesh, a: sp.csr_matrix, rhs: np.ndarray) -> np.ndarray:
    inner = np.nonzero(~refined.rim)[0]
    aii = a[inner][:, inner].tocsc()
    aii = aii + sp.diags(np.full(len(inner), 1e-9 * max(aii.diagonal().mean(), 1e-12)))
    return spla.spsolve(aii, rhs)


@dataclass
class DepthFit:
    """How the predicted relief was turned into the front height.

    Attributes:
        scale: s of ``front = s * relief`` (pixels per normalised disparity unit).
        correlation: area-weighted correlation of the relief with the inflation height.
        fallback: True when the front fell back to the inflation height.
        residual: RMS of ``front - inflation height`` over interior vertices,
            relative to the RMS inflation height.
    """

    scale: float
    correlation: float
    fallback: bool
    residual: float


def front_height_from_disparity(refined: RefinedMesh, disparity: np.ndarray, inflation_height: np.ndarray,
                                smooth: float = SMOOTH_EDGES) -> tuple[np.ndarray, DepthFit]:
    """Front height field (pixels) of the shape from per-vertex disparity.

    Args:
        refined: the chord-free silhouette mesh (``refine_for_inflation``).
        disparity: float [V'] normalised disparity at the refined vertices
            (larger = closer to the camera).
        inflation_height: float [V'] >= 0 the inflation engine's height, zero on
            the rim (pixels).
        smooth: smoothing radius in mean mesh edge lengths (0 = none).

    Returns:
        (height float64 [V'] >= 0, zero on the rim; ``DepthFit``). Method:
        relief = disparity - harmonic interpolation of its rim values (cotangent
        Laplace equation), one implicit smoothing step (M + r^2 K) x = M relief
        with the rim held at zero, then the least-squares scale
        s = <relief, h>_M / <relief, relief>_M against the inflation height h.
    """
    v, f = refined.vertices, refined.faces
    rim = refined.rim
    inner = np.nonzero(~rim)[0]
    d = np.asarray(disparity, dtype=np.float64)
    h_inf = np.asarray(inflation_height, dtype=np.float64)
    out = np.zeros(len(v))
    if len(inner) == 0:
        return out, DepthFit(0.0, 0.0, True, 0.0)
    k = cotangent_stiffness(v, f)
    m = lumped_mass(v, f)
    # Harmonic extension of the rim values: K_ii x_i = -K_ib d_b.
    rim_idx = np.nonzero(rim)[0]
    base = d.copy()
    base[inner] = _solve_interior(refined, k, -(k[inner][:, rim_idx] @ d[rim_idx]))
    relief = np.zeros(len(v))
    relief[inner] = d[inner] - base[inner]
    if smooth > 0:
        edges, _ = unique_edges(f)
        ell = float(np.linalg.norm(v[edges[:, 0]] - v[edges[:, 1]], axis=1).mean())
        a = sp.diags(m) + (smooth * ell) ** 2 * k
        relief[inner] = _solve_interior(refined, a.tocsr(), m[inner] * relief[inner])
    mi, r, h = m[inner], relief[inner], h_inf[inner]
    rr = float((mi * r * r).sum())
    hh = float((mi * h * h).sum())
    flat = np.sqrt(rr / mi.sum()) < MIN_RELIEF * max(1.0, float(np.std(d[inner])))
    scale = 0.0 if flat else float((mi * r * h).sum()) / rr
    rc, hc = r - np.average(r, weights=mi), h - np.average(h, weights=mi)
    denom = np.sqrt(float((mi * rc * rc).sum()) * float((mi * hc * hc).sum()))
    corr = float((mi * rc * hc).sum()) / denom if denom > 1e-18 else 0.0
    fallback = not (scale > 0 and np.isfinite(scale))
    if fallback:
        out[inner] = h
    else:
        out[inner] = np.maximum(scale * r, 0.0)
    resid = float(np.sqrt((mi * (out[inner] - h) ** 2).sum() / hh)) if hh > 0 else 0.0
    return out, DepthFit(scale=scale if not fallback else 0.0, correlation=corr, fallback=fallback, residual=resid)


def build_shape_from_depth(mesh: SilhouetteMesh, fg: Foreground, view: InputView, inflation: float = 0.7, *,
                           device: str = "auto", model_path: str | Path | None = None,
                           cache_dir: str | Path | None = None, depth_model: Optional[MonocularDepth] = None,
                           smooth: float = SMOOTH_EDGES, progress=None) -> Shape3D:
    """A closed, textured 2.5D surface whose front follows monocular depth.

    Same contract as ``backend.stages.geometry.build_shape`` (the weight-free
    inflation engine): same vertex layout (refined 2D vertices = front sheet,
    rim vertices side 0, then one back copy per interior vertex), faces, UVs,
    texture, ``source_vertex`` and ``side``; only the front sheet's depth
    differs. Every front vertex still projects exactly onto its pixel through
    ``view.camera_work`` (it moves along its viewing ray).

    Args:
        mesh: 2D silhouette mesh of the start object (working pixels).
        fg: the start image's foreground at the working resolution.
        view: the input view of the same working resolution.
        inflation: thickness of the back sheet and the scale prior of the
            front (relative to a round cross-section), >= 0.
        device: "auto" | "cpu" | "cuda".
        model_path: a Depth Anything model folder (else ``$TWEEN4D_MODEL_DEPTH``,
            else the pinned Hugging Face snapshot).
        cache_dir: Hugging Face hub cache folder.
        depth_model: an already loaded ``MonocularDepth`` (then device,
            model_path and cache_dir are ignored).
        smooth: relief smoothing radius in mesh edge lengths.
        progress: optional object with ``update(fraction, message)``; may raise
            ``backend.errors.Cancelled``.

    Returns:
        ``Shape3D`` in world metres.

    Raises:
        backend.errors.ModelUnavailableError: model weights, packages or CUDA missing.
        ValueError: as ``build_shape`` (bad inflation, size mismatch, malformed mesh).
    """
    shape = build_shape(mesh, fg, view, inflation)  # validates the inputs and assembles the surface
    if progress is not None:
        progress.update(0.1, "loading the depth model")
    model = depth_model or MonocularDepth.load(device=device, model_path=model_path, cache_dir=cache_dir)
    if progress is not None:
        progress.update(0.3, "predicting depth")
    disparity_map = object_disparity(model, fg.rgb, fg.mask)
    if progress is not None:
        progress.update(0.8, "fitting the front surface")
    refined = refine_for_inflation(mesh)
    n = len(refined.vertices)
    if len(shape.vertices) != n + int((~refined.rim).sum()):
        raise RuntimeError("inflate.build_shape changed its vertex layout; depth_engine must follow it")
    h_inf = inflation * poisson_height(refined)
    disparity = sample_at_vertices(disparity_map, refined.vertices)
    front_px, fit = front_height_from_disparity(refined, disparity, h_inf, smooth=smooth)
    if fit.fallback and inflation > 0:
        log.warning("depth engine: the predicted depth has no usable relief inside the silhouette; "
                    "the front follows the inflation instead")
    vertices = shape.vertices.copy()
    vertices[:n] = view.to_world(refined.vertices, -front_px * view.metres_per_pixel)
    if progress is not None:
        progress.update(1.0, "depth surface done")
    return Shape3D(vertices=vertices, faces=shape.faces, uv=shape.uv, texture=shape.texture,
                   source_vertex=shape.source_vertex, side=shape.side, pixel_weights=shape.pixel_weights)
