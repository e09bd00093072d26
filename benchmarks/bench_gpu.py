#!/usr/bin/env python3
"""GPU cost of every model engine at real size with random weights (not a test: it prints one table).

    .venv/bin/python benchmarks/bench_gpu.py                   # all engines, default settings
    .venv/bin/python benchmarks/bench_gpu.py --only video-vace depth
    .venv/bin/python benchmarks/bench_gpu.py --skip-deformation

Nothing is downloaded: each registry model's main network is built from its published
configuration (``backend.models.architectures``) with random weights, in the dtype the engines
use on the GPU (bf16 where supported), and fed inputs of the size the engine gives it at default
settings (480 x 832, 49 frames for the video transformers; 518-pixel images for Depth Anything
V2; a batch of 16 frames for DINOv2). Per model it prints the time of one forward (the median
of 3 after a warm-up), the stage's diffusion estimate at default settings (steps x forwards per
step: 2 with classifier-free guidance), and the peak GPU memory of the forward. Then the
deformation motion engine's motion-stage time on a real pair (``--pair``; default the bundled
robot arm) through ``generate --engine motion=deformation --device cuda``.

Without a CUDA GPU it says so and exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Engine defaults (backend.stages.inbetween.video_engine.VideoInbetweenConfig and the single-image engine).
FRAMES, HEIGHT, WIDTH, STEPS, GUIDANCE_FORWARDS, TEXT_TOKENS = 49, 480, 832, 30, 2, 512


def _inputs(key: str, torch, dev, dtype) -> tuple[dict, int]:
    """Keyword inputs of one forward at default settings, and forwards per stage (steps x guidance)."""
    r = lambda *shape: torch.randn(*shape, device=dev, dtype=dtype)  # noqa: E731
    if key in ("video-vace", "video-wan"):
        t, h, w = (FRAMES - 1) // 4 + 1, HEIGHT // 8, WIDTH // 8  # Wan VAE: 4x in time, 8x in space
        args = dict(hidden_states=r(1, 16 if key == "video-vace" else 36, t, h, w),
                    timestep=torch.tensor([500], device=dev), encoder_hidden_states=r(1, TEXT_TOKENS, 4096),
                    return_dict=False)
        if key == "video-vace":
            args.update(control_hidden_states=r(1, 96, t, h, w),
                        control_hidden_states_scale=torch.ones(15, device=dev, dtype=dtype))
        else:
            args.update(encoder_hidden_states_image=r(2, 257, 1280))  # first and last image: CLIP tokens each
        return args, STEPS * GUIDANCE_FORWARDS
    if key.startswith("video-ltx"):
        t, h, w = (FRAMES - 1) // 8 + 1, HEIGHT // 32, WIDTH // 32  # LTX VAE: 8x in time, 32x in space
        return dict(hidden_states=r(1, t * h * w, 128), encoder_hidden_states=r(1, 128, 4096),
                    timestep=torch.tensor([500], device=dev),
                    encoder_attention_mask=torch.ones(1, 128, device=dev), num_frames=t, height=h, width=w,
                    return_dict=False), STEPS * GUIDANCE_FORWARDS
    if key == "depth":
        return dict(pixel_values=r(1, 3, 518, 518)), 1
    if key == "features":
        return dict(pixel_values=r(16, 3, 224, 224)), max(1, FRAMES // 16 + 1)
    raise KeyError(key)


def bench_model(key: str, torch, dev, dtype) -> dict:
    from backend.models.architectures import build_network

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(dev)
    t0 = time.perf_counter()
    model = build_network(key, device=dev, dtype=dtype)
    build_s = time.perf_counter() - t0
    weights_gb = torch.cuda.memory_allocated(dev) / 1e9
    inputs, forwards = _inputs(key, torch, dev, dtype)
    times = []
    with torch.inference_mode():
        for i in range(4):
            torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
            model(**inputs)
            torch.cuda.synchronize(dev)
            if i:
                times.append(time.perf_counter() - t0)
    forward = statistics.median(times)
    peak = torch.cuda.max_memory_allocated(dev) / 1e9
    del model, inputs
    torch.cuda.empty_cache()
    return {"key": key, "forward_s": forward, "forwards": forwards, "stage_s": forward * forwards,
            "weights_gb": weights_gb, "peak_gb": peak, "build_s": build_s}


def bench_deformation(pair: Path, quality: str) -> dict:
    import tempfile

    from backend.pipeline import generate_two_image
    from backend.settings import GenerateSettings

    start, end = next(pair.glob("start.*")), next(pair.glob("end.*"))
    with tempfile.TemporaryDirectory(prefix="tween4d-bench-gpu-") as tmp:
        settings = GenerateSettings(quality=quality, device="cuda", engines={"motion": "deformation"})
        result = generate_two_image(start, end, Path(tmp) / "asset", settings)
    return {"motion_s": result.summary["timings_s"].get("motion", float("nan")), "total_s": result.summary["total_s"],
            "frames": result.summary["frames"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="*", help="registry keys to measure (default: all with an architecture)")
    p.add_argument("--pair", type=Path, default=ROOT / "examples" / "robot_arm")
    p.add_argument("--quality", default="standard", choices=("draft", "standard", "high"))
    p.add_argument("--skip-deformation", action="store_true")
    args = p.parse_args()
    try:
        import torch
    except ImportError:
        print("bench_gpu: torch is not installed; nothing to measure.")
        return 0
    if not torch.cuda.is_available():
        print("bench_gpu: no CUDA GPU on this machine (torch sees none); nothing to measure.")
        return 0
    from backend.models import pick_dtype
    from backend.models.architectures import ARCHITECTURES
    from backend.render.gsplat_backend import gsplat_cuda_status

    dev = torch.device("cuda")
    dtype = pick_dtype(dev)
    props = torch.cuda.get_device_properties(dev)
    print(f"{props.name}, {props.total_memory / 1e9:.0f} GB, torch {torch.__version__}, CUDA {torch.version.cuda}, "
          f"{str(dtype).replace('torch.', '')}; gsplat: {gsplat_cuda_status()[1]}")
    keys = args.only or [k for k in ARCHITECTURES if k != "video-ltx-0.9.5"]
    rows = []
    for key in keys:
        try:
            rows.append(bench_model(key, torch, dev, dtype))
        except Exception as exc:  # one model failing (out of memory) must not hide the others
            rows.append({"key": key, "error": f"{exc.__class__.__name__}: {str(exc)[:80]}"})
            torch.cuda.empty_cache()
    print(f"\n{'model':<16} {'forward s':>10} {'x forwards':>10} {'stage s':>9} {'weights GB':>11} {'peak GB':>8}")
    for r in rows:
        if "error" in r:
            print(f"{r['key']:<16} failed: {r['error']}")
        else:
            print(f"{r['key']:<16} {r['forward_s']:>10.3f} {r['forwards']:>10d} {r['stage_s']:>9.1f} "
                  f"{r['weights_gb']:>11.1f} {r['peak_gb']:>8.1f}")
    print(f"(video: {WIDTH}x{HEIGHT}, {FRAMES} frames, {STEPS} steps x {GUIDANCE_FORWARDS} with guidance; "
          "stage s = diffusion only, without text encoding and VAE decoding)")
    if not args.skip_deformation:
        torch.cuda.reset_peak_memory_stats(dev)
        d = bench_deformation(args.pair, args.quality)
        print(f"\ndeformation motion engine, {args.pair.name}, {args.quality}, {d['frames']} frames: "
              f"motion stage {d['motion_s']:.1f} s (whole job {d['total_s']:.1f} s), "
              f"peak GPU {torch.cuda.max_memory_allocated(dev) / 1e9:.1f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
