"""The model in-between engine: first/last-frame video diffusion, then mesh tracking through the video.

In-2-4D (Cai et al., 2025, Sec. 3.1) interpolates the two motion states with
a video diffusion model conditioned on the first and the last frame. Here:

1. **Generate** the in-between video with a diffusers pipeline chosen by the
   registry spec's task: ``WanVACEPipeline`` (Wan2.1 VACE 1.3B, the default,
   model key ``video-vace``: 480p, fits a 12-16 GB GPU with model offload)
   with the first and last frames given through VACE's conditioning video and
   mask (``backend.models.video_pipelines.vace_video``),
   ``WanImageToVideoPipeline`` with ``image`` and ``last_image`` (Wan 2.1
   FLF2V 14B, ``video-wan``, a large GPU) or ``LTXConditionPipeline`` with
   image conditions at the first and last frame index (``video-ltx``). Wan needs 4k+1 frames (LTX
   8k+1): the nearest valid count >= the frames asked for is generated (at
   most ``max_frames``) and the result is resampled to the asked count.
   ``progress.update`` runs in the pipeline's ``callback_on_step_end``, so a
   cancel stops generation within one denoising step.
2. **Segment** every generated frame with the foreground stage's keying
   (``key_matte``, when the start image has a plain background) or the
   u2netp matting net (when installed); frames whose mask looks wrong (area
   far from the start object's) get none.
3. **Track** the start silhouette mesh through the frames
   (``backend.geometry2d.tracking``: DIS optical flow + ARAP + the frame
   silhouettes, anchored on the start texture), then **register** the start
   mesh onto the end image with the weight-free ARAP registration
   (``register_mesh``) and spread the difference between the tracked and the
   registered last frame over the sequence, so frame T-1 lands on the end
   object even when the video drifts.

The frames returned are the generated video at the working resolution, with
frame 0 and frame T-1 replaced by the start and end images themselves.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import cv2
import numpy as np

from ...errors import ModelUnavailableError
from ...geometry2d.arap_registration import mask_iou, register_mesh
from ...geometry2d.tracking import TrackingConfig, distribute_end_correction, track_mesh
from ...models.video_pipelines import (  # noqa: F401 (re-exported)
    generation_size,
    resample_positions,
    resample_sequence,
    valid_frame_count,
)
from ...progress import Progress
from ...render.rasterize import rasterize
from ...settings import GenerateSettings
from ...types import Foreground, Motion2D, SilhouetteMesh

DEFAULT_MODEL = "video-vace"
MODEL_ENV_VAR = "TWEEN4D_VIDEO_MODEL"  # picks another first/last-frame model: video-wan, video-ltx

# Share of the stage's progress bar per step.
_LOAD, _GENERATE, _SEGMENT, _TRACK = 0.05, 0.65, 0.72, 0.9


@dataclass
class VideoInbetweenConfig:
    """Generation and tracking settings of the video in-between engine.

    Attributes:
        prompt: text condition; describes a smooth motion under a fixed camera.
        negative_prompt: what classifier-free guidance steers away from.
        num_inference_steps: denoising steps.
        guidance_scale: classifier-free guidance weight (<= 1 turns guidance off).
        max_area: generated frame area in pixels (aspect ratio of the inputs kept,
            sides rounded down to the model's multiple); Wan 2.1 720P works well at
            480 x 832 = 399,360.
        max_frames: most frames generated (longer requests are resampled from these).
        max_sequence_length: text tokens given to the text encoder.
        mask_area_range: a frame's segmentation is used only when its area is within
            this factor range of the start object's area.
        tracking: weights of the mesh tracking.
    """

    prompt: str = ("The object moves smoothly and continuously from its first pose to its last pose. "
                   "Static camera, fixed framing, unchanged background, sharp details.")
    negative_prompt: str = ("camera motion, zoom, pan, cut, scene change, blurry, distorted, deformed, "
                            "extra parts, duplicated object, text, watermark, low quality")
    num_inference_steps: int = 30
    guidance_scale: float = 5.0
    max_area: int = 480 * 832
    max_frames: int = 81
    max_sequence_length: int = 512
    mask_area_range: tuple[float, float] = (0.33, 3.0)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)


class _SubProgress:
    """Maps a sub-task's 0..1 onto [lo, hi] of the stage's progress (cancellation passes through)."""

    def __init__(self, progress: Progress, lo: float, hi: float):
        self.progress, self.lo, self.hi = progress, lo, hi

    def update(self, fraction: float, message: str = "", force: bool = False) -> None:
        self.progress.update(self.lo + (self.hi - self.lo) * min(max(float(fraction), 0.0), 1.0), message, force)


# --- pipelines ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PipelineKind:
    """How to drive one family of frame-conditioned video pipelines.

    Attributes:
        class_name: the diffusers pipeline class.
        frame_step: valid frame counts are ``frame_step * k + 1``; read from the pipeline.
        size_multiple: height and width must be multiples of this; read from the pipeline.
        generate: ``(pipe, first, last, height, width, num_frames, config, generator, callback)``
            -> float32 [F, height, width, 3] frames in 0..1.
    """

    class_name: str
    frame_step: Callable
    size_multiple: Callable
    generate: Callable


def _wan_generate(pipe, first, last, height, width, num_frames, cfg: VideoInbetweenConfig, generator, callback):
    out = pipe(image=first, last_image=last, prompt=cfg.prompt, negative_prompt=cfg.negative_prompt,
               height=height, width=width, num_frames=num_frames, num_inference_steps=cfg.num_inference_steps,
               guidance_scale=cfg.guidance_scale, generator=generator, output_type="np",
               max_sequence_length=cfg.max_sequence_length, callback_on_step_end=callback)
    return np.asarray(out.frames[0], dtype=np.float32)


def _ltx_generate(pipe, first, last, height, width, num_frames, cfg: VideoInbetweenConfig, generator, callback):
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    conditions = [LTXVideoCondition(image=first, frame_index=0),
                  LTXVideoCondition(image=last, frame_index=num_frames - 1)]
    out = pipe(conditions=conditions, prompt=cfg.prompt, negative_prompt=cfg.negative_prompt, height=height,
               width=width, num_frames=num_frames, num_inference_steps=cfg.num_inference_steps,
               guidance_scale=cfg.guidance_scale, generator=generator, output_type="np",
               max_sequence_length=min(cfg.max_sequence_length, 256), callback_on_step_end=callback)
    return np.asarray(out.frames[0], dtype=np.float32)


def _vace_generate(pipe, first, last, height, width, num_frames, cfg: VideoInbetweenConfig, generator, callback):
    from ...models.video_pipelines import vace_video

    return vace_video(pipe, {0: first, num_frames - 1: last}, height, width, num_frames, prompt=cfg.prompt,
                      negative_prompt=cfg.negative_prompt, num_inference_steps=cfg.num_inference_steps,
                      guidance_scale=cfg.guidance_scale, generator=generator,
                      max_sequence_length=cfg.max_sequence_length, callback=callback)


def _wan_size_multiple(pipe) -> int:
    from ...models.video_pipelines import vace_size_multiple

    return vace_size_multiple(pipe)


#: Registry spec task -> how to drive its pipeline.
PIPELINE_KINDS: dict[str, PipelineKind] = {
    "vace-video": PipelineKind(
        "WanVACEPipeline", lambda p: int(p.vae_scale_factor_temporal), _wan_size_multiple, _vace_generate),
    "first-last-frame-to-video": PipelineKind(
        "WanImageToVideoPipeline", lambda p: int(p.vae_scale_factor_temporal), _wan_size_multiple, _wan_generate),
    "keyframe-conditioned-video": PipelineKind(
        # LTXConditionPipeline.check_inputs wants sides divisible by 32 whatever the VAE's ratio.
        "LTXConditionPipeline", lambda p: int(p.vae_temporal_compression_ratio),
        lambda p: math.lcm(32, int(p.vae_spatial_compression_ratio)), _ltx_generate),
}


def pipeline_kind(pipe=None, model_key: str | None = None) -> PipelineKind:
    """The ``PipelineKind`` of a pipeline object (by its class) or of a registry model key (by its task).

    Raises:
        ModelUnavailableError: unknown model key, or a model whose task no kind drives.
        ValueError: a pipeline of a class no kind drives.
    """
    if pipe is not None:
        name = type(pipe).__name__
        for kind in PIPELINE_KINDS.values():
            if kind.class_name == name:
                return kind
        raise ValueError(f"no video in-between driver for pipeline class {name}; "
                         f"supported: {', '.join(k.class_name for k in PIPELINE_KINDS.values())}")
    from ...models.registry import get_spec

    spec = get_spec(model_key or DEFAULT_MODEL)
    if spec.task not in PIPELINE_KINDS:
        raise ModelUnavailableError(f"Model '{spec.key}' ({spec.repo_id}) is not a first/last-frame video model.",
                                    "Pick 'video-vace', 'video-wan' or 'video-ltx' for the video in-between engine.",
                                    code="model.task")
    return PIPELINE_KINDS[spec.task]


def load_video_pipeline(model_key: str = DEFAULT_MODEL, device="auto", local_path=None, memory_mode=None):
    """Load the video pipeline of a registry model from local files and put it on its device.

    ``backend.models.video_pipelines.load_video_pipeline`` after checking that the model is a
    frame-conditioned video model this engine drives.

    Args:
        model_key: registry key (``video-vace``, ``video-wan``, ``video-ltx``, ...).
        device: "auto" | "cpu" | "cuda" (``backend.models.pick_device``).
        local_path: a model folder to use instead of the Hugging Face cache.
        memory_mode: "auto" | "full" | "model_offload" | "sequential_offload" | None
            (``backend.models.memory``; None: ``$TWEEN4D_MEMORY_MODE`` or auto from free VRAM).

    Returns:
        The diffusers pipeline (``tween4d_record``: model, revision, memory mode).

    Raises:
        ModelUnavailableError: the weights are not downloaded (the message names the
            model and ``python -m backend models download <key>``), the folder does
            not load, diffusers/torch are missing, or CUDA was asked for without a GPU.
    """
    from ...models.video_pipelines import load_video_pipeline as load

    pipeline_kind(model_key=model_key)
    return load(model_key, device, local_path, memory_mode)


# --- frames -------------------------------------------------------------------------------------------------

def _to_pil(rgb: np.ndarray, width: int, height: int):
    from PIL import Image

    img = (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return Image.fromarray(cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA))


def segment_frames(frames: np.ndarray, start: Foreground, end: Foreground,
                   area_range: tuple[float, float] = (0.33, 3.0),
                   on_frame: Optional[Callable[[int], None]] = None) -> list[Optional[np.ndarray]]:
    """Object masks of generated frames (first and last: the start and end masks).

    Args:
        frames: float32 [F, H, W, 3] frames at the working resolution (F >= 2).
        start, end: the input foregrounds (same size as the frames).
        area_range: masks whose area is outside this factor range of the start
            object's area are dropped (None).
        on_frame: called with each frame index done; may raise ``Cancelled``.

    Returns:
        F entries: bool [H, W] or None (no trustworthy mask for that frame).

    Method: the foreground stage's plain-background keying (``key_matte``,
    background re-estimated per frame, used only while it stays plain) when
    the start image was keyable, else the u2netp matting net when installed,
    else no masks.
    """
    from ..foreground import u2netp
    from ..foreground.key import estimate_background, key_matte

    count = len(frames)
    masks: list[Optional[np.ndarray]] = [None] * count
    masks[0], masks[-1] = start.mask.copy(), end.mask.copy()
    area = max(float(start.mask.sum()), 1.0)
    keyable = estimate_background(start.rgb).plain
    learned = not keyable and u2netp.is_available()
    for i in range(1, count - 1):
        mask = None
        if keyable:
            _, m, bg = key_matte(np.ascontiguousarray(frames[i], dtype=np.float32))
            mask = m if bg.plain else None
        elif learned:
            _, mask = u2netp.u2netp_matte(np.ascontiguousarray(frames[i], dtype=np.float32))
        if mask is not None and area_range[0] <= mask.sum() / area <= area_range[1]:
            masks[i] = mask
        if on_frame is not None:
            on_frame(i)
    return masks


# --- the engine ---------------------------------------------------------------------------------------------

def run_video_inbetween(mesh: SilhouetteMesh, start_fg: Foreground, end_fg: Foreground, frame_count: int,
                        settings: GenerateSettings, progress: Progress, *, pipeline=None,
                        model_key: str = DEFAULT_MODEL, device: str = "auto", local_path=None,
                        config: VideoInbetweenConfig | None = None) -> Motion2D:
    """In-betweening by first/last-frame video diffusion and mesh tracking.

    Args:
        mesh: the start object's silhouette mesh (working pixels).
        start_fg, end_fg: the start and end ``Foreground`` at the working resolution
            (one size; the end is resized to the start's if not).
        frame_count: T >= 2 output frames.
        settings: job settings (seed, ``preset.registration_iterations``; ``device``
            when ``device`` is "auto").
        progress: stage progress; ``update`` raises ``Cancelled`` on cancel, which
            propagates (also from inside the denoising loop).
        pipeline: an already loaded pipeline (``WanImageToVideoPipeline`` or
            ``LTXConditionPipeline``); loaded from the registry when None.
        model_key: registry key of the video model (``video-vace`` by default).
        device: "auto" | "cpu" | "cuda" for loading.
        local_path: model folder overriding the Hugging Face cache.
        config: generation and tracking settings (``VideoInbetweenConfig()``).

    Returns:
        ``Motion2D``: trajectories float64 [T, V, 2] (frame 0 equals ``mesh.vertices``,
        frame T-1 the weight-free registration onto the end image), frames uint8
        [T, H, W, 3] (the generated video resampled to T frames, frame 0 and T-1
        the input images), diagnostics (``engine``, ``model``, ``generated_frames``,
        ``generated_size``, ``end_iou``, ``tracked_end_iou``, ``end_drift_px``,
        ``masked_frames``, tracking numbers, ``stage_timings_s``).

    Raises:
        ModelUnavailableError: the model is not downloaded or cannot load (the message
            names it and the download command).
        ValueError: frame_count < 2.
        backend.errors.Cancelled: the job was cancelled.
    """
    import torch

    if int(frame_count) < 2:
        raise ValueError(f"frame_count must be at least 2, got {frame_count}")
    cfg = config or VideoInbetweenConfig()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    h, w = start_fg.mask.shape
    end_fg = _same_size(start_fg, end_fg)

    progress.update(0.0, "loading the video model", force=True)
    model_name = f"{type(pipeline).__name__} (given)" if pipeline is not None else model_key
    loaded_here = pipeline is None
    if loaded_here:
        pipeline = load_video_pipeline(model_key, settings.device if device == "auto" else device, local_path)
    kind = pipeline_kind(pipe=pipeline)
    pipeline_name = type(pipeline).__name__
    memory = dict(getattr(pipeline, "tween4d_record", None) or {"memory_mode": "as given"})
    progress.update(_LOAD, "video model ready")
    timings["load"] = time.perf_counter() - t0

    # 1. Generate.
    t0 = time.perf_counter()
    count = valid_frame_count(frame_count, kind.frame_step(pipeline), cfg.max_frames)
    gen_w, gen_h = generation_size(w, h, cfg.max_area, kind.size_multiple(pipeline))
    steps = max(1, int(cfg.num_inference_steps))

    def on_step(pipe, step, timestep, callback_kwargs):
        progress.update(_LOAD + (_GENERATE - _LOAD) * (step + 1) / steps, f"denoising step {step + 1}/{steps}",
                        force=step + 1 == steps)
        return {}

    generator = torch.Generator(device="cpu").manual_seed(int(settings.seed))
    video = kind.generate(pipeline, _to_pil(start_fg.rgb, gen_w, gen_h), _to_pil(end_fg.rgb, gen_w, gen_h),
                          gen_h, gen_w, count, cfg, generator, on_step)
    video = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA if gen_w > w else cv2.INTER_LINEAR)
                      for f in np.clip(video, 0.0, 1.0)]).astype(np.float32)
    # The inputs themselves, not their VAE reconstructions, anchor the tracking at both ends.
    video[0], video[-1] = start_fg.rgb, end_fg.rgb
    generated = len(video)
    if loaded_here:
        # Free the accelerator for the later stages (the model is loaded again for the next job).
        del pipeline
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    timings["generate"] = time.perf_counter() - t0

    # 2. Segment.
    t0 = time.perf_counter()
    masks = segment_frames(video, start_fg, end_fg, cfg.mask_area_range,
                           on_frame=lambda i: progress.update(
                               _GENERATE + (_SEGMENT - _GENERATE) * i / max(generated - 1, 1), "segmenting frames"))
    timings["segment"] = time.perf_counter() - t0

    # 3. Track, register the end, spread the drift.
    t0 = time.perf_counter()
    tracked = track_mesh(mesh, video, masks, cfg.tracking,
                         on_frame=lambda k: progress.update(
                             _SEGMENT + (_TRACK - _SEGMENT) * k / max(generated - 1, 1), "tracking the mesh"))
    timings["track"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    reg = register_mesh(mesh, start_fg, end_fg, iterations=settings.preset.registration_iterations,
                        progress=_SubProgress(progress, _TRACK, 1.0), seed=settings.seed)
    timings["register"] = time.perf_counter() - t0
    faces = np.asarray(mesh.faces)
    tracked_end = tracked.trajectories[-1]
    corrected = distribute_end_correction(tracked.trajectories, reg.positions)

    trajectories = resample_sequence(corrected, int(frame_count))
    trajectories[0] = mesh.vertices
    trajectories[-1] = reg.positions
    frames = resample_sequence(video, int(frame_count))
    frames_u8 = (np.clip(frames, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)

    diagnostics = dict(reg.diagnostics)
    diagnostics.update({
        "engine": "video",
        "model": model_name,
        "pipeline": pipeline_name,
        **{k: v for k, v in memory.items() if k in ("memory_mode", "vae_tiling", "vae_slicing")},
        "generated_frames": int(generated),
        "generated_size": [int(gen_w), int(gen_h)],
        "masked_frames": int(sum(m is not None for m in masks)),
        "tracked_end_iou": mask_iou(rasterize(tracked_end, faces, w, h).mask, end_fg.mask),
        "end_drift_px": float(np.linalg.norm(reg.positions - tracked_end, axis=1).mean()),
        "tracking": tracked.diagnostics,
        "stage_timings_s": {k: round(v, 4) for k, v in timings.items()},
    })
    progress.update(1.0, "video in-betweening done", force=True)
    return Motion2D(trajectories=trajectories, frames=frames_u8, diagnostics=diagnostics)


def _same_size(start: Foreground, end: Foreground) -> Foreground:
    """The end foreground at the start's size (``prepare_pair`` normally guarantees it already)."""
    if end.mask.shape == start.mask.shape:
        return end
    h, w = start.mask.shape
    return Foreground(rgb=cv2.resize(end.rgb, (w, h), interpolation=cv2.INTER_LINEAR),
                      alpha=cv2.resize(end.alpha, (w, h), interpolation=cv2.INTER_LINEAR),
                      mask=cv2.resize(end.mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool),
                      method=end.method)


def run(mesh: SilhouetteMesh, start: Foreground, end: Foreground, frame_count: int, settings: GenerateSettings,
        progress: Progress) -> Motion2D:
    """``run_video_inbetween`` in the ``ENGINES`` signature of ``backend.stages.inbetween``.

    The model is ``$TWEEN4D_VIDEO_MODEL`` when set (``video-wan`` for Wan2.1 FLF2V 14B,
    ``video-ltx`` for LTX-Video), else the default ``video-vace``.
    """
    import os

    model_key = os.environ.get(MODEL_ENV_VAR, "").strip() or DEFAULT_MODEL
    return run_video_inbetween(mesh, start, end, frame_count, settings, progress, model_key=model_key)
