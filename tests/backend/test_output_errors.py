"""Output problems on real file systems: a full disk and a read-only folder give clear errors and lose nothing.

Each case mounts a small tmpfs in a private user + mount namespace
(``unshare -rm``), so the test needs no root and touches nothing outside.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _in_namespace(mount_opts: str, script: str, mnt: Path) -> subprocess.CompletedProcess:
    cmd = ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o {mount_opts} none {mnt} && {script}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.fixture
def namespace_mount(tmp_path):
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not available")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    probe = _in_namespace("size=64k", "true", mnt)
    if probe.returncode != 0:
        pytest.skip(f"user namespaces with mounts are not permitted here: {probe.stderr.strip()}")
    return mnt


def _generate(out: Path, quiet: bool = True) -> str:
    pair = ROOT / "examples" / "mill"
    return (f"{sys.executable} -m backend generate {pair / 'start.png'} {pair / 'end.png'} -o {out} "
            "--quality draft --frames 6" + (" --quiet" if quiet else ""))


def test_full_disk_reports_it_and_leaves_nothing(namespace_mount):
    # 300 KiB holds the inputs but not the Gaussians: the write fails part-way.
    script = _generate(namespace_mount / "asset") + f"; echo rc=$?; ls -A {namespace_mount}"
    proc = _in_namespace("size=300k", script, namespace_mount)
    assert "rc=4" in proc.stdout, proc.stdout + proc.stderr
    assert "Not enough disk space" in proc.stderr and "what to do:" in proc.stderr
    listing = proc.stdout.split("rc=4", 1)[1].split()
    assert listing == [], f"half-written files remain: {listing}"


def test_full_disk_keeps_the_previous_asset(namespace_mount):
    """Re-running into an existing asset replaces it only on success."""
    out = namespace_mount / "asset"
    # Generate once into a roomy tmpfs, then fill it up and regenerate at higher quality.
    script = (_generate(out) + f" && dd if=/dev/zero of={namespace_mount}/filler bs=1k count=100000 2>/dev/null; "
              + _generate(out).replace("--quality draft", "--quality standard")
              + f"; echo rc=$?; {sys.executable} -m backend validate {out}")
    proc = _in_namespace("size=40m", script, namespace_mount)
    assert "rc=4" in proc.stdout, proc.stdout + proc.stderr
    assert "valid: two_image, 6 frames" in proc.stdout, proc.stdout + proc.stderr


def test_read_only_folder_is_refused_before_any_work(namespace_mount):
    proc = _in_namespace("ro", _generate(namespace_mount / "asset", quiet=False) + "; echo rc=$?", namespace_mount)
    assert "rc=4" in proc.stdout, proc.stdout + proc.stderr
    assert "Cannot write to" in proc.stderr
    assert "[1/9] load" in proc.stderr and "[2/9]" not in proc.stderr, "the job must stop before the second stage"
