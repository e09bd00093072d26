"""``python -m backend models {list,download,path}``: the model weights the model engines use.

* ``models list [--json]``: key, repository, revision, size, installed (yes/no);
  the JSON rows also say why a model is missing (``missing``: an error code).
* ``models download KEY [KEY ...]``: fetch the pinned snapshots into the
  Hugging Face cache (the only command that uses the network).
* ``models path KEY``: print the folder the engines would load (for scripts).

``--cache-dir`` points at a Hugging Face hub cache other than the default
(``$HF_HOME/hub``). Exit codes: 0 done, 1 a model is missing or the download
failed (the message says what to do), 2 unknown model key.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .errors import ModelUnavailableError


def add_models_parser(subparsers) -> None:
    """Add the ``models`` subcommand to an ``argparse`` subparsers object."""
    m = subparsers.add_parser("models", help="list, download and locate model weights (model engines only)")
    msub = m.add_subparsers(dest="models_command", required=True)

    ls = msub.add_parser("list", help="the models, their size and whether they are installed")
    ls.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    ls.add_argument("--cache-dir", type=Path, default=None, help="Hugging Face hub cache (default $HF_HOME/hub)")

    dl = msub.add_parser("download", help="download models into the Hugging Face cache (needs the internet)")
    dl.add_argument("keys", nargs="+", metavar="KEY", help="model key(s), see 'models list'")
    dl.add_argument("--cache-dir", type=Path, default=None, help="Hugging Face hub cache (default $HF_HOME/hub)")

    p = msub.add_parser("path", help="print the folder a model is loaded from")
    p.add_argument("key", metavar="KEY")
    p.add_argument("--cache-dir", type=Path, default=None, help="Hugging Face hub cache (default $HF_HOME/hub)")


def _status(key: str, cache_dir) -> tuple[bool, str]:
    from .models import resolve_model

    try:
        return True, str(resolve_model(key, cache_dir=cache_dir))
    except ModelUnavailableError as exc:
        return False, exc.code


def _print_error(exc: ModelUnavailableError) -> None:
    print(f"error: {exc.message}", file=sys.stderr)
    if exc.hint:
        print(f"what to do: {exc.hint}", file=sys.stderr)


def _list(args) -> int:
    from .models import MODELS

    rows = []
    for spec in MODELS.values():
        installed, where = _status(spec.key, args.cache_dir)
        rows.append({"key": spec.key, "repo_id": spec.repo_id, "revision": spec.revision, "library": spec.library,
                     "size_gb": spec.size_gb, "licence": spec.licence, "purpose": spec.purpose,
                     "size_text": spec.size_text, "vram_gb": spec.vram_gb, "vram_text": spec.vram_text,
                     "installed": installed, "path": where if installed else None,
                     # why it is not installed: model.missing, model.libraries (no huggingface_hub), model.path
                     "missing": None if installed else where, "env_var": spec.env_var})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = ("KEY", "REPOSITORY", "REVISION", "SIZE", "VRAM", "INSTALLED")
    table = [header] + [(r["key"], r["repo_id"], r["revision"][:12], MODELS[r["key"]].size_text,
                         r["vram_text"].replace(" VRAM", "") or "?", "yes" if r["installed"] else "no") for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    missing = [r["key"] for r in rows if not r["installed"]]
    if missing:
        print(f"\nDownload with: python -m backend models download {missing[0]}  (weights come from the "
              "Hugging Face Hub; every model's licence is on its model card)")
    return 0


def _download(args) -> int:
    from .models import download_model, get_spec

    try:
        specs = [get_spec(k) for k in args.keys]
    except ModelUnavailableError as exc:
        _print_error(exc)
        return 2
    for spec in specs:
        try:
            download_model(spec.key, cache_dir=args.cache_dir, progress=lambda line: print(line, flush=True))
        except ModelUnavailableError as exc:
            _print_error(exc)
            return 1
    return 0


def _path(args) -> int:
    from .models import resolve_model

    try:
        print(resolve_model(args.key, cache_dir=args.cache_dir))
    except ModelUnavailableError as exc:
        _print_error(exc)
        return 2 if exc.code == "model.unknown" else 1
    return 0


def cmd_models(args) -> int:
    """Run a parsed ``models`` subcommand; returns the process exit code."""
    handlers = {"list": _list, "download": _download, "path": _path}
    return handlers[args.models_command](args)
