"""Job keys and the resume check: is a job's asset already complete for the same inputs and settings?

A job is identified by its mode, the SHA-256 of each input image (in role
order) and its normalised settings (``GenerateSettings.from_dict(...).to_dict()``
after a JSON round trip). An asset in ``OUT_ROOT/<name>`` counts as done for
a job when ``backend.asset.load_asset`` accepts it (``asset.json`` present,
every array consistent with it) and its ``mode``, ``inputs[*].sha256`` and
``settings`` equal the job's.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Optional

from ..settings import GenerateSettings
from .manifest import BatchJob


def sha256_file(path: str | Path) -> Optional[str]:
    """Hex SHA-256 of a file, or None when it is missing or unreadable."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def input_digests(job: BatchJob) -> dict:
    """Role -> SHA-256 (None when unreadable) of a job's input images, in the job's role order."""
    return {role: sha256_file(path) for role, path in job.inputs.items()}


def normalise_settings(settings: Optional[dict]) -> Optional[dict]:
    """Settings as ``GenerateSettings`` would write them (defaults filled, engines per stage), JSON-typed.

    Returns None when the dict is not valid settings (an asset from an older or newer backend).
    """
    try:
        norm = GenerateSettings.from_dict(dict(settings or {})).to_dict()
    except (TypeError, ValueError):
        return None
    return json.loads(json.dumps(norm, sort_keys=True))


def job_key(job: BatchJob, digests: dict) -> str:
    """A short stable id of what a job computes: sha256 of mode + input digests + normalised settings (16 hex)."""
    doc = {"mode": job.mode, "inputs": [digests.get(r) for r in job.inputs],
           "settings": normalise_settings(job.settings)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def check_asset(job: BatchJob, digests: dict, asset_dir: Path) -> tuple[bool, str]:
    """Whether ``asset_dir`` holds a complete asset made from this job's inputs and settings.

    Args:
        job: the manifest row (``mode``, ``inputs``, ``settings``).
        digests: ``input_digests(job)``.
        asset_dir: ``OUT_ROOT/<name>``.

    Returns:
        (done, reason): reason says why the job has to run (empty when done).
    """
    from ..asset import AssetError, load_asset

    if not (asset_dir / "asset.json").is_file():
        return False, "no asset yet"
    if job.settings is None or any(d is None for d in digests.values()):
        return False, "the job cannot be checked (bad row or unreadable input)"
    try:
        asset = load_asset(asset_dir, mmap=True)
    except AssetError as exc:
        return False, f"the existing asset is incomplete or invalid: {exc}"
    m = asset.manifest
    if m.get("mode") != job.mode:
        return False, f"the existing asset is a {m.get('mode')} asset"
    have = [str(i.get("sha256")) for i in m.get("inputs", [])]
    want = [digests[r] for r in job.inputs]
    if have != want:
        return False, "the input images changed"
    if normalise_settings(m.get("settings")) != normalise_settings(job.settings):
        return False, "the settings changed"
    return True, ""
