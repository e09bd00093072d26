"""The model registry: local overrides, offline cache look-up, actionable errors, downloads, devices, the CLI."""

from __future__ import annotations

import argparse
import json
import re
import socket

import pytest

from backend.errors import ModelUnavailableError
from backend.models import (
    MODELS,
    download_model,
    get_spec,
    is_installed,
    load_pretrained,
    offline_mode,
    pick_device,
    pick_dtype,
    resolve_model,
)
from backend.models_cli import add_models_parser, cmd_models


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for spec in MODELS.values():
        monkeypatch.delenv(spec.env_var, raising=False)


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def fake_snapshot(cache, spec, commit="0123456789abcdef0123456789abcdef01234567", files=("config.json",)):
    """Lay out a snapshot in the Hugging Face cache format (models--owner--name/snapshots/<commit>/...)."""
    repo = cache / ("models--" + spec.repo_id.replace("/", "--"))
    commit = spec.revision if spec.pinned else commit
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    for name in files:
        (snap / name).parent.mkdir(parents=True, exist_ok=True)
        (snap / name).write_text("{}")
    if not spec.pinned:
        (repo / "refs").mkdir()
        (repo / "refs" / spec.revision).write_text(commit)
    return snap


def test_every_spec_is_complete_and_revisions_are_pinned_or_named():
    assert {"depth", "features", "video-wan", "video-ltx"} <= set(MODELS)
    assert MODELS["depth"].repo_id == "depth-anything/Depth-Anything-V2-Small-hf"
    assert MODELS["features"].repo_id == "facebook/dinov2-small"
    for key, spec in MODELS.items():
        assert spec.key == key and spec.library in ("transformers", "diffusers")
        assert spec.size_gb > 0 and spec.licence and spec.purpose and spec.task
        assert re.fullmatch(r"[0-9a-f]{40}", spec.revision) or spec.revision == "main"
        assert re.fullmatch(r"TWEEN4D_MODEL_[A-Z0-9_]+", spec.env_var)
    assert MODELS["depth"].pinned and MODELS["features"].pinned


def test_local_override_argument_and_environment(tmp_path, monkeypatch):
    folder = tmp_path / "my_depth"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert resolve_model("depth", local_path=folder) == folder.resolve()
    monkeypatch.setenv("TWEEN4D_MODEL_DEPTH", str(folder))
    assert resolve_model("depth") == folder.resolve()
    assert is_installed("depth")
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text("{}")
    assert resolve_model("depth", local_path=other) == other.resolve(), "the argument wins over the variable"


def test_bad_override_names_the_folder(tmp_path, monkeypatch):
    with pytest.raises(ModelUnavailableError) as exc:
        resolve_model("depth", local_path=tmp_path / "nowhere")
    assert exc.value.code == "model.path" and "nowhere" in exc.value.message
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("TWEEN4D_MODEL_FEATURES", str(empty))
    with pytest.raises(ModelUnavailableError) as exc:
        resolve_model("features")
    assert exc.value.code == "model.path" and "TWEEN4D_MODEL_FEATURES" in exc.value.message
    assert "config.json" in exc.value.message


def test_missing_model_offline_names_repo_and_the_download_command(tmp_path, offline):
    for key in ("depth", "video-wan"):
        spec = MODELS[key]
        with pytest.raises(ModelUnavailableError) as exc:
            resolve_model(key, cache_dir=tmp_path)
        err = exc.value
        assert err.code == "model.missing"
        assert spec.repo_id in err.message and spec.revision in err.message and spec.size_text in err.message
        assert f"python -m backend models download {key}" in err.hint
        assert f"hf download {spec.repo_id}" in err.hint and "add-on" in err.hint and spec.env_var in err.hint
        assert not is_installed(key, cache_dir=tmp_path)


def test_cached_snapshots_are_found_offline(tmp_path, offline):
    depth = MODELS["depth"]  # pinned to a commit: looked up under snapshots/<commit>
    snap = fake_snapshot(tmp_path, depth)
    assert resolve_model("depth", cache_dir=tmp_path) == snap
    ltx = MODELS["video-ltx"]  # a branch: looked up through refs/main
    snap = fake_snapshot(tmp_path, ltx, files=("model_index.json",))
    assert resolve_model("video-ltx", cache_dir=tmp_path) == snap


def test_unknown_key():
    with pytest.raises(ModelUnavailableError) as exc:
        get_spec("depht")
    assert exc.value.code == "model.unknown" and "depth" in exc.value.hint


def test_download_refuses_in_offline_mode(tmp_path, offline):
    assert offline_mode()
    with pytest.raises(ModelUnavailableError) as exc:
        download_model("features", cache_dir=tmp_path)
    assert exc.value.code == "model.offline" and "HF_HUB_OFFLINE" in exc.value.message


def test_download_fetches_the_pinned_revision(tmp_path, monkeypatch):
    import huggingface_hub
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    calls = []

    def fake_snapshot_download(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        if repo_id.startswith("Wan-AI"):
            raise OSError("No space left on device")
        return str(tmp_path / "snap")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    lines = []
    assert download_model("features", cache_dir=tmp_path, progress=lines.append) == tmp_path / "snap"
    repo_id, kwargs = calls[0]
    spec = MODELS["features"]
    assert repo_id == spec.repo_id and kwargs["revision"] == spec.revision
    assert kwargs.get("local_files_only") is not True and "*.safetensors" in kwargs["allow_patterns"]
    assert "*.bin" not in kwargs["allow_patterns"]
    assert any(spec.repo_id in line for line in lines)
    with pytest.raises(ModelUnavailableError) as exc:
        download_model("video-wan", cache_dir=tmp_path)
    assert exc.value.code == "model.download" and "No space left" in exc.value.message


def test_broken_model_folder_is_reported(tmp_path):
    from transformers import Dinov2Model

    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "dinov2"}))  # no weights
    with pytest.raises(ModelUnavailableError) as exc:
        load_pretrained("features", Dinov2Model, local_path=folder)
    assert exc.value.code == "model.broken" and str(folder) in exc.value.message


def test_devices():
    import torch

    assert pick_device("cpu") == torch.device("cpu")
    assert pick_dtype(torch.device("cpu")) == torch.float32
    auto = pick_device("auto")
    assert auto.type == ("cuda" if torch.cuda.is_available() else auto.type)
    assert auto.type in ("cuda", "mps", "cpu")
    with pytest.raises(ValueError):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ModelUnavailableError) as exc:
            pick_device("cuda")
        assert exc.value.code == "model.cuda" and "cpu" in exc.value.hint
    else:
        assert pick_dtype(pick_device("cuda")) in (torch.bfloat16, torch.float16)


def run_models(argv, capsys):
    parser = argparse.ArgumentParser(prog="python -m backend")
    add_models_parser(parser.add_subparsers(dest="command", required=True))
    code = cmd_models(parser.parse_args(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_list_path_and_download(tmp_path, capsys, offline, monkeypatch):
    fake_snapshot(tmp_path, MODELS["depth"])
    code, out, _ = run_models(["models", "list", "--cache-dir", str(tmp_path)], capsys)
    assert code == 0
    table = [line.split() for line in out.splitlines()[1:] if line.strip()]
    rows = {row[0]: row for row in table if row[0] in MODELS}
    assert set(rows) == set(MODELS)
    assert rows["depth"][-1] == "yes" and rows["features"][-1] == "no"
    assert rows["depth"][1] == MODELS["depth"].repo_id and "models download" in out

    code, out, _ = run_models(["models", "list", "--json", "--cache-dir", str(tmp_path)], capsys)
    listed = {r["key"]: r for r in json.loads(out)}
    assert listed["depth"]["installed"] and not listed["features"]["installed"]

    code, out, _ = run_models(["models", "path", "depth", "--cache-dir", str(tmp_path)], capsys)
    assert code == 0 and out.strip().endswith(MODELS["depth"].revision)
    code, _, err = run_models(["models", "path", "features", "--cache-dir", str(tmp_path)], capsys)
    assert code == 1 and "python -m backend models download features" in err
    code, _, err = run_models(["models", "download", "features", "--cache-dir", str(tmp_path)], capsys)
    assert code == 1 and "HF_HUB_OFFLINE" in err
    code, _, err = run_models(["models", "download", "nope"], capsys)
    assert code == 2 and "Unknown model" in err
