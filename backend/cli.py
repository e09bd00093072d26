"""Command line: ``python -m backend {generate,serve,validate,models}``.

``generate`` shows a progress bar per stage and a summary; errors print
their message and what to do, with a non-zero exit code:
2 bad usage or settings, 3 bad input, 4 output problem, 5 internal error,
130 cancelled (Ctrl-C, SIGINT), 143 terminated (SIGTERM); both cancel the job
cooperatively, so nothing half-written remains.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from .errors import Cancelled, ForegroundError, InputImageError, OutputError, Tween4DError
from .settings import DEFAULT_ENGINES, QUALITIES, GenerateSettings


def _engine_pairs(values: list[str]) -> dict:
    engines = {}
    for item in values or []:
        stage, sep, name = item.partition("=")
        if not sep or stage not in DEFAULT_ENGINES or not name:
            raise argparse.ArgumentTypeError(
                f"--engine expects STAGE=NAME with STAGE one of {', '.join(DEFAULT_ENGINES)}, got {item!r}"
            )
        engines[stage] = name
    return engines


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m backend", description="Tween4D generation backend")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="two images -> animated 3D asset directory")
    g.add_argument("start", type=Path, help="image of the start state")
    g.add_argument("end", type=Path, help="image of the end state")
    g.add_argument("-o", "--output", type=Path, required=True, help="asset directory to write (replaced on success)")
    g.add_argument("--frames", type=int, default=49, help="number of frames (default 49)")
    g.add_argument("--fps", type=float, default=24.0, help="frames per second (default 24)")
    g.add_argument("--quality", choices=QUALITIES, default="standard", help="draft | standard | high")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--engine", action="append", metavar="STAGE=NAME", default=[],
                   help=f"engine per stage, repeatable; stages: {', '.join(f'{k} (default {v})' for k, v in DEFAULT_ENGINES.items())}")
    g.add_argument("--frame-plys", action="store_true", help="also write one 3DGS PLY per frame under frames/")
    g.add_argument("--no-preview", action="store_true", help="skip the preview video")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="device for model engines")
    g.add_argument("--json", action="store_true", help="print the summary as JSON instead of text")
    g.add_argument("--quiet", action="store_true", help="no progress bars")

    sub.add_parser("serve", help="JSON-lines server on stdin/stdout (used by the Blender add-on)")

    v = sub.add_parser("validate", help="check an asset directory against the format")
    v.add_argument("asset", type=Path)

    from .models_cli import add_models_parser

    add_models_parser(sub)
    return p


class _Bars:
    """One tqdm bar per stage, fed by progress events."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = None
        self.stage = None

    def __call__(self, event: dict) -> None:
        if event.get("type") == "log":
            if not self.quiet and event.get("level") in ("info", "warning"):
                from tqdm import tqdm

                tqdm.write(("warning: " if event["level"] == "warning" else "") + event["message"], file=sys.stderr)
            return
        if self.quiet or event.get("type") != "progress":
            return
        from tqdm import tqdm

        if event["stage"] != self.stage:
            self.close()
            self.stage = event["stage"]
            label = f"[{event['stage_index'] + 1}/{event['stage_count']}] {self.stage:<10}"
            self.bar = tqdm(total=100, desc=label, file=sys.stderr, leave=True,
                            bar_format="{desc} {bar} {percentage:3.0f}% {elapsed}")
        self.bar.n = int(round(100 * event["fraction"]))
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _print_summary(result, as_json: bool) -> None:
    s = result.summary
    if as_json:
        print(json.dumps({"asset": str(result.asset_dir), **s}, indent=2))
        return
    print(f"\nAsset written: {result.asset_dir}")
    print(f"  frames {s['frames']}, Gaussians {s['gaussians']:,}, keyframes {s['keyframes']}")
    print("  time per stage: " + ", ".join(f"{k} {v:.2f}s" for k, v in s["timings_s"].items()))
    print(f"  total {s['total_s']:.2f}s")


def cmd_generate(args) -> int:
    try:
        engines = _engine_pairs(args.engine)
        settings = GenerateSettings(frames=args.frames, fps=args.fps, quality=args.quality, seed=args.seed,
                                    engines=engines, frame_plys=args.frame_plys, preview=not args.no_preview,
                                    device=args.device)
    except (argparse.ArgumentTypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    job = {"mode": "two_image", "inputs": {"start": str(args.start), "end": str(args.end)},
           "output": str(args.output), "settings": settings.to_dict()}
    bars = _Bars(args.quiet)
    try:
        result, signum = _run_cancellable(job, bars)
    except _StopNow as stop:
        bars.close()
        print("stopped at once; a hidden .partial folder may remain next to the output and is removed by the "
              "next run", file=sys.stderr)
        return 128 + stop.signum
    except Cancelled:
        bars.close()
        print("cancelled: nothing was written", file=sys.stderr)
        return 130
    except Tween4DError as exc:
        bars.close()
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"what to do: {exc.hint}", file=sys.stderr)
        if isinstance(exc, (InputImageError, ForegroundError)):
            return 3
        return 4 if isinstance(exc, OutputError) else 2
    bars.close()
    if result is None:
        print("cancelled: nothing was written", file=sys.stderr)
        return 128 + signum
    _print_summary(result, args.json)
    return 0


class _StopNow(Exception):
    """A second SIGINT/SIGTERM while a cancel is under way: stop waiting for the job."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _run_cancellable(job: dict, sink):
    """Run ``job`` in a worker thread; SIGINT (Ctrl-C) and SIGTERM cancel it cooperatively.

    The first signal sets the job's cancel event: the pipeline stops at its
    next progress report or write chunk and the writer removes its hidden
    partial folder, so nothing half-made remains. A second signal stops
    waiting at once (``_StopNow``).

    Returns:
        (result or None when cancelled by a signal, the signal number or 0).

    Raises:
        _StopNow: a second signal arrived. Whatever ``run_job`` raised,
        except ``Cancelled`` after a signal (reported as a None result).
    """
    from .jobs import run_job

    cancel = threading.Event()
    outcome: dict = {}
    received: list[int] = []

    def work() -> None:
        try:
            outcome["result"] = run_job(job, sink=sink, cancel=cancel)
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc

    def on_signal(signum, frame) -> None:
        if received:
            raise _StopNow(signum)
        received.append(signum)
        cancel.set()
        print(f"\n{signal.Signals(signum).name}: cancelling (again to stop at once)...", file=sys.stderr)

    worker = threading.Thread(target=work, name="tween4d-job", daemon=True)
    in_main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)} if in_main else {}
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.1)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    signum = received[0] if received else 0
    if "error" in outcome:
        if signum and isinstance(outcome["error"], Cancelled):
            return None, signum
        raise outcome["error"]
    return outcome["result"], signum


def cmd_validate(args) -> int:
    from .asset import AssetError, load_asset

    try:
        asset = load_asset(args.asset)
    except AssetError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    m = asset.manifest
    print(f"valid: {m['mode']}, {m['frame_count']} frames at {m['fps']} fps, {m['gaussian_count']} Gaussians"
          + (f", mesh {asset.mesh.vertices.shape[1]} vertices" if asset.mesh is not None else ""))
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from .server import main as serve_main

        return serve_main()
    if args.command == "validate":
        return cmd_validate(args)
    if args.command == "models":
        from .models_cli import cmd_models

        return cmd_models(args)
    try:
        return cmd_generate(args)
    except Exception:  # keep the traceback for bug reports, with a clear exit code
        import traceback

        traceback.print_exc()
        print("error: internal error (see the traceback above); please report it", file=sys.stderr)
        return 5
