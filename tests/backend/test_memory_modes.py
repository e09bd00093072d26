"""Memory modes of the video pipelines: chosen from free VRAM or a setting, applied in one place."""

import pytest

from backend.models import MODELS
from backend.models.memory import ENV_VAR, apply_memory_mode, choose_memory_mode


def test_default_video_model_fits_a_16_gb_gpu_with_model_offload(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    vace = MODELS["video-vace"]
    assert vace.vram_gb <= 12 and vace.repo_id == "Wan-AI/Wan2.1-VACE-1.3B-diffusers" and vace.licence == "Apache-2.0"
    assert choose_memory_mode(vace, 15.5) == "model_offload"
    assert choose_memory_mode(vace, 80.0) == "full"
    assert choose_memory_mode(vace, 6.0) == "sequential_offload"
    assert choose_memory_mode(MODELS["video-wan"], 15.5) == "sequential_offload"
    assert choose_memory_mode(vace, None) == "full"  # CPU / MPS: nothing to offload to


def test_setting_overrides_the_free_memory(monkeypatch):
    vace = MODELS["video-vace"]
    monkeypatch.setenv(ENV_VAR, "sequential_offload")
    assert choose_memory_mode(vace, 80.0) == "sequential_offload"
    assert choose_memory_mode(vace, 80.0, "full") == "full"
    monkeypatch.setenv(ENV_VAR, "half")
    with pytest.raises(ValueError, match="memory mode"):
        choose_memory_mode(vace, 80.0)


def test_offload_modes_apply_only_on_cuda():
    torch = pytest.importorskip("torch")
    calls = []

    class Vae:
        def enable_tiling(self):
            calls.append("tiling")

        def enable_slicing(self):
            calls.append("slicing")

    class Pipe:
        vae = Vae()

        def to(self, device):
            calls.append(("to", str(device)))

        def enable_model_cpu_offload(self, device=None):
            calls.append(("model_offload", str(device)))

    record = apply_memory_mode(Pipe(), "model_offload", torch.device("cpu"))
    assert record == {"memory_mode": "full", "vae_tiling": False, "vae_slicing": False} and calls == [("to", "cpu")]
    calls.clear()
    record = apply_memory_mode(Pipe(), "model_offload", torch.device("cuda"))  # no GPU needed: nothing runs
    assert record["memory_mode"] == "model_offload" and record["vae_tiling"] and record["vae_slicing"]
    assert calls == [("model_offload", "cuda"), "tiling", "slicing"]


def test_the_asset_records_the_video_model_and_its_memory_mode(monkeypatch):
    from backend.pipeline.two_image import _engine_record

    monkeypatch.delenv("TWEEN4D_VIDEO_MODEL", raising=False)
    record = _engine_record("video", {"memory_mode": "model_offload", "vae_tiling": True, "vae_slicing": True,
                                      "generated_frames": 49})
    assert record == {"engine": "video", "memory_mode": "model_offload", "vae_tiling": True, "vae_slicing": True,
                      "model": MODELS["video-vace"].repo_id, "revision": MODELS["video-vace"].revision}
    monkeypatch.setenv("TWEEN4D_VIDEO_MODEL", "video-wan")
    assert _engine_record("video")["model"] == MODELS["video-wan"].repo_id
