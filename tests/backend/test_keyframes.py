"""Keyframes by the motion-magnitude hierarchy."""

import numpy as np
import pytest

from backend.settings import GenerateSettings
from backend.stages.keyframes import ENGINES, select_keyframes
from backend.stages.keyframes.motion_hierarchy import motion_keyframes, object_size
from backend.types import Motion2D, SilhouetteMesh


def _mesh(points):
    return SilhouetteMesh(vertices=points, faces=np.zeros((0, 3), np.int32), boundary=np.zeros(0, np.int32))


def _square(n=40, side=100.0):
    rng = np.random.default_rng(0)
    return rng.uniform(0.0, side, (n, 2))


def test_fast_half_gets_more_keyframes():
    t_count = 49
    base = _square()
    # Slow drift over the first half, a fast sweep over the second half.
    shift = np.concatenate([np.linspace(0.0, 5.0, 25), 5.0 + np.linspace(0.0, 120.0, 25)[1:]])
    traj = base[None] + np.stack([shift, np.zeros_like(shift)], 1)[:, None, :]
    motion = Motion2D(trajectories=traj)
    keys = select_keyframes(motion, _mesh(base), GenerateSettings())
    assert keys[0] == 0 and keys[-1] == t_count - 1
    assert keys == sorted(set(keys))
    first = [k for k in keys if 0 < k < 24]
    second = [k for k in keys if 24 < k < t_count - 1]
    assert len(second) > len(first)
    # Every segment between neighbouring keyframes moves little (or cannot be split further).
    size = object_size(base)
    for a, b in zip(keys[:-1], keys[1:]):
        moved = np.linalg.norm(traj[b] - traj[a], axis=1).max()
        assert moved <= 0.12 * size or b - a < 2


def test_still_motion_keeps_only_the_ends():
    base = _square()
    traj = np.repeat(base[None], 30, axis=0)
    assert motion_keyframes(traj) == [0, 29]
    assert motion_keyframes(traj[:2]) == [0, 1]


def test_threshold_controls_the_depth():
    base = _square()
    traj = base[None] + np.linspace(0, 100, 33)[:, None, None] * np.array([1.0, 0.0])
    coarse = motion_keyframes(traj, threshold_fraction=0.5)
    fine = motion_keyframes(traj, threshold_fraction=0.05)
    assert len(fine) > len(coarse) >= 2
    assert set(coarse) <= set(fine)  # midpoint splits nest


def test_unknown_engine_names_the_valid_ones():
    base = _square()
    motion = Motion2D(trajectories=np.repeat(base[None], 5, axis=0))
    with pytest.raises(ValueError, match="motion"):
        select_keyframes(motion, _mesh(base), GenerateSettings(), engine="nope")
    assert "motion" in ENGINES
