"""Stochastic motion textures for a scene's background (weight-free).

Chuang, Goldman, Zheng, Curless, Salesin and Szeliski, "Animating Pictures
with Stochastic Motion Textures" (SIGGRAPH 2005), Sec. 4: each layer's
displacement is a stochastic process -- noise shaped by a spectral filter --
with a type-specific spectrum (water, clouds/drifting, plants). We synthesise
the processes as sums of random-phase sinusoids (spectral synthesis), which
loop seamlessly when every temporal frequency is a whole number of cycles per
clip:

* ``ripple`` (water): vertical displacement of ground points,
  dz = sum_i a_i [sin(k_i . x - w_i t + phi_i) - sin(k_i . x + phi_i)], with
  wave vectors spread +-40 degrees about the direction, deep-water dispersion
  w ~ sqrt(|k|) (|k| grows as the square of the cycle count) and amplitudes
  a_i ~ 1 / |k_i| (larger waves are slower);
* ``drift`` (clouds, mist): horizontal image-plane displacement of the
  background above the contact line (all of it without one), a slow
  oscillation whose phase varies with height plus two smaller harmonics.

Amplitudes scale with the scene's near distance (``near_m``). Frame 0 is the
rest pose.
"""

from __future__ import annotations

import math

import numpy as np

RIPPLE = 0.012  # metres per metre of near distance at amplitude 1
DRIFT = 0.03
WAVES = 8


def ripple(rest: np.ndarray, frames: int, period: float, amplitude: float, direction_deg: float, near_m: float,
           seed: int = 0) -> np.ndarray:
    """Positions [T, N, 3] of ground points [N, 3] under water ripples (module docstring)."""
    rng = np.random.default_rng(seed)
    rest = np.asarray(rest, np.float64)
    out = np.repeat(rest[None], frames, axis=0)
    base = math.radians(direction_deg + 90.0)  # 0 deg = waves travel away from the camera (+Y)
    t = np.arange(frames)
    for _ in range(WAVES):
        cycles = int(rng.integers(1, 4))
        ang = base + math.radians(rng.uniform(-40, 40))
        k_mag = 2 * math.pi / (near_m * 0.6) * cycles ** 2 * rng.uniform(0.8, 1.25)
        kvec = k_mag * np.array([math.cos(ang), math.sin(ang)])
        w = 2 * math.pi * cycles / period
        phi = rng.uniform(0, 2 * math.pi)
        a = amplitude * RIPPLE * near_m / (cycles ** 2) / math.sqrt(WAVES)
        arg = rest[:, :2] @ kvec + phi
        out[:, :, 2] += a * (np.sin(arg[None, :] - w * t[:, None]) - np.sin(arg)[None, :])
    return out


def drift(rest: np.ndarray, frames: int, period: float, amplitude: float, direction_deg: float, near_m: float,
          right: np.ndarray, up: np.ndarray, seed: int = 0) -> np.ndarray:
    """Positions [T, N, 3] of background points drifting in the image plane (module docstring).

    Args:
        right, up: float [3] the camera's image-right and image-up world directions.
    """
    rng = np.random.default_rng(seed + 1)
    rest = np.asarray(rest, np.float64)
    a = math.radians(direction_deg)
    d = math.cos(a) * np.asarray(right) + math.sin(a) * np.asarray(up)
    height = rest @ np.asarray(up)
    span = max(float(np.ptp(height)), 1e-6)
    t = np.arange(frames)[:, None]
    disp = np.zeros((frames, len(rest)))
    for n, weight in ((1, 1.0), (2, 0.35), (3, 0.15)):
        psi = 2 * math.pi * height / span * rng.uniform(0.5, 1.5) + rng.uniform(0, 2 * math.pi)
        disp += weight * (np.sin(2 * math.pi * n * t / period + psi[None]) - np.sin(psi)[None])
    return rest[None] + (amplitude * DRIFT * near_m * disp)[..., None] * d[None, None, :]


__all__ = ["drift", "ripple"]
