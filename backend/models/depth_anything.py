"""Depth Anything V2 monocular depth, loaded from the model registry (shared by both pipelines).

Depth Anything V2 (Yang et al., "Depth Anything V2", NeurIPS 2024;
transformers ``DepthAnythingForDepthEstimation``) predicts *relative inverse
depth* (disparity, affine-invariant: d = a / z + b with unknown a > 0, b).
``MonocularDepth.load`` finds the registry's "depth" weights (pinned revision,
local-path override, offline); ``predict`` preprocesses an image exactly as the
model's ``DPTImageProcessor`` does (aspect-keeping resize to multiples of 14,
bicubic, ImageNet mean/std) with Pillow and numpy. Users: the two-image
geometry engine "depth" and the single-image depth engine "depth".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODEL_KEY = "depth"

#: ImageNet statistics, the ``DPTImageProcessor`` defaults of Depth Anything V2.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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
        from . import load_transformers_model

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


__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "MODEL_KEY", "DepthPreprocessing", "MonocularDepth"]
