"""Batch manifests: CSV or JSON Lines, one job per row.

Columns (CSV header / JSON keys):

* ``name``: the job's asset folder under OUT_ROOT (letters, digits, ``.``, ``_``,
  ``-``; unique). Optional: derived from the start image's file name (or its
  folder, for files named ``start``/``end``/``image``).
* ``start`` (or ``image``): the first image. ``end``: the second image; a row
  without ``end`` is a single-image job.
* any ``GenerateSettings`` field, per job: ``frames``, ``fps``, ``quality``,
  ``seed``, ``engines`` (CSV: ``stage=name`` pairs separated by ``;``), ``preview``,
  ``frame_plys``, ``device``, ``inflation``, and whatever fields the settings gain.
  Empty cells fall back to the command-line defaults.

Relative image paths are relative to the manifest's folder. Lines starting
with ``#`` and blank lines are skipped. A row whose values are wrong becomes a
failed job (its error says which value); a manifest that cannot be read as a
whole (no header, unknown columns, two jobs with the same name) raises
``ManifestError``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Optional

from ..errors import Tween4DError
from ..settings import GenerateSettings

IMAGE_COLUMNS = ("start", "end", "image")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
REPORT_NAME = "batch_report.json"
_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off"}


class ManifestError(Tween4DError):
    """The manifest as a whole cannot be used (unreadable, unknown columns, duplicate names)."""

    code = "manifest"


@dataclass
class BatchJob:
    """One row of a manifest.

    Attributes:
        row: the row's line number in the manifest (1-based, for messages).
        name: asset folder name under OUT_ROOT.
        mode: "two_image" or "single_image".
        inputs: role -> absolute image path ({"start", "end"} or {"image"}).
        settings: normalised ``GenerateSettings.to_dict()``; None when the row's values are invalid.
        error: (code, message, hint) when the row itself is invalid, else None.
    """

    row: int
    name: str
    mode: str
    inputs: dict
    settings: Optional[dict] = None
    error: Optional[tuple[str, str, str]] = None

    def job_dict(self, output: Path) -> dict:
        """The ``backend.jobs.run_job`` request for this row, writing to ``output``."""
        return {"mode": self.mode, "inputs": dict(self.inputs), "output": str(output),
                "settings": dict(self.settings or {})}


def setting_fields() -> dict:
    """Settings columns a manifest may carry: field name -> default value of ``GenerateSettings``."""
    out = {}
    for f in fields(GenerateSettings):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:  # type: ignore[misc]
            out[f.name] = f.default_factory()  # type: ignore[misc]
        else:
            out[f.name] = None
    return out


def _parse_engines(text: str) -> dict:
    text = text.strip()
    if text.startswith("{"):
        return json.loads(text)
    engines = {}
    for item in re.split(r"[;,\s]+", text):
        if not item:
            continue
        stage, sep, name = item.partition("=")
        if not sep or not stage or not name:
            raise ValueError(f"engines expects stage=name pairs separated by ';', got {item!r}")
        engines[stage.strip()] = name.strip()
    return engines


def _coerce(key: str, value, default):
    """A CSV cell (str) -> the type of the settings field's default; JSON values pass through."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if isinstance(default, bool):
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"{key} must be true or false, got {value!r}")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{key} must be an integer, got {value!r}") from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{key} must be a number, got {value!r}") from None
    if key == "engines":
        return _parse_engines(text)
    if isinstance(default, str):
        return text
    try:  # dicts, lists and optional values are written as JSON in a CSV cell
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _read_rows(path: Path) -> list[tuple[int, dict]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ManifestError(f"manifest {path} does not exist", "Check the path.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"manifest {path} cannot be read: {exc}", "Save it as UTF-8 CSV or JSON Lines.") from exc
    first = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson", ".json") or first.startswith("{")
    rows: list[tuple[int, dict]] = []
    if jsonl:
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ManifestError(f"{path.name} line {lineno} is not valid JSON: {exc}",
                                    "Write one JSON object per line.") from exc
            if not isinstance(obj, dict):
                raise ManifestError(f"{path.name} line {lineno} is not a JSON object", "Write one JSON object per line.")
            rows.append((lineno, obj))
        return rows
    # Comment lines become blank lines (which csv skips), so reader.line_num stays the file's line number.
    lines = ["" if ln.lstrip().startswith("#") else ln for ln in text.splitlines()]
    skip = next((i for i, ln in enumerate(lines) if ln.strip()), len(lines))
    reader = csv.DictReader(io.StringIO("\n".join(lines[skip:])), skipinitialspace=True)
    if not reader.fieldnames:
        raise ManifestError(f"{path.name} is empty", "Write a header line (name,start,end,...) and one row per job.")
    for rec in reader:
        i = reader.line_num + skip
        if None in rec:
            raise ManifestError(f"{path.name} row {i} has more cells than the header", "Quote cells that hold commas.")
        clean = {(k or "").strip(): (v or "").strip() for k, v in rec.items()}
        if any(clean.values()):
            rows.append((i, {k: v for k, v in clean.items() if v != ""}))
    return rows


def _derive_name(start: str) -> str:
    p = Path(start)
    stem = p.parent.name if p.stem.lower() in ("start", "end", "image") else p.stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).lstrip("._-") or "job"


def read_manifest(path: str | Path, defaults: Optional[dict] = None) -> list[BatchJob]:
    """Read a manifest into jobs.

    Args:
        path: a ``.csv`` file (header + rows) or ``.jsonl`` file (one JSON object per line).
        defaults: settings applied to every row before its own values (from the command line);
            ``engines`` are merged per stage.

    Returns:
        One ``BatchJob`` per row, in order; rows with bad values carry ``error``.

    Raises:
        ManifestError: unreadable file, no rows, unknown columns, bad or duplicate names.
    """
    path = Path(path).expanduser().resolve()
    base = path.parent
    known = setting_fields()
    defaults = dict(defaults or {})
    rows = _read_rows(path)
    if not rows:
        raise ManifestError(f"{path.name} has no jobs", "Add one row per job: name,start,end.")
    allowed = {"name", *IMAGE_COLUMNS, *known}
    jobs: list[BatchJob] = []
    seen: dict[str, int] = {}
    for row, rec in rows:
        unknown = sorted(set(rec) - allowed)
        if unknown:
            raise ManifestError(
                f"{path.name} row {row}: unknown column(s) {', '.join(unknown)}",
                f"Valid columns: name, start, end, image, {', '.join(known)}.",
            )
        start = rec.get("start") or rec.get("image")
        if rec.get("start") and rec.get("image"):
            raise ManifestError(f"{path.name} row {row} has both start and image", "Use start (and end), or image.")
        name = str(rec.get("name") or (_derive_name(str(start)) if start else "")).strip()
        if not NAME_PATTERN.fullmatch(name) or name == REPORT_NAME or ".." in name:
            raise ManifestError(
                f"{path.name} row {row}: job name {name!r} cannot be a folder name",
                "Use letters, digits, '.', '_' and '-' (starting with a letter or digit), at most 128 characters.",
            )
        if name.lower() in seen:
            raise ManifestError(
                f"{path.name} rows {seen[name.lower()]} and {row} both write the asset {name!r}",
                "Give every row its own name.",
            )
        seen[name.lower()] = row
        inputs = {}
        if start:
            inputs["start" if rec.get("end") else "image"] = str((base / Path(str(start)).expanduser()).resolve())
        if rec.get("end"):
            inputs["end"] = str((base / Path(str(rec["end"])).expanduser()).resolve())
        mode = "two_image" if "end" in inputs else "single_image"
        job = BatchJob(row=row, name=name, mode=mode, inputs=inputs)
        if not start:
            job.error = ("manifest", f"row {row} ({name}) has no start image", "Fill in the start column.")
            jobs.append(job)
            continue
        try:
            merged = dict(defaults)
            for key in known:
                if key in rec:
                    value = _coerce(key, rec[key], known[key])
                    if key == "engines":
                        if not isinstance(value, dict):
                            raise ValueError(f"engines must be stage=name pairs, got {rec[key]!r}")
                        value = {**merged.get("engines", {}), **value}
                    merged[key] = value
            job.settings = GenerateSettings.from_dict(merged).to_dict()
        except (TypeError, ValueError) as exc:
            job.error = ("manifest", f"row {row} ({name}): {exc}", "Fix the value in the manifest.")
        jobs.append(job)
    return jobs
