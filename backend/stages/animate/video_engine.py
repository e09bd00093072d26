"""The single-image ``video`` motion engine's model half: image-to-video diffusion, dense tracks, depth ratios.

MoRe4D-style single-image animation (one image in, the object moving): a video model imagines the
motion, and the animate stage lifts it onto the 3D shape. This module gives that stage, per
query pixel of the input image, where it goes in every frame and how its depth changes:

1. **Generate** a clip from the image with the registry's video model (default ``video-vace``,
   Wan2.1 VACE 1.3B, 480p: the input image is frame 0 of VACE's conditioning video, kept by
   its mask, every later frame generated; ``backend.models.video_pipelines.vace_video``; VACE,
   Jiang et al. 2025, Sec. 3.1). The prompt is the job's ``motion.prompt`` when given. Frame
   counts follow the model (4k+1 frames, at least the frames asked for, at most
   ``max_frames``); the tracks are resampled to the asked count.
2. **Track** the query pixels through the clip, weight-free: DIS optical flow (Kroeger et al.,
   ECCV 2016; OpenCV) between consecutive frames, chained, each step with the project's
   forward-backward consistency check (``backend.geometry2d.correspondence.dense_flow``); a
   track that fails the check once, or leaves the image, stays not visible from there on (it
   keeps following the flow so the stage still has a position).
3. **Depth** of every frame with Depth Anything V2 (registry key ``depth``; relative inverse
   depth, affine-invariant). Each frame's disparity is aligned to frame 0's by a least-squares
   scale and shift on the static background (pixels outside the dilated object mask) when
   there is enough textured background, else by the median ratio on the object's visible
   tracks (no global depth change then, only relative ones). ``depth_ratio = z_t / z_0 =
   d_0(p_0) / d_t(p_t)`` per track, clipped to [0.5, 2].

Contract (fixed between branches): ``video_tracks(rgb, mask, query_uv, frame_count, settings,
progress=None) -> VideoTracks``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import cv2
import numpy as np

from ...geometry2d.correspondence import dense_flow
from ...models.video_pipelines import generation_size, resample_sequence, valid_frame_count

DEFAULT_MODEL = "video-vace"

# Share of the stage's progress per step.
_LOAD, _GENERATE, _TRACK, _DEPTH = 0.05, 0.75, 0.85, 1.0


@dataclass
class VideoTracks:
    """Dense 2D tracks of query pixels through a generated clip, with per-frame depth ratios.

    Attributes:
        tracks: float64 [T, N, 2] (u, v) working pixels (origin top-left, pixel centres at
            +0.5); frame 0 equals the query points.
        visible: bool [T, N]: the track passed every forward-backward check up to frame t and
            stayed inside the image (frame 0 all True).
        depth_ratio: float64 [T, N] z_t / z_0 (camera depth now over depth at frame 0;
            1 at frame 0; the last visible value is held where a track is lost).
        engines: what ran, for the asset's ``engines``: model repository and revision, memory
            mode, depth model, tracker, generated frame count and size, timings.
    """

    tracks: np.ndarray
    visible: np.ndarray
    depth_ratio: np.ndarray
    engines: dict = field(default_factory=dict)


@dataclass
class VideoTracksConfig:
    """Generation, tracking and depth settings of the single-image video engine.

    Attributes:
        prompt: text condition when the job gives none.
        negative_prompt: what classifier-free guidance steers away from.
        num_inference_steps: denoising steps.
        guidance_scale: classifier-free guidance weight (<= 1 turns it off).
        max_area: generated frame area in pixels (480p: 480 x 832), aspect ratio of the image kept.
        max_frames: most frames generated.
        max_sequence_length: text tokens.
        flow_preset: OpenCV DIS preset ("ultrafast", "fast", "medium").
        consistency_px: forward-backward tolerance in pixels (plus 5% of the motion).
        background_min_fraction: least share of the image that must be background for the
            background alignment of the depth maps.
        ratio_range: clip of the depth ratios.
    """

    prompt: str = ("The subject moves naturally and smoothly in place. Static camera, fixed framing, "
                   "unchanged background, sharp details.")
    negative_prompt: str = ("camera motion, zoom, pan, cut, scene change, blurry, distorted, deformed, "
                            "extra parts, duplicated object, text, watermark, low quality")
    num_inference_steps: int = 30
    guidance_scale: float = 5.0
    max_area: int = 480 * 832
    max_frames: int = 81
    max_sequence_length: int = 512
    flow_preset: str = "medium"
    consistency_px: float = 1.0
    background_min_fraction: float = 0.1
    ratio_range: tuple[float, float] = (0.5, 2.0)


def _update(progress, fraction: float, message: str, force: bool = False) -> None:
    if progress is not None:
        progress.update(float(fraction), message, force)


def _job_prompt(settings, default: str) -> str:
    motion = getattr(settings, "motion", None)
    prompt = motion.get("prompt") if isinstance(motion, dict) else getattr(motion, "prompt", None)
    return str(prompt).strip() if prompt and str(prompt).strip() else default


def _gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor((np.clip(frame, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), cv2.COLOR_RGB2GRAY)


def _sample(field_: np.ndarray, uv: np.ndarray, interpolation=cv2.INTER_LINEAR) -> np.ndarray:
    """Values of an image [H, W, (C)] at points uv [N, 2] (pixel centres at +0.5), replicated borders."""
    mx = (uv[:, 0] - 0.5).astype(np.float32).reshape(1, -1)
    my = (uv[:, 1] - 0.5).astype(np.float32).reshape(1, -1)
    out = cv2.remap(field_, mx, my, interpolation, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(len(uv), -1) if field_.ndim == 3 else out.reshape(len(uv))


def track_points(frames: np.ndarray, query_uv: np.ndarray, *, preset: str = "medium", consistency_px: float = 1.0,
                 on_frame=None) -> tuple[np.ndarray, np.ndarray]:
    """Chain DIS optical flow through frames, with a forward-backward check per step.

    Args:
        frames: float32 [F, H, W, 3] sRGB 0..1.
        query_uv: float64 [N, 2] points in frame 0 (u, v pixels, centres at +0.5).
        preset, consistency_px: as ``backend.geometry2d.correspondence.dense_flow``.
        on_frame: called with each frame index done (may raise ``Cancelled``).

    Returns:
        (tracks float64 [F, N, 2], visible bool [F, N]).
    """
    h, w = frames.shape[1:3]
    pts = np.asarray(query_uv, dtype=np.float64).copy()
    vis = (pts[:, 0] >= 0) & (pts[:, 0] <= w) & (pts[:, 1] >= 0) & (pts[:, 1] <= h)
    tracks, visible = [pts.copy()], [vis.copy()]
    prev = _gray(frames[0])
    for i in range(1, len(frames)):
        cur = _gray(frames[i])
        flow, reliable = dense_flow(prev, cur, preset, consistency_px)
        pts = pts + _sample(flow, pts).astype(np.float64)
        ok = _sample(reliable.astype(np.uint8), tracks[-1], cv2.INTER_NEAREST) > 0
        inside = (pts[:, 0] >= 0) & (pts[:, 0] <= w) & (pts[:, 1] >= 0) & (pts[:, 1] <= h)
        vis = vis & ok & inside
        tracks.append(pts.copy())
        visible.append(vis.copy())
        prev = cur
        if on_frame is not None:
            on_frame(i)
    return np.stack(tracks), np.stack(visible)


def depth_ratios(disparities: np.ndarray, mask: np.ndarray, tracks: np.ndarray, visible: np.ndarray, *,
                 background_min_fraction: float = 0.1, ratio_range=(0.5, 2.0)) -> tuple[np.ndarray, str]:
    """z_t / z_0 per track from relative disparity maps (affine-invariant, larger = closer).

    Args:
        disparities: float32 [F, H, W] per frame.
        mask: bool [H, W] the object in frame 0.
        tracks: float64 [F, N, 2]; visible: bool [F, N].
        background_min_fraction: least background share (outside the object dilated by 2% of
            the image) for the background alignment.
        ratio_range: clip of the ratios.

    Returns:
        (ratios float64 [F, N] with frame 0 = 1, alignment "background" | "object-median").
    """
    f, h, w = disparities.shape
    d0 = disparities[0].astype(np.float64)
    radius = max(1, int(round(0.02 * max(h, w))))
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)) > 0
    background = ~grown
    use_background = background.mean() >= background_min_fraction and np.std(d0[background]) > 1e-6 \
        if background.any() else False
    base = np.maximum(_sample(d0.astype(np.float32), tracks[0]).astype(np.float64), 1e-6)
    ratios = np.ones(tracks.shape[:2])
    for t in range(1, f):
        dt = disparities[t].astype(np.float64)
        if use_background:
            # Least squares d0 ~ a dt + b on the static background.
            a_mat = np.stack([dt[background], np.ones(int(background.sum()))], axis=1)
            (a, b), *_ = np.linalg.lstsq(a_mat, d0[background], rcond=None)
            aligned = a * dt + b
        else:
            vis = visible[t]
            here = _sample(dt.astype(np.float32), tracks[t]).astype(np.float64)
            scale = np.median(base[vis] / np.maximum(here[vis], 1e-6)) if vis.any() else 1.0
            aligned = scale * dt
        at = np.maximum(_sample(aligned.astype(np.float32), tracks[t]).astype(np.float64), 1e-6)
        r = np.clip(base / at, *ratio_range)
        ratios[t] = np.where(visible[t], r, ratios[t - 1])
    return ratios, "background" if use_background else "object-median"


def video_tracks(rgb: np.ndarray, mask: np.ndarray, query_uv: np.ndarray, frame_count: int, settings,
                 progress=None, *, pipeline=None, depth_model=None, model_key: str = DEFAULT_MODEL,
                 local_path=None, depth_path=None, config: Optional[VideoTracksConfig] = None) -> VideoTracks:
    """Animate one image with a video model and return dense tracks and depth ratios of query pixels.

    Args:
        rgb: float32 [H, W, 3] sRGB 0..1, the input image at the working resolution.
        mask: bool [H, W] the object.
        query_uv: float64 [N, 2] (u, v) working pixels to track (pixel centres at +0.5).
        frame_count: T >= 2 frames wanted.
        settings: the job's ``GenerateSettings`` (``device``, ``seed``; ``motion["prompt"]``
            when the job gives one).
        progress: object with ``update(fraction, message, force=False)`` for this stage (0..1);
            a ``Cancelled`` it raises propagates (also from inside the denoising loop).
        pipeline: an already loaded ``WanVACEPipeline`` (loaded from the registry when None).
        depth_model: an already loaded ``MonocularDepth`` (loaded when None).
        model_key: registry key of the video model.
        local_path, depth_path: model folders overriding the Hugging Face cache.
        config: ``VideoTracksConfig()`` by default.

    Returns:
        ``VideoTracks`` with T = ``frame_count`` frames.

    Raises:
        ValueError: bad shapes or frame_count < 2.
        ModelUnavailableError: a model is not downloaded or cannot load (the message names it and
            ``python -m backend models download <key>``), or CUDA asked for without a GPU.
        backend.errors.Cancelled: the job was cancelled.
    """
    from ...models import get_spec, import_torch
    from ...models.video_pipelines import load_video_pipeline, vace_size_multiple, vace_video

    rgb = np.asarray(rgb, dtype=np.float32)
    mask = np.asarray(mask, dtype=bool)
    query_uv = np.asarray(query_uv, dtype=np.float64).reshape(-1, 2)
    if rgb.ndim != 3 or rgb.shape[2] < 3 or mask.shape != rgb.shape[:2]:
        raise ValueError(f"rgb must be [H, W, 3] and mask [H, W] of the same size, got {rgb.shape} and {mask.shape}")
    if int(frame_count) < 2:
        raise ValueError(f"frame_count must be at least 2, got {frame_count}")
    rgb = rgb[..., :3]
    cfg = config or VideoTracksConfig()
    torch = import_torch()
    timings: dict[str, float] = {}
    h, w = mask.shape

    t0 = time.perf_counter()
    _update(progress, 0.0, "loading the video model", force=True)
    if pipeline is None:
        pipeline = load_video_pipeline(model_key, getattr(settings, "device", "auto"), local_path)
    if type(pipeline).__name__ != "WanVACEPipeline":
        raise ValueError(f"the single-image video engine drives WanVACEPipeline, got {type(pipeline).__name__}")
    record = dict(getattr(pipeline, "tween4d_record", None) or {"memory_mode": "as given"})
    timings["load"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    count = valid_frame_count(frame_count, int(pipeline.vae_scale_factor_temporal), cfg.max_frames)
    gen_w, gen_h = generation_size(w, h, cfg.max_area, vace_size_multiple(pipeline))
    steps = max(1, int(cfg.num_inference_steps))

    def on_step(pipe, step, timestep, callback_kwargs):
        _update(progress, _LOAD + (_GENERATE - _LOAD) * (step + 1) / steps, f"denoising step {step + 1}/{steps}",
                force=step + 1 == steps)
        return {}

    from PIL import Image

    first = Image.fromarray(cv2.resize((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8), (gen_w, gen_h),
                                       interpolation=cv2.INTER_AREA))
    generator = torch.Generator(device="cpu").manual_seed(int(getattr(settings, "seed", 0)))
    video = vace_video(pipeline, {0: first}, gen_h, gen_w, count, prompt=_job_prompt(settings, cfg.prompt),
                       negative_prompt=cfg.negative_prompt, num_inference_steps=steps,
                       guidance_scale=cfg.guidance_scale, generator=generator,
                       max_sequence_length=cfg.max_sequence_length, callback=on_step)
    video = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA if gen_w > w else cv2.INTER_LINEAR)
                      for f in np.clip(video, 0.0, 1.0)]).astype(np.float32)
    video[0] = rgb  # the input itself, not its VAE reconstruction, anchors the tracks
    timings["generate"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    tracks, visible = track_points(video, query_uv, preset=cfg.flow_preset, consistency_px=cfg.consistency_px,
                                   on_frame=lambda i: _update(progress, _GENERATE + (_TRACK - _GENERATE) * i / (count - 1),
                                                              "tracking the pixels"))
    timings["track"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if depth_model is None:
        try:
            from ...models.depth_anything import MonocularDepth
        except ImportError:  # before the shared depth module lands
            from ..geometry.depth_engine import MonocularDepth
        depth_model = MonocularDepth.load(device=getattr(settings, "device", "auto"), model_path=depth_path)
    disparities = []
    for i, frame in enumerate(video):
        disparities.append(depth_model.predict(frame))
        _update(progress, _TRACK + (_DEPTH - _TRACK) * (i + 1) / count, "depth of the frames")
    ratios, alignment = depth_ratios(np.stack(disparities), mask, tracks, visible,
                                     background_min_fraction=cfg.background_min_fraction,
                                     ratio_range=cfg.ratio_range)
    timings["depth"] = time.perf_counter() - t0

    # Resample the generated frames to the frames asked for (first and last kept).
    out_tracks = resample_sequence(tracks, int(frame_count))
    out_tracks[0] = query_uv
    out_ratio = resample_sequence(ratios, int(frame_count))
    out_ratio[0] = 1.0
    pos = np.linspace(0.0, count - 1.0, int(frame_count))
    lo, hi = np.floor(pos).astype(int), np.ceil(pos).astype(int)
    out_visible = visible[lo] & visible[hi]

    depth_spec = get_spec("depth")
    engines = {
        "engine": "video",
        **{k: v for k, v in record.items() if k in ("model", "revision", "memory_mode", "vae_tiling", "vae_slicing")},
        "pipeline": type(pipeline).__name__,
        "depth_model": depth_spec.repo_id,
        "depth_revision": depth_spec.revision,
        "depth_alignment": alignment,
        "tracker": "opencv-dis-chained-fb",
        "generated_frames": int(count),
        "generated_size": [int(gen_w), int(gen_h)],
        "visible_fraction_last": float(out_visible[-1].mean()) if out_visible.shape[1] else 0.0,
        "stage_timings_s": {k: round(v, 4) for k, v in timings.items()},
    }
    _update(progress, 1.0, "video motion ready", force=True)
    return VideoTracks(tracks=out_tracks, visible=out_visible, depth_ratio=out_ratio, engines=engines)
