"""Memory modes of the diffusers video pipelines: what stays on the GPU, chosen from free VRAM or a setting.

Modes (diffusers, "Reduce memory usage",
https://huggingface.co/docs/diffusers/optimization/memory):

* ``full``: every component on the GPU (``pipe.to(device)``); fastest, needs the model's
  ``vram_full_gb``.
* ``model_offload``: ``pipe.enable_model_cpu_offload(device=...)``: each component (text
  encoder, transformer, VAE) moves to the GPU when it runs and back after; a few percent
  slower; needs about the largest component plus activations (the registry's ``vram_gb``).
* ``sequential_offload``: ``pipe.enable_sequential_cpu_offload(device=...)``: weights stream
  to the GPU layer by layer; several times slower; fits small GPUs.

VAE tiling and slicing (``pipe.vae.enable_tiling()`` / ``enable_slicing()``) decode in tiles /
one video at a time; they are turned on with either offload mode (the VAE decode of a whole
480p clip otherwise peaks above the transformer's own memory).

The mode comes from the ``TWEEN4D_MEMORY_MODE`` environment variable or the caller
(``"auto"`` or one of the modes); ``auto`` picks ``full`` when the free memory holds
``vram_full_gb`` with a 10 % margin, ``model_offload`` when it holds ``vram_gb``, else
``sequential_offload``. The chosen mode is recorded with the engine in the asset's
``engines``.
"""

from __future__ import annotations

import os

MEMORY_MODES = ("full", "model_offload", "sequential_offload")
ENV_VAR = "TWEEN4D_MEMORY_MODE"
_MARGIN = 1.1


def free_vram_gb(device) -> float | None:
    """Free memory of a CUDA device in GB (10^9 bytes) from ``torch.cuda.mem_get_info``; None off CUDA."""
    import torch

    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    free, _ = torch.cuda.mem_get_info(device)
    return free / 1e9


def choose_memory_mode(spec, free_gb: float | None, requested: str | None = None) -> str:
    """The memory mode for a registry model.

    Args:
        spec: a ``ModelSpec`` (``vram_gb``, ``vram_full_gb``).
        free_gb: free GPU memory in GB; None (CPU, MPS) gives ``full`` (no offload off CUDA).
        requested: "auto" | a mode | None (None: ``$TWEEN4D_MEMORY_MODE``, else "auto").

    Returns:
        One of ``MEMORY_MODES``.

    Raises:
        ValueError: an unknown mode (from the argument or the environment).
    """
    requested = (requested or os.environ.get(ENV_VAR, "") or "auto").strip().lower()
    if requested != "auto":
        if requested not in MEMORY_MODES:
            raise ValueError(f"memory mode must be auto or one of {', '.join(MEMORY_MODES)}, got {requested!r} "
                             f"(from the argument or ${ENV_VAR})")
        return requested
    if free_gb is None:
        return "full"
    need = spec.vram_gb or 0.0
    full = spec.vram_full_gb or need
    if free_gb >= _MARGIN * full:
        return "full"
    if free_gb >= _MARGIN * need:
        return "model_offload"
    return "sequential_offload"


def apply_memory_mode(pipe, mode: str, device) -> dict:
    """Put a diffusers pipeline on ``device`` in ``mode``; the one place a pipeline is moved.

    Args:
        pipe: a ``DiffusionPipeline`` (components on the CPU, as ``load_pretrained`` gives them).
        mode: one of ``MEMORY_MODES``; off CUDA only ``full`` applies (offload needs an accelerator).
        device: the ``torch.device`` it runs on.

    Returns:
        The record for the asset's ``engines``: {"memory_mode", "vae_tiling", "vae_slicing"}.
    """
    import torch

    device = torch.device(device)
    if device.type != "cuda":
        mode = "full"
    if mode == "model_offload":
        pipe.enable_model_cpu_offload(device=device)
    elif mode == "sequential_offload":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)
    tiling = slicing = False
    vae = getattr(pipe, "vae", None)
    if mode != "full" and vae is not None:
        if hasattr(vae, "enable_tiling"):
            vae.enable_tiling()
            tiling = True
        if hasattr(vae, "enable_slicing"):
            vae.enable_slicing()
            slicing = True
    return {"memory_mode": mode, "vae_tiling": tiling, "vae_slicing": slicing}
