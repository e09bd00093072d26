"""The network configurations of the registry's models, as published, for building them without weights.

Each entry is the ``config.json`` of the model's main network (the denoising transformer of a
video pipeline, the whole network of a transformers model) as its Hugging Face repository
publishes it, so benchmarks and memory estimates can build the real architecture with random
weights, on any device, without downloading anything (``build_network``). The numbers are the
published ones (diffusers / transformers configs of the repositories in ``registry.MODELS``);
``tests/backend/test_architectures.py`` checks the parameter counts against the model cards.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Architecture:
    """The main network of a registry model.

    Attributes:
        key: the registry key.
        library: "diffusers" or "transformers".
        class_name: the model class in that library.
        config: constructor keyword arguments (transformers: of the config class).
        config_class: transformers config class name ("" for diffusers).
        backbone: transformers backbone config (class name, kwargs), for Depth Anything.
        params_billion: the model card's nominal size (billions), for checks.
        notes: what the nominal size leaves out.
    """

    key: str
    library: str
    class_name: str
    config: dict
    config_class: str = ""
    backbone: tuple = ()
    params_billion: float = 0.0
    notes: str = field(default="", compare=False)


_WAN_COMMON = dict(patch_size=(1, 2, 2), attention_head_dim=128, out_channels=16, text_dim=4096, freq_dim=256,
                   cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)

ARCHITECTURES: dict[str, Architecture] = {a.key: a for a in (
    Architecture("video-vace", "diffusers", "WanVACETransformer3DModel",
                 dict(_WAN_COMMON, num_attention_heads=12, in_channels=16, ffn_dim=8960, num_layers=30,
                      vace_layers=list(range(0, 30, 2)), vace_in_channels=96),
                 params_billion=1.3, notes="Wan2.1 1.3B DiT plus 15 VACE blocks (~0.7 B more)"),
    Architecture("video-wan", "diffusers", "WanTransformer3DModel",
                 dict(_WAN_COMMON, num_attention_heads=40, in_channels=36, ffn_dim=13824, num_layers=40,
                      image_dim=1280, added_kv_proj_dim=5120, pos_embed_seq_len=2 * 257),
                 params_billion=14.0, notes="the 14B DiT plus the image cross-attention of I2V/FLF2V"),
    Architecture("video-ltx", "diffusers", "LTXVideoTransformer3DModel",
                 dict(in_channels=128, out_channels=128, patch_size=1, patch_size_t=1, num_attention_heads=32,
                      attention_head_dim=64, cross_attention_dim=2048, num_layers=28, caption_channels=4096),
                 params_billion=1.9),
    Architecture("video-ltx-0.9.5", "diffusers", "LTXVideoTransformer3DModel",
                 dict(in_channels=128, out_channels=128, patch_size=1, patch_size_t=1, num_attention_heads=32,
                      attention_head_dim=64, cross_attention_dim=2048, num_layers=28, caption_channels=4096),
                 params_billion=1.9),
    Architecture("depth", "transformers", "DepthAnythingForDepthEstimation",
                 dict(reassemble_hidden_size=384, reassemble_factors=[4, 2, 1, 0.5], neck_hidden_sizes=[48, 96, 192, 384],
                      fusion_hidden_size=64, head_hidden_size=32, depth_estimation_type="relative"),
                 config_class="DepthAnythingConfig",
                 backbone=("Dinov2Config", dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6,
                                                intermediate_size=1536, patch_size=14, image_size=518,
                                                out_indices=[3, 6, 9, 12], reshape_hidden_states=False)),
                 params_billion=0.0248),
    Architecture("features", "transformers", "Dinov2Model",
                 dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
                      patch_size=14, image_size=518),
                 config_class="Dinov2Config", params_billion=0.0221),
)}


def build_network(key: str, *, device=None, dtype=None):
    """The main network of registry model ``key`` with random weights (nothing is downloaded).

    Args:
        key: a key of ``ARCHITECTURES``.
        device: where the parameters are created (``torch.device("meta")`` builds no storage).
        dtype: parameter dtype (default float32).

    Returns:
        The ``torch.nn.Module`` in eval mode.

    Raises:
        KeyError: no architecture for ``key``.
    """
    import torch

    arch = ARCHITECTURES[key]
    with torch.device(device or "cpu"):
        if arch.library == "diffusers":
            import diffusers

            model = getattr(diffusers, arch.class_name)(**arch.config)
        else:
            import transformers

            config_cls = getattr(transformers, arch.config_class)
            kwargs = dict(arch.config)
            if arch.backbone:
                kwargs["backbone_config"] = getattr(transformers, arch.backbone[0])(**arch.backbone[1])
            model = getattr(transformers, arch.class_name)(config_cls(**kwargs))
    if dtype is not None:
        model = model.to(dtype=dtype)
    return model.eval()
