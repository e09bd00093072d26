"""Batch runner parts without running jobs: manifests, the resume check, memory estimates, asset transfer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from backend.asset import load_asset
from backend.batch import resources
from backend.batch.manifest import ManifestError, read_manifest
from backend.batch.resume import check_asset, input_digests
from backend.batch.transfer import install_asset, pack_dir
from backend.errors import OutputError


def test_csv_manifest_rows_defaults_and_bad_values(tmp_path, examples_dir):
    shutil.copytree(examples_dir / "mill", tmp_path / "pairs" / "mill")
    (tmp_path / "m.csv").write_text(
        "# comment lines and blank lines are skipped\n"
        "name,start,end,frames,engines,preview,quality\n"
        "a,pairs/mill/start.png,pairs/mill/end.png,8,motion=lift;geometry=inflate,no,\n"
        "\n"
        ",pairs/mill/start.png,pairs/mill/end.png,,,,\n"
        "bad,pairs/mill/start.png,pairs/mill/end.png,,,,ultra\n"
        "one,pairs/mill/start.png,,,,,\n"
    )
    jobs = read_manifest(tmp_path / "m.csv", defaults={"quality": "draft", "frames": 6, "engines": {"keyframes": "motion"}})
    a, derived, bad, single = jobs
    assert a.inputs == {"start": str(tmp_path / "pairs/mill/start.png"), "end": str(tmp_path / "pairs/mill/end.png")}
    assert a.settings["frames"] == 8 and a.settings["preview"] is False and a.settings["quality"] == "draft"
    assert a.settings["engines"]["geometry"] == "inflate" and a.settings["engines"]["keyframes"] == "motion"
    assert derived.name == "mill" and derived.settings["frames"] == 6 and derived.error is None
    assert bad.settings is None and "quality" in bad.error[1] and "row 6" in bad.error[1]
    assert single.mode == "single_image" and set(single.inputs) == {"image"}
    assert a.job_dict(tmp_path / "out" / "a")["mode"] == "two_image"


def test_jsonl_manifest_matches_csv(tmp_path, examples_dir):
    pair = examples_dir / "turtle"
    (tmp_path / "m.jsonl").write_text(json.dumps({"name": "t", "start": str(pair / "start.png"), "end": str(pair / "end.png"),
                                                  "frames": 9, "engines": {"motion": "lift"}}) + "\n")
    (tmp_path / "m.csv").write_text(f"name,start,end,frames,engines\nt,{pair / 'start.png'},{pair / 'end.png'},9,motion=lift\n")
    (j,), (c,) = read_manifest(tmp_path / "m.jsonl"), read_manifest(tmp_path / "m.csv")
    assert (j.row, c.row) == (1, 2), "rows are the manifests' line numbers"
    assert (j.name, j.inputs, j.settings) == (c.name, c.inputs, c.settings) and j.settings["frames"] == 9


@pytest.mark.parametrize("text, match", [
    ("name,start,end,colour\na,x.png,y.png,red\n", "unknown column.*colour"),
    ("name,start,end\na,x.png,y.png\nA,z.png,w.png\n", "both write the asset"),
    ("name,start,end\n../up,x.png,y.png\n", "cannot be a folder name"),
    ("name,start,end\n", "has no jobs"),
])
def test_unusable_manifests_are_refused_with_advice(tmp_path, text, match):
    (tmp_path / "m.csv").write_text(text)
    with pytest.raises(ManifestError, match=match) as info:
        read_manifest(tmp_path / "m.csv")
    assert info.value.hint


def test_resume_check_compares_inputs_and_settings(tmp_path, generated_asset, examples_dir):
    pair = examples_dir / "robot_arm"
    (tmp_path / "m.csv").write_text(
        "name,start,end,frames\n"
        f"same,{pair / 'start.png'},{pair / 'end.png'},12\n"
        f"frames,{pair / 'start.png'},{pair / 'end.png'},13\n"
        f"swapped,{pair / 'end.png'},{pair / 'start.png'},12\n"
    )
    same, frames, swapped = read_manifest(tmp_path / "m.csv", defaults={"quality": "draft"})
    assert check_asset(same, input_digests(same), generated_asset) == (True, "")
    assert check_asset(frames, input_digests(frames), generated_asset) == (False, "the settings changed")
    assert check_asset(swapped, input_digests(swapped), generated_asset) == (False, "the input images changed")
    assert check_asset(same, input_digests(same), tmp_path / "nothing")[0] is False


def test_memory_estimate_grows_with_quality_frames_and_models():
    est = resources.estimate_job_bytes
    draft, std = est({"quality": "draft", "frames": 49}), est({"quality": "standard", "frames": 49})
    assert draft < std < est({"quality": "high", "frames": 49})
    assert std < est({"quality": "standard", "frames": 120})
    model = {"quality": "standard", "frames": 49, "engines": {"geometry": "depth"}}
    assert est(model) - std == resources.MODEL_BYTES and resources.needs_gpu(model)
    assert not resources.needs_gpu({**model, "device": "cpu"})
    # Measured peak RSS (module docstring): standard 49 frames 310 MB; the estimate must cover it.
    assert std > 310 * 2**20


def test_available_memory_without_psutil(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_psutil(name, *args, **kwargs):
        if name == "psutil":
            raise ImportError("no psutil in a minimal environment")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_psutil)
    avail = resources.available_memory()
    total = resources._meminfo()["MemTotal"]
    assert avail is not None and 0 < avail <= total


def test_transfer_installs_atomically_and_never_replaces_foreign_folders(tmp_path, generated_asset):
    data = pack_dir(generated_asset)
    out = install_asset(data, tmp_path / "a")
    new, old = load_asset(out), load_asset(generated_asset)
    files = sorted(old.manifest["files"])
    assert sorted(new.manifest.pop("files")) == files and {**new.manifest, "files": old.manifest["files"]} == old.manifest
    for rel in files:  # written again by the asset writer: the same bytes (npz: the same arrays)
        if not rel.endswith(".npz"):
            assert (out / rel).read_bytes() == (generated_asset / rel).read_bytes(), rel
    assert (new.gaussians.scales == old.gaussians.scales).all() and (new.mesh.faces == old.mesh.faces).all()
    install_asset(data, tmp_path / "a")  # an existing asset is replaced
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(OutputError, match="not a Tween4D asset"):
        install_asset(data, foreign)
    assert (foreign / "notes.txt").read_text() == "keep"
    with pytest.raises(OutputError, match="not valid"):
        install_asset(data[: len(data) // 2], tmp_path / "b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "mine"], "no partial folder is left behind"


def test_cli_options_for_ray_and_defaults(tmp_path):
    from backend.batch.cli import _defaults, cmd_batch
    from backend.cli import build_parser

    parse = build_parser().parse_args
    local = parse(["batch", "m.csv", "-o", "out", "--ray", "--workers", "2", "--frames", "6", "--no-preview"])
    assert local.ray == "local" and local.workers == 2
    assert _defaults(local) == {"frames": 6, "preview": False}, "only the settings given become defaults"
    assert parse(["batch", "m.csv", "-o", "out", "--ray", "auto"]).ray == "auto"
    assert parse(["batch", "m.csv", "-o", "out"]).ray is None
    assert cmd_batch(parse(["batch", "m.csv", "-o", str(tmp_path / "o"), "--shared-output"])) == 2
    assert cmd_batch(parse(["batch", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o")])) == 2


def test_a_job_larger_than_the_free_memory_never_starts():
    from backend.batch.local import Events, LocalRunner, Task

    done = {}
    started = []
    huge = Task(name="huge", job={"mode": "two_image", "inputs": {}, "output": "/nonexistent", "settings": {}},
                est_bytes=1 << 50)  # 1 PiB
    LocalRunner(workers=2).run([huge], Events(on_start=started.append, on_done=lambda n, r: done.setdefault(n, r)))
    assert started == [] and done["huge"]["status"] == "failed"
    assert done["huge"]["error"]["code"] == "memory" and "GiB" in done["huge"]["error"]["message"]
