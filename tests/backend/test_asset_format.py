"""The asset reader/writer/validator honours the format contract."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backend.asset import (
    SH_C0,
    AnimatedMesh,
    Asset,
    AssetError,
    AssetWriteError,
    Camera,
    Gaussians,
    load_asset,
    read_pc2,
    read_ply,
    write_asset,
    write_pc2,
)


def _asset(t=4, n=50, seed=0):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(t, n, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    g = Gaussians(
        means=rng.normal(size=(t, n, 3)).astype(np.float32),
        colors=rng.uniform(size=(n, 3)).astype(np.float32),
        opacities=rng.uniform(0.1, 1, size=n).astype(np.float32),
        scales=rng.uniform(0.001, 0.01, size=(n, 3)).astype(np.float32),
        rotations=q.astype(np.float32),
        source_pixel=rng.integers(0, 100, size=(n, 2)).astype(np.int32),
    )
    cam = Camera.looking_along_y(64, 48, 100.0, (0, -3, 0))
    mesh = AnimatedMesh(
        vertices=rng.normal(size=(t, 3, 3)).astype(np.float32),
        faces=np.array([[0, 1, 2]], np.int32),
        uv=np.array([[0, 0], [1, 0], [0, 1]], np.float32),
        texture=np.zeros((4, 4, 3), np.uint8),
    )
    manifest = {
        "mode": "two_image", "fps": 24.0, "keyframes": [0, t - 1], "camera": cam.to_dict(),
        "settings": {}, "engines": {}, "generator": {"name": "tween4d", "version": "test"}, "timings_s": {},
    }
    return Asset(manifest=manifest, gaussians=g, mesh=mesh)


def test_round_trip_keeps_arrays_and_counts(tmp_path):
    a = _asset()
    src = tmp_path / "in.png"
    src.write_bytes(b"not really a png but bytes are copied as given")
    out = write_asset(tmp_path / "a", a, inputs=[("start", src)], frame_plys=True)
    b = load_asset(out)
    np.testing.assert_array_equal(np.asarray(b.gaussians.means), a.gaussians.means)
    np.testing.assert_array_equal(b.gaussians.rotations, a.gaussians.rotations)
    np.testing.assert_array_equal(b.gaussians.source_pixel, a.gaussians.source_pixel)
    assert b.manifest["gaussian_count"] == 50 and b.manifest["frame_count"] == 4
    assert b.manifest["inputs"][0]["file"] == "inputs/start.png"
    assert (out / "inputs/start.png").read_bytes() == src.read_bytes()
    ply = read_ply(out / "frames/000003.ply")
    np.testing.assert_allclose(ply["x"], a.gaussians.means[3, :, 0], rtol=1e-6)
    np.testing.assert_allclose(ply["f_dc_0"] * SH_C0 + 0.5, a.gaussians.colors[:, 0], atol=1e-6)
    np.testing.assert_allclose(np.exp(ply["scale_1"]), a.gaussians.scales[:, 1], rtol=1e-5)
    assert not list(tmp_path.glob(".a.*")), "temporary directories must not remain"


def test_pc2_header_matches_blender_layout(tmp_path):
    frames = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)
    write_pc2(tmp_path / "x.pc2", frames)
    raw = (tmp_path / "x.pc2").read_bytes()
    assert raw[:12] == b"POINTCACHE2\0"
    assert np.frombuffer(raw[12:20], "<i4").tolist() == [1, 3]
    assert np.frombuffer(raw[20:28], "<f4").tolist() == [0.0, 1.0]
    assert np.frombuffer(raw[28:32], "<i4").tolist() == [2]
    np.testing.assert_array_equal(read_pc2(tmp_path / "x.pc2"), frames)


def test_reader_refuses_newer_version_and_foreign_format(tmp_path):
    out = write_asset(tmp_path / "a", _asset())
    m = json.loads((out / "asset.json").read_text())
    m["format_version"] = 99
    (out / "asset.json").write_text(json.dumps(m))
    with pytest.raises(AssetError, match="newer"):
        load_asset(out)
    m["format_version"], m["format"] = 1, "something.else"
    (out / "asset.json").write_text(json.dumps(m))
    with pytest.raises(AssetError, match="not a Tween4D asset"):
        load_asset(out)


def test_reader_refuses_truncated_cache(tmp_path):
    out = write_asset(tmp_path / "a", _asset())
    data = (out / "gaussians.pc2").read_bytes()
    (out / "gaussians.pc2").write_bytes(data[:-12])
    with pytest.raises(AssetError, match="truncated"):
        load_asset(out)


def test_validator_rejects_bad_shapes_and_quaternions(tmp_path):
    a = _asset()
    a.gaussians.rotations = a.gaussians.rotations * 2
    with pytest.raises(AssetError, match="unit quaternions"):
        write_asset(tmp_path / "a", a)
    a = _asset()
    a.gaussians.colors = a.gaussians.colors[:-1]
    with pytest.raises(AssetError, match="colors has shape"):
        write_asset(tmp_path / "b", a)
    assert not any(tmp_path.iterdir()), "a refused asset writes nothing"


def test_failed_commit_keeps_previous_asset(tmp_path):
    first = write_asset(tmp_path / "a", _asset(seed=1))
    before = (first / "gaussians.pc2").read_bytes()

    def cancel():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_asset(tmp_path / "a", _asset(seed=2), before_commit=cancel)
    assert (first / "gaussians.pc2").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
    write_asset(tmp_path / "a", _asset(seed=2))
    assert (first / "gaussians.pc2").read_bytes() != before


def test_foreign_folder_is_never_replaced(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.txt").write_text("precious")
    with pytest.raises(AssetWriteError, match="not a Tween4D asset"):
        write_asset(tmp_path / "docs", _asset())
    assert (tmp_path / "docs" / "thesis.txt").read_text() == "precious"


def test_folder_with_a_foreign_asset_json_is_never_replaced(tmp_path):
    """Only a manifest saying format "tween4d.asset" marks a folder as ours (issue 9, item 1)."""
    for i, manifest in enumerate(['{"name": "mine"}', "not json at all", "[" * 100_000, '["tween4d.asset"]']):
        folder = tmp_path / f"p{i}"
        folder.mkdir()
        (folder / "asset.json").write_text(manifest)
        (folder / "thesis.txt").write_text("IMPORTANT")
        with pytest.raises(AssetWriteError, match="not a Tween4D asset"):
            write_asset(folder, _asset())
        assert (folder / "thesis.txt").read_text() == "IMPORTANT"
        assert (folder / "asset.json").read_text() == manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p0", "p1", "p2", "p3"], "no hidden folder is left"


def test_asset_json_that_is_not_a_regular_file_is_foreign(tmp_path):
    import os

    folder = tmp_path / "p"
    folder.mkdir()
    os.mkfifo(folder / "asset.json")  # opening it would block forever
    with pytest.raises(AssetWriteError, match="not a regular file"):
        write_asset(folder, _asset())
    assert (folder / "asset.json").exists()


def test_user_files_in_an_asset_folder_are_carried_over(tmp_path):
    """A .blend the artist saved inside the asset folder survives regenerating it."""
    out = write_asset(tmp_path / "a", _asset(seed=1), frame_plys=True)
    (out / "scene.blend").write_bytes(b"BLENDER-v405 precious")
    (out / "renders").mkdir()
    (out / "renders" / "0001.png").write_bytes(b"frame")
    (out / "frames" / "notes.txt").write_text("which frame to fix")
    (out / "empty").mkdir()
    (out / "link.blend").symlink_to("scene.blend")
    before = (out / "gaussians.pc2").read_bytes()
    write_asset(tmp_path / "a", _asset(seed=2))  # no frame PLYs this time
    assert (out / "gaussians.pc2").read_bytes() != before, "the asset itself was replaced"
    assert (out / "scene.blend").read_bytes() == b"BLENDER-v405 precious"
    assert (out / "renders" / "0001.png").read_bytes() == b"frame"
    assert (out / "frames" / "notes.txt").read_text() == "which frame to fix"
    assert not list((out / "frames").glob("*.ply")), "the old asset's frame PLYs are gone"
    assert (out / "empty").is_dir() and (out / "link.blend").is_symlink()
    assert load_asset(out).manifest["files"] and "scene.blend" not in load_asset(out).manifest["files"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"], "no hidden old or partial folder is left"


def test_user_files_are_copied_where_hard_links_fail(tmp_path, monkeypatch):
    import errno
    import os

    out = write_asset(tmp_path / "a", _asset(seed=1))
    (out / "scene.blend").write_bytes(b"precious")

    def no_links(*args, **kwargs):
        raise OSError(errno.EPERM, "hard links not supported here")

    monkeypatch.setattr(os, "link", no_links)
    write_asset(tmp_path / "a", _asset(seed=2))
    assert (out / "scene.blend").read_bytes() == b"precious"


def test_user_file_where_the_new_asset_writes_refuses_the_run(tmp_path):
    out = write_asset(tmp_path / "a", _asset(seed=1))
    manifest = json.loads((out / "asset.json").read_text())
    manifest["files"].remove("mesh_texture.png")  # now the user's file, at a path the writer owns
    (out / "asset.json").write_text(json.dumps(manifest))
    kept = (out / "mesh_texture.png").read_bytes()
    with pytest.raises(AssetWriteError, match="mesh_texture.png .*not listed"):
        write_asset(tmp_path / "a", _asset(seed=2))
    assert (out / "mesh_texture.png").read_bytes() == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_file_saved_during_the_run_is_kept(tmp_path):
    """The folder is inspected again just before the swap, not only when the job starts."""
    out = write_asset(tmp_path / "a", _asset(seed=1))

    def artist_saves():
        (out / "late.blend").write_bytes(b"saved while generating")

    write_asset(tmp_path / "a", _asset(seed=2), before_commit=artist_saves)
    assert (out / "late.blend").read_bytes() == b"saved while generating"


class _Stop(Exception):
    pass


def test_cancel_is_checked_throughout_the_write(tmp_path, monkeypatch):
    """Issue 9, item 4: the writer checked for cancel only before the rename (7.6 s for a big asset)."""
    from backend.asset import writer

    monkeypatch.setattr(writer, "CHUNK_BYTES", 2**20)  # 1 MiB, so a small asset has many chunks
    sizes = []

    def record():
        sizes.append(sum(f.stat().st_size for f in tmp_path.rglob("*") if f.is_file()))

    write_asset(tmp_path / "big", _asset(t=20, n=20_000), check=record)  # 4.8 MB of means, 6.4 MB of rotations
    growth = np.diff([0] + sizes)
    assert growth.max() <= 2**20 + 4096, f"{growth.max()} bytes written between two checks"
    assert len(sizes) >= 15

    calls = []
    write_asset(tmp_path / "a", _asset(t=12, n=500), frame_plys=True, check=lambda: calls.append(1))
    assert len(calls) >= 12, "at least one check per frame PLY"
    before = (tmp_path / "a" / "gaussians.pc2").read_bytes()
    for k in (1, len(calls) // 3, 2 * len(calls) // 3, len(calls)):
        def cancel_at_k(seen=[], k=k):  # noqa: B006 - one list per loop pass, by design
            seen.append(1)
            if len(seen) >= k:
                raise _Stop

        with pytest.raises(_Stop):
            write_asset(tmp_path / "a", _asset(t=12, n=500, seed=3), frame_plys=True, check=cancel_at_k)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "big"], f"cancel at check {k} left a folder"
        assert (tmp_path / "a" / "gaussians.pc2").read_bytes() == before


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_partial_folders_of_dead_processes_are_swept(tmp_path):
    """Issue 9, item 4: a killed job's hidden partial folder (1.3 GB) stayed forever."""
    import os
    import subprocess
    import sys

    from backend.asset.partials import this_host

    host = this_host()
    dead = tmp_path / f".a.partial-{_dead_pid()}@{host}-0123abcd"
    alive_proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        alive = tmp_path / f".b.partial-{alive_proc.pid}@{host}-0123abcd"
        mine = tmp_path / f".c.partial-{os.getpid()}@{host}-0123abcd"
        remote = tmp_path / f".d.partial-{_dead_pid()}@another-host-0123abcd"
        unrelated = tmp_path / ".e.partial-notes"
        for folder in (dead, alive, mine, remote, unrelated):
            folder.mkdir()
            (folder / "gaussians.pc2").write_bytes(b"x" * 100)
        write_asset(tmp_path / "new", _asset())
        assert not dead.exists(), "the dead process's partial folder is swept"
        for folder in (alive, mine, remote, unrelated):
            assert (folder / "gaussians.pc2").exists(), f"{folder.name} must be kept"
    finally:
        alive_proc.kill()
        alive_proc.wait()


def test_asset_parked_by_a_dead_process_is_restored(tmp_path):
    """A process killed between the two renames of a replacement left the asset hidden as .old-*."""
    from backend.asset.partials import this_host

    out = write_asset(tmp_path / "a", _asset(seed=1))
    (out / "scene.blend").write_bytes(b"precious")
    parked = tmp_path / f".a.old-{_dead_pid()}@{this_host()}-0123abcd"
    out.rename(parked)
    write_asset(tmp_path / "other", _asset())
    assert load_asset(tmp_path / "a").manifest["frame_count"] == 4
    assert (tmp_path / "a" / "scene.blend").read_bytes() == b"precious"
    assert not parked.exists()


def test_replaced_asset_left_parked_keeps_unique_user_files(tmp_path):
    """A .old-* folder whose swap completed: the asset's files go, a file found nowhere else is moved back."""
    from backend.asset.partials import this_host

    out = write_asset(tmp_path / "a", _asset(seed=1))
    parked = tmp_path / f".a.old-{_dead_pid()}@{this_host()}-0123abcd"
    import shutil

    shutil.copytree(out, parked)
    (parked / "only_here.txt").write_text("unique")
    write_asset(tmp_path / "other", _asset())
    assert not parked.exists()
    assert (out / "only_here.txt").read_text() == "unique"
    assert load_asset(out).manifest["frame_count"] == 4


def test_reader_refuses_infinite_fps_and_nan_intrinsics(tmp_path):
    """Issue 9, item 7: validate accepted fps Infinity and NaN intrinsics."""
    out = write_asset(tmp_path / "a", _asset())
    good = (out / "asset.json").read_text()
    for key, value in (("fps", "Infinity"), ("fps", "NaN"), ("fx", "NaN"), ("cy", "-Infinity")):
        m = json.loads(good)
        (m if key == "fps" else m["camera"])[key] = "@@"
        (out / "asset.json").write_text(json.dumps(m).replace('"@@"', value))
        with pytest.raises(AssetError, match="finite"):
            load_asset(out)


def test_reader_loads_only_known_npz_members_and_checks_their_size_first(tmp_path):
    """Issue 9, item 7: a 3 GB zero-filled extra npz entry was loaded (25 s, 3.2 GB)."""
    import tracemalloc
    import zipfile

    out = write_asset(tmp_path / "a", _asset())
    npz = out / "gaussians.npz"
    with zipfile.ZipFile(npz, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("junk.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array(member, np.zeros((200, 2**20), np.uint8))  # 200 MiB, deflates to ~200 kB
    tracemalloc.start()
    try:
        asset = load_asset(out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert asset.gaussians.count == 50
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MiB allocated: the unknown member was read"

    out = write_asset(tmp_path / "b", _asset())
    colors = np.load(out / "gaussians.npz")
    members = {k: colors[k] for k in colors.files}
    members["colors"] = np.zeros((50_000, 3), np.float32)  # far more rows than gaussian_count
    np.savez(out / "gaussians.npz", **members)
    with pytest.raises(AssetError, match="more than the asset's counts allow"):
        load_asset(out)


def test_camera_projection_round_trip():
    cam = Camera.looking_along_y(640, 480, 800.0, (0.1, -3.0, 0.2))
    pts = np.array([[0.1, 0.0, 0.2], [0.5, 0.3, -0.2]])
    uv, depth = cam.project(pts)
    np.testing.assert_allclose(uv[0], [320, 240])
    assert depth[0] == pytest.approx(3.0)
    assert uv[1, 0] > 320 and uv[1, 1] > 240  # right of centre, below it (z lower)
    np.testing.assert_allclose(cam.unproject(uv, depth), pts, atol=1e-12)
