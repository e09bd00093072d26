"""``python -m backend batch MANIFEST -o OUT_ROOT``: the batch subcommand's arguments and entry point.

Exit codes: 0 every job ok or skipped, 1 some jobs failed (see the table and
``batch_report.json``), 2 bad usage or manifest (or Ray missing), 4 OUT_ROOT
cannot be used, 130 stopped by Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..settings import DEFAULT_ENGINES, QUALITIES


def add_batch_parser(sub) -> None:
    """Register the ``batch`` subcommand on an argparse subparsers object."""
    b = sub.add_parser(
        "batch", help="many jobs from a CSV / JSON Lines manifest: resumable, local processes or Ray",
        description="Run every row of MANIFEST (columns: name, start, end or image, and any setting) into "
                    "OUT_ROOT/<name>. Jobs whose asset is complete for the same inputs and settings are skipped; "
                    "settings given here are defaults that the manifest's columns override.")
    b.add_argument("manifest", type=Path, help="CSV (with a header) or JSON Lines file, one job per row")
    b.add_argument("-o", "--output", type=Path, required=True, help="OUT_ROOT: one asset folder per job is written here")
    b.add_argument("--workers", type=int, default=None,
                   help="jobs at once on this machine (default: what fits: cores and memory for weight-free engines, "
                        "one per GPU for model engines); with --ray and no address: CPUs of the local Ray instance")
    b.add_argument("--retry-failed", action="store_true", help="rerun jobs that failed in an earlier run")
    b.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run each job as a Ray task: on the cluster at ADDRESS (e.g. 'auto' or 'ray://head:10001'), "
                        "or on a local Ray instance when no address is given")
    b.add_argument("--shared-output", action="store_true",
                   help="with --ray: OUT_ROOT is the same path on every node, workers write assets there directly "
                        "(default: workers send each asset back to this machine)")
    b.add_argument("--quiet", action="store_true", help="no progress bar or per-job lines")
    d = b.add_argument_group("default settings (a manifest column overrides them per job)")
    d.add_argument("--frames", type=int, help="number of frames (default 49)")
    d.add_argument("--fps", type=float, help="frames per second (default 24)")
    d.add_argument("--quality", choices=QUALITIES, help="draft | standard | high (default standard)")
    d.add_argument("--seed", type=int, help="random seed (default 0)")
    d.add_argument("--engine", action="append", metavar="STAGE=NAME", default=[],
                   help=f"engine per stage, repeatable; stages: {', '.join(DEFAULT_ENGINES)}")
    d.add_argument("--frame-plys", action="store_true", default=None, help="also write one 3DGS PLY per frame")
    d.add_argument("--no-preview", action="store_true", help="skip the preview video")
    d.add_argument("--device", choices=("auto", "cpu", "cuda"), help="device for model engines (default auto)")


def _defaults(args) -> dict:
    out = {}
    for key in ("frames", "fps", "quality", "seed", "device"):
        if getattr(args, key) is not None:
            out[key] = getattr(args, key)
    if args.frame_plys:
        out["frame_plys"] = True
    if args.no_preview:
        out["preview"] = False
    engines = {}
    for item in args.engine:
        stage, sep, name = item.partition("=")
        if not sep or not stage or not name:
            raise ValueError(f"--engine expects STAGE=NAME, got {item!r}")
        engines[stage] = name
    if engines:
        out["engines"] = engines
    return out


def cmd_batch(args) -> int:
    """Run the ``batch`` subcommand; returns the exit code."""
    from ..errors import OutputError, Tween4DError
    from ..settings import GenerateSettings
    from .run import BatchOptions, print_summary, run_batch

    try:
        defaults = _defaults(args)
        GenerateSettings.from_dict(defaults)
        if args.workers is not None and args.workers < 1:
            raise ValueError("--workers must be at least 1")
        if args.shared_output and args.ray is None:
            raise ValueError("--shared-output only applies with --ray")
    except (TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    opts = BatchOptions(manifest=args.manifest, out_root=args.output, defaults=defaults, workers=args.workers,
                        retry_failed=args.retry_failed, ray=args.ray, shared_output=args.shared_output,
                        quiet=args.quiet)
    try:
        result = run_batch(opts)
    except KeyboardInterrupt:  # while reading the manifest and checking OUT_ROOT: nothing has run
        print("stopped before any job ran", file=sys.stderr)
        return 130
    except Tween4DError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"what to do: {exc.hint}", file=sys.stderr)
        return 4 if isinstance(exc, OutputError) else 2
    print_summary(result)
    if result.interrupted:
        return 130
    return 1 if result.failed else 0
