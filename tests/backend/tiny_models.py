"""Tiny random-weight models built from configs, saved like real Hub folders, for the model-engine tests.

No weights can be downloaded in tests (``HF_HUB_OFFLINE=1``): each builder
makes a model of the real architecture with a few thousand parameters,
``save_pretrained``s it into a folder (plus the ``preprocessor_config.json``
the real repository carries, with a small input size) and returns the folder,
which the engines load through the registry's local-path override.

Other helpers append their builders below; keep each one self-contained.
"""

from __future__ import annotations

import json
from pathlib import Path

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def _tiny_dinov2_config(image_size: int, initializer_range: float, **extra):
    from transformers import Dinov2Config

    return Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                        patch_size=14, image_size=image_size, initializer_range=initializer_range, **extra)


def build_tiny_depth_anything(folder: Path, *, seed: int = 0, image_size: int = 56) -> Path:
    """A Depth Anything (V2 layout) model with a 2-layer, 32-wide DINOv2 backbone.

    The weights are drawn with initializer_range 0.1 (instead of 0.02) so the
    random network's output varies across the image instead of sitting at the
    ReLU's zero. ``preprocessor_config.json`` mirrors the real
    Depth-Anything-V2-Small-hf one with ``size`` = ``image_size``.

    Returns:
        ``folder`` (created).
    """
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation

    backbone = _tiny_dinov2_config(image_size, 0.1, out_indices=[1, 2], reshape_hidden_states=False)
    config = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=32, reassemble_factors=[2, 1],
                                 neck_hidden_sizes=[16, 32], fusion_hidden_size=16, head_hidden_size=8,
                                 initializer_range=0.1)
    torch.manual_seed(seed)
    model = DepthAnythingForDepthEstimation(config).eval()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "do_normalize": True, "do_pad": False, "do_rescale": True, "do_resize": True,
        "ensure_multiple_of": 14, "image_mean": IMAGENET_MEAN, "image_std": IMAGENET_STD,
        "image_processor_type": "DPTImageProcessor", "keep_aspect_ratio": True, "resample": 3,
        "rescale_factor": 1 / 255, "size": {"height": image_size, "width": image_size},
    }, indent=2))
    return folder


def build_tiny_dinov2(folder: Path, *, seed: int = 0, image_size: int = 56) -> Path:
    """A 2-layer, 32-wide ``Dinov2Model`` (patch 14) and a ``BitImageProcessor`` config with crop ``image_size``.

    Returns:
        ``folder`` (created).
    """
    import torch
    from transformers import Dinov2Model

    torch.manual_seed(seed)
    model = Dinov2Model(_tiny_dinov2_config(image_size, 0.02)).eval()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "crop_size": {"height": image_size, "width": image_size}, "do_center_crop": True,
        "do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
        "image_mean": IMAGENET_MEAN, "image_std": IMAGENET_STD, "image_processor_type": "BitImageProcessor",
        "resample": 3, "rescale_factor": 1 / 255, "size": {"shortest_edge": image_size + image_size // 7},
    }, indent=2))
    return folder


def build_tiny_wan_flf2v(folder: Path | None = None, *, seed: int = 0):
    """A Wan 2.1 first/last-frame image-to-video pipeline: the real architecture, tiny sizes, random weights.

    Components follow diffusers' own fast test (tests/pipelines/wan/test_wan_image_to_video.py):
    a 3-channel-base ``AutoencoderKLWan`` (spatial factor 8, temporal 4), a 2-layer
    ``WanTransformer3DModel`` (patch (1, 2, 2), ``pos_embed_seq_len`` set as in the FLF2V
    checkpoint so both frames' CLIP tokens are used), a 2-layer UMT5 encoder (32 wide), a
    CLIP vision tower on 8x8 images, the numpy/PIL CLIP image processor (no torchvision)
    and a word-level tokenizer built locally with ``tokenizers``.

    Args:
        folder: when given, the pipeline is ``save_pretrained`` there (a diffusers
            model folder like the Hub's) and the folder is returned.
        seed: torch seed for the random weights.

    Returns:
        The ``WanImageToVideoPipeline`` (float32, CPU), or ``folder``.
    """
    import torch
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )
    from transformers import CLIPVisionConfig, CLIPVisionModel, UMT5Config, UMT5EncoderModel
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    torch.manual_seed(seed)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    tokenizer = _tiny_word_tokenizer()
    text_encoder = UMT5EncoderModel(UMT5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=37, num_layers=2,
                                               num_heads=4, relative_attention_num_buckets=8))
    clip_tokens = (8 // 2) ** 2 + 1
    transformer = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12,
                                        in_channels=36, out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32,
                                        num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
                                        rope_max_seq_len=32, image_dim=4, pos_embed_seq_len=2 * clip_tokens)
    image_encoder = CLIPVisionModel(CLIPVisionConfig(
        hidden_size=4, num_hidden_layers=2, num_attention_heads=2, image_size=8,
        intermediate_size=16, patch_size=2))
    pipe = WanImageToVideoPipeline(transformer=transformer, vae=vae,
                                   scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
                                   text_encoder=text_encoder, tokenizer=tokenizer, image_encoder=image_encoder,
                                   image_processor=CLIPImageProcessorPil(crop_size=8, size=8))
    pipe.set_progress_bar_config(disable=True)
    if folder is None:
        return pipe
    folder = Path(folder)
    pipe.save_pretrained(folder)
    return folder


def _tiny_word_tokenizer():
    """A word-level ``PreTrainedTokenizerFast`` over the words of the engines' default prompts, built locally."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ("the object moves smoothly and continuously from its first pose to last static camera fixed framing "
             "unchanged background sharp details blurry low quality")
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for word in dict.fromkeys(words.split()):
        vocab[word] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def build_tiny_ltx_condition(folder: Path | None = None, *, seed: int = 0):
    """An LTX-Video ``LTXConditionPipeline`` with random weights (configs of diffusers' fast test).

    tests/pipelines/ltx/test_ltx_condition.py in diffusers: a 1-layer ``LTXVideoTransformer3DModel``
    (8 latent channels), an 8-channel ``AutoencoderKLLTXVideo`` with two spatio-temporal
    downsamplings, a 2-layer T5 encoder (32 wide) and a locally built word-level tokenizer.

    Args:
        folder: when given, the pipeline is ``save_pretrained`` there and the folder returned.
        seed: torch seed for the random weights.

    Returns:
        The ``LTXConditionPipeline`` (float32, CPU), or ``folder``.
    """
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXConditionPipeline,
        LTXVideoTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(seed)
    transformer = LTXVideoTransformer3DModel(in_channels=8, out_channels=8, patch_size=1, patch_size_t=1,
                                             num_attention_heads=4, attention_head_dim=8, cross_attention_dim=32,
                                             num_layers=1, caption_channels=32)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False), upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1), timestep_conditioning=False, patch_size=1, patch_size_t=1,
        encoder_causal=True, decoder_causal=False)
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    tokenizer = _tiny_word_tokenizer()
    text_encoder = T5EncoderModel(T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=37, num_layers=2,
                                           num_heads=4, relative_attention_num_buckets=8))
    pipe = LTXConditionPipeline(transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(),
                                text_encoder=text_encoder, tokenizer=tokenizer)
    pipe.set_progress_bar_config(disable=True)
    if folder is None:
        return pipe
    folder = Path(folder)
    pipe.save_pretrained(folder)
    return folder


def build_tiny_wan_vace(folder: Path | None = None, *, seed: int = 0):
    """A Wan 2.1 VACE pipeline (``WanVACEPipeline``): the real architecture, tiny sizes, random weights.

    Components follow diffusers' fast test (tests/pipelines/wan/test_wan_vace.py): the same
    3-channel-base ``AutoencoderKLWan`` as ``build_tiny_wan_flf2v`` (z_dim 16, spatial 8,
    temporal 4), a 3-layer ``WanVACETransformer3DModel`` with VACE blocks after layers 0 and 2
    (``vace_in_channels`` = 2 x 16 latent channels + 8 x 8 mask channels = 96), a 2-layer UMT5
    encoder (32 wide) and the locally built word-level tokenizer.

    Args:
        folder: when given, the pipeline is ``save_pretrained`` there and the folder returned.
        seed: torch seed for the random weights.

    Returns:
        The ``WanVACEPipeline`` (float32, CPU), or ``folder``.
    """
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanVACEPipeline, WanVACETransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(seed)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    tokenizer = _tiny_word_tokenizer()
    text_encoder = UMT5EncoderModel(UMT5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=37, num_layers=2,
                                               num_heads=4, relative_attention_num_buckets=8))
    transformer = WanVACETransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12,
                                            in_channels=16, out_channels=16, text_dim=32, freq_dim=256, ffn_dim=32,
                                            num_layers=3, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
                                            rope_max_seq_len=32, vace_layers=[0, 2], vace_in_channels=96)
    pipe = WanVACEPipeline(transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
                           text_encoder=text_encoder, tokenizer=tokenizer)
    pipe.set_progress_bar_config(disable=True)
    if folder is None:
        return pipe
    folder = Path(folder)
    pipe.save_pretrained(folder)
    return folder
