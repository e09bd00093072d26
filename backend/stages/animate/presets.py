"""Animate engine "preset" (weight-free): named loops on the lifted shape.

Each preset is a rigid-ish deformation of a part (the object, or one
foreground layer of a scene) driven by a periodic signal s_t = sin(2 pi t / P):

* ``sway``: bend about the base (plants, trees): a point at height h above the
  base turns about the horizontal axis through the base, perpendicular to the
  sway direction, by ``SWAY_DEG`` (h / H)^1.5 s_t;
* ``nod``: the upper part pitches about a pivot at ``NOD_PIVOT`` of the height
  (toward and away from the camera), ramping in over 20 % of the height;
* ``turn``: yaw about the vertical axis through the part's centre, ``TURN_DEG`` s_t;
* ``breathe``: scale about the base centre, 3 % across and 2 % up at s_t = 1;
* ``bob``: rise and fall by ``BOB`` of the height;
* ``wave``: a travelling wave along the part's long axis (principal axis in
  the image plane), displacement perpendicular to it in the image plane,
  growing from the base end, ``WAVE`` of the length.

Amplitude scales every figure (1 = gentle). With ``loop`` the period divides
the clip (P = T / round(T / period)), so frame T would equal frame 0 and the
last-to-first step is an ordinary step. The direction (degrees from image
right, counter-clockwise seen from above) turns sway and nod in the ground plane.
Frame 0 is the rest pose (s_0 = 0; ``wave`` subtracts its frame-0 offset).
"""

from __future__ import annotations

import math

import numpy as np

SWAY_DEG = 9.0
NOD_DEG = 10.0
NOD_PIVOT = 0.55
TURN_DEG = 15.0
BREATHE = (0.03, 0.02)
BOB = 0.04
WAVE = 0.05
WAVE_LENGTHS = 1.0


def clip_period(frames: int, period_frames: int | None, loop: bool) -> float:
    """Frames per cycle: the clip length, or ``period_frames`` (rounded to divide the clip when looping)."""
    if period_frames is None:
        return float(frames)
    if loop:
        return frames / max(1, round(frames / period_frames))
    return float(period_frames)


def phase_signal(frames: int, period: float) -> np.ndarray:
    """float64 [T]: s_t = sin(2 pi t / period), s_0 = 0."""
    return np.sin(2 * math.pi * np.arange(frames) / period)


def _rotate(points: np.ndarray, pivot: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues rotation of points [N, 3] about ``axis`` [3] (unit) through ``pivot`` by per-point angles [N]."""
    v = points - pivot
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    k = axis[None, :]
    return pivot + v * c + np.cross(k, v) * s + k * (v @ axis)[:, None] * (1 - c)


class PartFrame:
    """Where a part stands: its base, height, centre and long axis (world metres, +Z up).

    Args:
        points: float [N, 3] the part's points at rest (visible and hidden).
    """

    def __init__(self, points: np.ndarray):
        p = np.asarray(points, np.float64)
        lo, hi = p.min(0), p.max(0)
        self.centre = 0.5 * (lo + hi)
        self.base = np.array([self.centre[0], self.centre[1], lo[2]])
        self.height = max(hi[2] - lo[2], 1e-6)
        xz = p[:, [0, 2]] - p[:, [0, 2]].mean(0)
        _, _, vt = np.linalg.svd(xz[:: max(1, len(xz) // 4000)], full_matrices=False)
        long2 = vt[0]
        if long2[1] < 0:  # point the long axis up (from the base end)
            long2 = -long2
        self.long_axis = np.array([long2[0], 0.0, long2[1]])
        self.across = np.array([long2[1], 0.0, -long2[0]])
        proj = (p - self.centre) @ self.long_axis
        self.long_lo, self.length = proj.min(), max(proj.max() - proj.min(), 1e-6)


def preset_motion(name: str, rest: np.ndarray, frame: PartFrame, signal: np.ndarray, amplitude: float,
                  direction_deg: float, period: float) -> np.ndarray:
    """Positions [T, N, 3] of a part's points under a named preset (module docstring).

    Args:
        name: one of sway, nod, turn, breathe, bob, wave.
        rest: float [N, 3] rest positions (world metres).
        frame: the part's ``PartFrame``.
        signal: float [T] s_t.
        amplitude: 1 = gentle.
        direction_deg: direction of sway / nod in the ground plane, degrees from image right.
        period: frames per cycle (the wave's temporal period).

    Raises:
        ValueError: unknown preset name.
    """
    rest = np.asarray(rest, np.float64)
    t_count = len(signal)
    out = np.empty((t_count, len(rest), 3))
    rel_h = np.clip((rest[:, 2] - frame.base[2]) / frame.height, 0.0, 1.0)
    a = math.radians(direction_deg)
    direction = np.array([math.cos(a), math.sin(a), 0.0])
    if name == "sway" or name == "nod":
        if name == "nod":
            direction = np.array([-math.sin(a), math.cos(a), 0.0])  # toward / away from the camera
            pivot = frame.base + np.array([0, 0, NOD_PIVOT * frame.height])
            weight = np.clip((rel_h - NOD_PIVOT) / 0.2, 0.0, 1.0)
            max_deg = NOD_DEG
        else:
            pivot = frame.base
            weight = rel_h ** 1.5
            max_deg = SWAY_DEG
        axis = np.cross(np.array([0.0, 0.0, 1.0]), direction)  # z x d: the top tips toward +direction
        for t in range(t_count):
            out[t] = _rotate(rest, pivot, axis, math.radians(amplitude * max_deg * signal[t]) * weight)
        return out
    if name == "turn":
        for t in range(t_count):
            angle = np.full(len(rest), math.radians(amplitude * TURN_DEG * signal[t]))
            out[t] = _rotate(rest, frame.centre, np.array([0.0, 0.0, 1.0]), angle)
        return out
    if name == "breathe":
        d = rest - frame.base
        for t in range(t_count):
            s = signal[t] * amplitude
            out[t] = frame.base + d * np.array([1 + BREATHE[0] * s, 1 + BREATHE[0] * s, 1 + BREATHE[1] * s])
        return out
    if name == "bob":
        for t in range(t_count):
            out[t] = rest + np.array([0.0, 0.0, amplitude * BOB * frame.height * signal[t]])
        return out
    if name == "wave":
        along = ((rest - frame.centre) @ frame.long_axis - frame.long_lo) / frame.length  # 0 at the base end
        k = 2 * math.pi * WAVE_LENGTHS
        w = 2 * math.pi / period
        mag = amplitude * WAVE * frame.length * along
        offset0 = np.sin(-k * along)
        for t in range(t_count):
            disp = mag * (np.sin(w * t - k * along) - offset0)
            out[t] = rest + disp[:, None] * frame.across[None, :]
        return out
    raise ValueError(f"unknown preset {name!r}")


__all__ = ["PartFrame", "clip_period", "phase_signal", "preset_motion"]
