"""The published network configurations build the real architectures (on ``meta``: no memory, no download)."""

import pytest

from backend.models import MODELS
from backend.models.architectures import ARCHITECTURES, build_network

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("key", sorted(ARCHITECTURES))
def test_each_architecture_builds_with_the_model_cards_size(key):
    assert key in MODELS
    arch = ARCHITECTURES[key]
    model = build_network(key, device="meta")
    billions = sum(p.numel() for p in model.parameters()) / 1e9
    assert all(p.device.type == "meta" for p in model.parameters())
    # The nominal size counts the main blocks; extra conditioning blocks (VACE, image cross-attention) add up to 70%.
    high = 1.7 if arch.library == "diffusers" else 1.15
    assert 0.9 * arch.params_billion <= billions <= high * arch.params_billion, billions
