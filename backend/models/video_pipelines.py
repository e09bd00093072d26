"""Loading and driving the diffusers video pipelines of the registry (shared by the video engines).

* ``load_video_pipeline(key, ...)``: the registry model's pipeline from local files, in bf16/fp16
  on CUDA (VAE and image encoder in float32, as the Wan model cards advise), placed on the device
  in one place with a memory mode (``backend.models.memory``); the record of what was chosen is
  ``pipe.tween4d_record`` (model, revision, memory mode, VAE tiling/slicing) for the asset's
  ``engines``.
* ``vace_video(pipe, keyframes, ...)``: Wan VACE generation conditioned on given frames: VACE
  takes a conditioning video and a mask (black = keep the given pixels, white = generate);
  the given frames sit at their indices, the others are mid-grey and fully masked (diffusers
  ``WanVACEPipeline`` docs, "first-last-frame to video"; VACE, Jiang et al. 2025, Sec. 3.1,
  the Video Condition Unit). One keyframe at 0 is image-to-video; 0 and the last are
  first/last-frame in-betweening.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from ..errors import ModelUnavailableError

#: Registry task -> diffusers pipeline class.
PIPELINE_CLASSES = {
    "vace-video": "WanVACEPipeline",
    "first-last-frame-to-video": "WanImageToVideoPipeline",
    "keyframe-conditioned-video": "LTXConditionPipeline",
}


def load_video_pipeline(model_key: str, device="auto", local_path=None, memory_mode: Optional[str] = None):
    """Load a registry video model's diffusers pipeline from local files, placed on its device.

    Args:
        model_key: registry key ("video-vace", "video-wan", "video-ltx", ...).
        device: "auto" | "cpu" | "cuda" (``backend.models.pick_device``).
        local_path: a model folder instead of the Hugging Face cache.
        memory_mode: "auto" | "full" | "model_offload" | "sequential_offload" | None
            (None: ``$TWEEN4D_MEMORY_MODE``, else auto from the free VRAM).

    Returns:
        The pipeline, with ``tween4d_record`` = {"model", "revision", "memory_mode",
        "vae_tiling", "vae_slicing", "device", "dtype"}.

    Raises:
        ModelUnavailableError: weights missing or broken (names the model and
            ``python -m backend models download <key>``), diffusers/torch missing, CUDA
            asked for without a GPU, or a model that is not a video pipeline.
    """
    from .devices import import_torch, pick_device, pick_dtype
    from .memory import apply_memory_mode, choose_memory_mode, free_vram_gb
    from .registry import get_spec, load_pretrained

    torch = import_torch()
    spec = get_spec(model_key)
    if spec.task not in PIPELINE_CLASSES:
        raise ModelUnavailableError(f"Model '{spec.key}' ({spec.repo_id}) is not a video model.",
                                    f"Pick one of: {', '.join(k for k, s in _video_specs())}.", code="model.task")
    try:
        import diffusers
    except ImportError:
        raise ModelUnavailableError("The model engines' packages are not installed (diffusers is missing).",
                                    "Install them with: python install_deps.py --extra models",
                                    code="model.libraries") from None
    dev = pick_device(device)
    dtype = pick_dtype(dev)
    pipe = load_pretrained(model_key, getattr(diffusers, PIPELINE_CLASSES[spec.task]), local_path=local_path,
                           dtype=dtype)
    for name in ("vae", "image_encoder"):
        component = getattr(pipe, name, None)
        if component is not None and dtype != torch.float32:
            component.to(torch.float32)
    mode = choose_memory_mode(spec, free_vram_gb(dev), memory_mode)
    record = apply_memory_mode(pipe, mode, dev)
    record.update(model=spec.repo_id, revision=spec.revision, device=str(dev), dtype=str(dtype).replace("torch.", ""))
    pipe.set_progress_bar_config(disable=True)
    pipe.tween4d_record = record
    return pipe


def _video_specs():
    from .registry import MODELS

    return [(k, s) for k, s in MODELS.items() if s.task in PIPELINE_CLASSES]


def valid_frame_count(frame_count: int, step: int, max_frames: int) -> int:
    """The smallest ``step * k + 1`` >= ``frame_count`` (at least ``step + 1``).

    Capped at the largest valid count <= ``max_frames``.
    """
    n = step * max(1, -(-(int(frame_count) - 1) // step)) + 1
    cap = step * max(1, (int(max_frames) - 1) // step) + 1
    return min(n, cap)


def generation_size(width: int, height: int, max_area: int, multiple: int) -> tuple[int, int]:
    """(width, height) of about ``max_area`` pixels, the aspect ratio of width x height, multiples of ``multiple``."""
    aspect = height / width
    h = max(multiple, int(round(np.sqrt(max_area * aspect))) // multiple * multiple)
    w = max(multiple, int(round(np.sqrt(max_area / aspect))) // multiple * multiple)
    return w, h


def resample_positions(count_in: int, count_out: int) -> np.ndarray:
    """float64 [count_out] positions 0..count_in-1 of evenly spaced output samples (first and last kept)."""
    return np.linspace(0.0, count_in - 1.0, count_out)


def resample_sequence(values: np.ndarray, count_out: int) -> np.ndarray:
    """Linear resampling of a sequence [F, ...] to [count_out, ...] along the first axis (float64)."""
    values = np.asarray(values, dtype=np.float64)
    pos = resample_positions(len(values), count_out)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, len(values) - 1)
    w = (pos - lo).reshape((-1,) + (1,) * (values.ndim - 1))
    return values[lo] * (1.0 - w) + values[hi] * w


def vace_size_multiple(pipe) -> int:
    """Height and width must be multiples of this (VAE spatial factor x transformer patch)."""
    model = pipe.transformer if pipe.transformer is not None else pipe.transformer_2
    return int(pipe.vae_scale_factor_spatial * model.config.patch_size[1])


def vace_video(pipe, keyframes: dict, height: int, width: int, num_frames: int, *, prompt: str,
               negative_prompt: str, num_inference_steps: int, guidance_scale: float, generator,
               max_sequence_length: int, callback: Optional[Callable] = None) -> np.ndarray:
    """Generate a video with ``WanVACEPipeline`` keeping the given frames.

    Args:
        pipe: a ``WanVACEPipeline``.
        keyframes: frame index -> PIL image of (width, height) to keep at that index.
        height, width: multiples of ``vace_size_multiple(pipe)``.
        num_frames: 4k+1 frames.
        prompt, negative_prompt, num_inference_steps, guidance_scale, max_sequence_length:
            as the pipeline takes them.
        generator: a ``torch.Generator``.
        callback: ``callback_on_step_end(pipe, step, timestep, kwargs) -> dict``.

    Returns:
        float32 [num_frames, height, width, 3] frames in 0..1.
    """
    from PIL import Image

    grey = Image.new("RGB", (width, height), (128, 128, 128))
    keep, generate = Image.new("RGB", (width, height), (0, 0, 0)), Image.new("RGB", (width, height), (255, 255, 255))
    video = [keyframes.get(i, grey) for i in range(num_frames)]
    mask = [keep if i in keyframes else generate for i in range(num_frames)]
    out = pipe(video=video, mask=mask, prompt=prompt, negative_prompt=negative_prompt, height=height, width=width,
               num_frames=num_frames, num_inference_steps=num_inference_steps, guidance_scale=guidance_scale,
               generator=generator, output_type="np", max_sequence_length=max_sequence_length,
               callback_on_step_end=callback)
    return np.asarray(out.frames[0], dtype=np.float32)
