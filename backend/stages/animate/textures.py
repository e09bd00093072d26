"""Stochastic motion textures for a scene's background (weight-free).

Chuang, Goldman, Zheng, Curless, Salesin and Szeliski, "Animating Pictures
with Stochastic Motion Textures" (SIGGRAPH 2005), Sec. 4: each layer's
displacement is a stochastic process -- noise shaped by a spectral filter --
with a type-specific spectrum (water, clouds/drifting, plants). We synthesise
the processes as sums of random-phase sinusoids (spectral synthesis), which
loop seamlessly when every temporal frequency is a whole number of cycles per
clip:

* ``ripple`` (water): vertical displacement of ground points,
  dz = (z / f) sum_i a_i [sin(k_i . p - w_i t + phi_i) - sin(k_i . p + phi_i)]
  over their image position p, with wave vectors spread +-40 degrees about
  the direction, deep-water dispersion w ~ sqrt(|k|) (|k| grows as the square
  of the cycle count) and amplitudes a_i ~ 1 / |k_i| (larger waves are slower);
* ``drift`` (clouds, mist): horizontal image-plane displacement of the
  background above the contact line (all of it without one), a slow
  oscillation whose phase varies with height plus two smaller harmonics.

Drift amplitudes scale with the scene's near distance (``near_m``). Frame 0
is the rest pose.
"""

from __future__ import annotations

import math

import numpy as np

RIPPLE_PX = 1.2  # rise of the largest wave, in working pixels, at amplitude 1
RIPPLE_WAVELENGTHS_PX = (6.0, 48.0)
DRIFT = 0.03  # metres per metre of near distance at amplitude 1
WAVES = 8


def ripple(rest: np.ndarray, uv: np.ndarray, depth: np.ndarray, focal_px: float, frames: int, period: float,
           amplitude: float, direction_deg: float, seed: int = 0, weight: np.ndarray | None = None) -> np.ndarray:
    """Positions [T, N, 3] of water points under ripples (module docstring).

    The texture lives on the image, as Chuang et al.'s: wave vectors and
    amplitudes are in working pixels (``RIPPLE_PX``, wavelengths
    ``RIPPLE_WAVELENGTHS_PX``), and each point rises by its pixel amplitude
    times its footprint z / f, so the ripples stay finer than the points
    nowhere (no gaps open between them) and look alike near and far.

    Args:
        rest: float [N, 3] world metres; uv: float [N, 2] their working pixels;
        depth: float [N] metres along the viewing axis; focal_px: working focal length.
        weight: optional float [N] 0..1 per-point amplitude (e.g. calm where the water meets the backdrop).
    """
    rng = np.random.default_rng(seed)
    rest = np.asarray(rest, np.float64)
    uv = np.asarray(uv, np.float64)
    out = np.repeat(rest[None], frames, axis=0)
    base = math.radians(direction_deg)  # 0 deg = waves travel toward image right
    t = np.arange(frames)
    metres_per_px = np.asarray(depth, np.float64) / focal_px
    if weight is not None:
        metres_per_px = metres_per_px * np.asarray(weight, np.float64)
    lo, hi = RIPPLE_WAVELENGTHS_PX
    for _ in range(WAVES):
        cycles = int(rng.integers(1, 4))
        ang = base + math.radians(rng.uniform(-40, 40))
        wavelength = hi / cycles ** 2 * rng.uniform(0.8, 1.25)  # deep water: w ~ sqrt(|k|)
        wavelength = max(wavelength, lo)
        kvec = 2 * math.pi / wavelength * np.array([math.cos(ang), -math.sin(ang)])
        w = 2 * math.pi * cycles / period
        phi = rng.uniform(0, 2 * math.pi)
        a = amplitude * RIPPLE_PX * wavelength / hi / math.sqrt(WAVES)
        arg = uv @ kvec + phi
        out[:, :, 2] += (a * metres_per_px)[None, :] * (np.sin(arg[None, :] - w * t[:, None]) - np.sin(arg)[None, :])
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
