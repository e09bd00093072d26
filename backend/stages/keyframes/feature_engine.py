"""Keyframes model engine "features": a feature-similarity hierarchy on the in-between images.

In-2-4D (Nag et al., "In-2-4D: Inbetweening from Two Single-View Images to
4D Generation", 2025, Sec. 3, hierarchical keyframes) picks keyframes that
are visually close to their neighbours while the motion between them stays
small. Here "visually close" is measured with DINOv2 image features (Oquab et
al., "DINOv2: Learning Robust Visual Features without Supervision", TMLR
2024; transformers ``Dinov2Model``):

1. every in-between frame is cropped to the region the object sweeps over
   (the union of its mesh trajectories, plus a margin; the same crop for all
   frames so they stay comparable), resized keeping its aspect to about the
   processor's crop area in multiples of the patch size, and normalised with
   the processor's ImageNet mean/std (numpy + Pillow, no torchvision);
2. its embedding is the L2-normalised CLS token, the L2-normalised mean of the
   patch tokens, or both concatenated (the DINOv2 paper's linear-probe
   feature, default), and frames are compared by cosine distance;
3. hierarchical bisection: starting from [0, T-1], a segment is split while
   the feature distance between its end keyframes exceeds the threshold; the
   split frame is the one inside that balances the distances to both ends
   (ties: the largest change to its neighbours, then the one nearest the
   middle), so keyframes gather where the appearance changes fastest.
   Segments with the largest distance are split first, so a
   ``max_keyframes`` cap keeps the most useful splits.

The default threshold is relative (a fraction of the largest distance between
any two frames), since cosine distances of DINOv2 features have no fixed
scale across objects; pass ``threshold`` for an absolute one.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ...settings import GenerateSettings
from ...types import Motion2D, SilhouetteMesh

MODEL_KEY = "features"
POOLINGS = ("cls", "mean", "cls+mean")
DEFAULT_POOLING = "cls+mean"

#: Default threshold, as a fraction of the largest feature distance between any two frames.
RELATIVE_THRESHOLD = 0.35
#: Below this largest cosine distance the frames count as one appearance: no keyframes inside.
STATIC_DISTANCE = 1e-4
#: Margin around the swept object region, as a fraction of its larger side.
CROP_MARGIN = 0.1
BATCH_SIZE = 8
#: Split costs within this relative amount of the smallest one are ties (broken toward the middle).
TIE_TOLERANCE = 1e-3

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class FeaturePreprocessing:
    """How a frame is turned into DINOv2 ``pixel_values``.

    Attributes:
        side: the processor's square crop side (224 for facebook/dinov2-*);
            frames are resized to about side x side pixels of area, keeping
            their aspect (no centre crop, which could cut the object).
        patch: the ViT patch size; both output sides are multiples of it.
        mean, std: per-channel normalisation after scaling to 0..1.
    """

    side: int = 224
    patch: int = 14
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD

    @classmethod
    def from_folder(cls, folder: str | Path, patch: int = 14) -> "FeaturePreprocessing":
        """Read ``preprocessor_config.json`` (``crop_size``, mean, std) of a model folder; defaults fill gaps."""
        path = Path(folder) / "preprocessor_config.json"
        cfg = json.loads(path.read_text()) if path.is_file() else {}
        crop = cfg.get("crop_size")
        side = int(crop.get("height", cls.side)) if isinstance(crop, dict) else cls.side
        return cls(side=side, patch=int(patch),
                   mean=tuple(float(x) for x in cfg.get("image_mean", IMAGENET_MEAN)),
                   std=tuple(float(x) for x in cfg.get("image_std", IMAGENET_STD)))

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width): area about side^2, the input's aspect, sides multiples of ``patch`` (>= 1 patch)."""
        scale = self.side / np.sqrt(float(height) * float(width))
        oh = max(1, int(round(height * scale / self.patch))) * self.patch
        ow = max(1, int(round(width * scale / self.patch))) * self.patch
        return oh, ow

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """float32 [N, 3, h, w] from uint8 [N, H, W, 3] sRGB frames (bicubic resize, as the processor's resample=3)."""
        from PIL import Image

        frames = np.asarray(frames)
        oh, ow = self.output_size(frames.shape[1], frames.shape[2])
        mean = np.asarray(self.mean, np.float32)
        std = np.asarray(self.std, np.float32)
        out = np.empty((len(frames), 3, oh, ow), np.float32)
        for i, frame in enumerate(frames):
            img = np.asarray(Image.fromarray(frame).resize((ow, oh), Image.Resampling.BICUBIC), np.float32)
            out[i] = ((img / 255.0 - mean) / std).transpose(2, 0, 1)
        return out


class FrameEmbedder:
    """A loaded DINOv2-family feature model on a device.

    Args:
        model: a transformers vision backbone whose ``last_hidden_state`` is
            [B, 1 + R + N, D] (CLS, R register tokens, N patch tokens).
        preprocessing: its ``FeaturePreprocessing``.
        device, dtype: where and in which precision it runs.
    """

    def __init__(self, model, preprocessing: FeaturePreprocessing, device, dtype):
        self.model = model
        self.preprocessing = preprocessing
        self.device = device
        self.dtype = dtype
        self.register_tokens = int(getattr(model.config, "num_register_tokens", 0) or 0)

    @classmethod
    def load(cls, device: str = "auto", model_path: str | Path | None = None,
             cache_dir: str | Path | None = None) -> "FrameEmbedder":
        """Load the registry's "features" model (facebook/dinov2-small) from local files.

        Raises:
            backend.errors.ModelUnavailableError: weights, packages or CUDA missing.
        """
        from ...models import load_transformers_model

        model, folder, dev, dtype = load_transformers_model(
            MODEL_KEY, "AutoModel", device=device, local_path=model_path, cache_dir=cache_dir,
            engine="features keyframe")
        patch = int(getattr(model.config, "patch_size", 14))
        return cls(model, FeaturePreprocessing.from_folder(folder, patch=patch), dev, dtype)

    def embed(self, frames: np.ndarray, pooling: str = DEFAULT_POOLING, batch_size: int = BATCH_SIZE,
              progress=None) -> np.ndarray:
        """Unit-length image embeddings.

        Args:
            frames: uint8 [N, H, W, 3] sRGB images (already cropped).
            pooling: "cls", "mean" (patch tokens) or "cls+mean" (both, each
                unit length, concatenated and scaled by 1/sqrt(2)).
            batch_size: frames per forward pass.
            progress: optional object with ``update(fraction, message)``.

        Returns:
            float32 [N, D] (D doubles for "cls+mean"), rows of unit length.

        Raises:
            ValueError: unknown pooling.
        """
        import torch

        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        feats = []
        n = len(frames)
        for start in range(0, n, batch_size):
            x = torch.from_numpy(self.preprocessing(frames[start:start + batch_size]))
            with torch.inference_mode():
                tokens = self.model(pixel_values=x.to(device=self.device, dtype=self.dtype)).last_hidden_state
                tokens = tokens.float()
                cls_tok = torch.nn.functional.normalize(tokens[:, 0], dim=-1)
                mean_tok = torch.nn.functional.normalize(tokens[:, 1 + self.register_tokens:].mean(dim=1), dim=-1)
                if pooling == "cls":
                    f = cls_tok
                elif pooling == "mean":
                    f = mean_tok
                else:
                    f = torch.cat([cls_tok, mean_tok], dim=-1) / np.sqrt(2.0)
            feats.append(f.cpu().numpy())
            if progress is not None:
                progress.update(min(1.0, (start + batch_size) / n), "frame features")
        return np.concatenate(feats).astype(np.float32)


def cosine_distances(features: np.ndarray) -> np.ndarray:
    """float64 [T, T] cosine distances 1 - <f_i, f_j> of unit-length rows [T, D] (zero diagonal, symmetric, >= 0)."""
    f = np.asarray(features, dtype=np.float64)
    d = 1.0 - f @ f.T
    d = 0.5 * (d + d.T)
    np.fill_diagonal(d, 0.0)
    return np.maximum(d, 0.0)


def hierarchical_keyframes(distances: np.ndarray, threshold: float, max_keyframes: Optional[int] = None) -> list[int]:
    """Keyframes by hierarchical bisection of a pairwise frame-distance matrix.

    Args:
        distances: float [T, T] symmetric distances between frames.
        threshold: a segment [a, b] with b - a >= 2 is split while
            distances[a, b] > threshold.
        max_keyframes: at most this many keyframes (>= 2); None = no cap.

    Returns:
        Sorted unique frame indices including 0 and T-1 (``[0]`` when T == 1).
        The split frame m of [a, b] minimises max(D[a, m], D[m, b]) (ties:
        the largest D[m-1, m] + D[m, m+1], then nearest to the middle); segments are split in order of decreasing
        D[a, b]. Deterministic.

    Raises:
        ValueError: ``distances`` is not square, or ``max_keyframes`` < 2.
    """
    d = np.asarray(distances, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"distances must be a square [T, T] matrix, got shape {d.shape}")
    if max_keyframes is not None and max_keyframes < 2:
        raise ValueError(f"max_keyframes must be >= 2, got {max_keyframes}")
    t = len(d)
    if t <= 1:
        return [0] * t
    keys = {0, t - 1}
    heap = [(-d[0, t - 1], 0, t - 1)]
    while heap and (max_keyframes is None or len(keys) < max_keyframes):
        neg, a, b = heapq.heappop(heap)
        if b - a < 2 or -neg <= threshold:
            continue
        inside = np.arange(a + 1, b)
        cost = np.maximum(d[a, inside], d[inside, b])
        # Costs equal up to float noise (features are float32) count as ties; among them the
        # frame where the appearance changes most locally wins (a step change gets a keyframe
        # right at it), then the one nearest the middle.
        tied = inside[cost <= cost.min() + TIE_TOLERANCE * max(float(cost.min()), 1e-3)]
        local = d[tied - 1, tied] + d[tied, tied + 1]
        tied = tied[local >= local.max() - TIE_TOLERANCE * max(float(local.max()), 1e-3)]
        m = int(tied[np.argmin(np.abs(tied - 0.5 * (a + b)))])
        keys.add(m)
        heapq.heappush(heap, (-d[a, m], a, m))
        heapq.heappush(heap, (-d[m, b], m, b))
    return sorted(keys)


def swept_crop_box(trajectories: np.ndarray, frame_size: tuple[int, int],
                   margin: float = CROP_MARGIN) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) pixel box around all trajectory positions, grown by ``margin``, clipped to the frame.

    Args:
        trajectories: float [T, V, 2] positions (u, v) in the frames' pixels.
        frame_size: (width, height) of the frames.

    Returns:
        The box; the whole frame when the trajectories lie outside it.
    """
    w, h = frame_size
    pts = np.asarray(trajectories, dtype=np.float64).reshape(-1, 2)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if len(pts) == 0:
        return 0, 0, w, h
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = margin * float(max(hi - lo))
    x0, y0 = int(np.floor(max(0.0, lo[0] - pad))), int(np.floor(max(0.0, lo[1] - pad)))
    x1, y1 = int(np.ceil(min(float(w), hi[0] + pad))), int(np.ceil(min(float(h), hi[1] + pad)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return 0, 0, w, h
    return x0, y0, x1, y1


def _check_frames(motion: Motion2D) -> np.ndarray:
    frames = motion.frames
    if frames is None:
        raise ValueError("the 'features' keyframe engine needs the in-between images (Motion2D.frames), "
                         "but the in-betweening engine produced none; use the 'motion' keyframe engine "
                         "or an in-betweening engine that renders frames")
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] not in (3, 4) or len(frames) == 0:
        raise ValueError(f"Motion2D.frames must be [T, H, W, 3] images, got shape {frames.shape}")
    t = len(np.asarray(motion.trajectories))
    if len(frames) != t:
        raise ValueError(f"Motion2D has {t} trajectory frames but {len(frames)} images; they must match")
    if frames.dtype != np.uint8:
        frames = np.clip(np.round(frames.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    return frames[..., :3]


def frame_distances(motion: Motion2D, *, embedder: FrameEmbedder, pooling: str = DEFAULT_POOLING,
                    progress=None) -> np.ndarray:
    """float64 [T, T] cosine distances between the DINOv2 features of the in-between frames.

    Raises:
        ValueError: missing or malformed ``motion.frames``.
    """
    frames = _check_frames(motion)
    x0, y0, x1, y1 = swept_crop_box(motion.trajectories, (frames.shape[2], frames.shape[1]))
    crops = np.ascontiguousarray(frames[:, y0:y1, x0:x1])
    return cosine_distances(embedder.embed(crops, pooling=pooling, progress=progress))


def select_keyframes_by_features(motion: Motion2D, mesh: SilhouetteMesh, settings: Optional[GenerateSettings] = None,
                                 *, device: str = "auto", model_path: str | Path | None = None,
                                 threshold: Optional[float] = None, pooling: str = DEFAULT_POOLING,
                                 max_keyframes: Optional[int] = None, cache_dir: str | Path | None = None,
                                 embedder: Optional[FrameEmbedder] = None, progress=None) -> list[int]:
    """Keyframes where the in-between images' appearance changes most (In-2-4D's criterion).

    Args:
        motion: the in-between result; needs ``frames`` uint8 [T, H, W, 3] and
            ``trajectories`` [T, V, 2] (for the crop).
        mesh: the start silhouette mesh (the engine signature's; unused here).
        settings: job settings; its ``device`` is used when ``device`` is "auto".
        device: "auto" | "cpu" | "cuda".
        model_path: a DINOv2 model folder (else ``$TWEEN4D_MODEL_FEATURES``,
            else the pinned Hugging Face snapshot).
        threshold: split a segment while the cosine distance between its end
            frames exceeds this; None: ``RELATIVE_THRESHOLD`` times the largest
            distance between any two frames (no split at all when that is below
            ``STATIC_DISTANCE``).
        pooling: "cls", "mean" or "cls+mean" (see ``FrameEmbedder.embed``).
        max_keyframes: cap on the number of keyframes (>= 2), None = no cap.
        cache_dir: Hugging Face hub cache folder.
        embedder: an already loaded ``FrameEmbedder`` (then device, model_path
            and cache_dir are ignored).
        progress: optional object with ``update(fraction, message)``.

    Returns:
        Sorted unique frame indices including 0 and T-1.

    Raises:
        ValueError: ``motion.frames`` missing or not matching the trajectories;
            bad pooling or max_keyframes.
        backend.errors.ModelUnavailableError: weights, packages or CUDA missing.
    """
    _check_frames(motion)  # fail before loading a model
    t = len(np.asarray(motion.trajectories))
    if t <= 2:
        return list(range(t))
    if device == "auto" and settings is not None:
        device = settings.device
    embedder = embedder or FrameEmbedder.load(device=device, model_path=model_path, cache_dir=cache_dir)
    d = frame_distances(motion, embedder=embedder, pooling=pooling, progress=progress)
    if threshold is None:
        spread = float(d.max())
        if spread < STATIC_DISTANCE:
            return [0, t - 1]
        threshold = RELATIVE_THRESHOLD * spread
    return hierarchical_keyframes(d, float(threshold), max_keyframes=max_keyframes)
