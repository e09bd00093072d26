"""Model weights and devices for the model engines (registry, offline lookup, download, device choice).

Importing this package loads neither torch nor huggingface_hub; they are
imported when a function needs them, so the weight-free install can list the
models and explain how to get them.
"""

from .devices import DEVICE_CHOICES, import_torch, pick_device, pick_dtype
from .registry import (
    LIBRARIES,
    MODELS,
    ModelSpec,
    download_model,
    get_spec,
    is_installed,
    load_pretrained,
    load_transformers_model,
    local_override,
    offline_mode,
    resolve_model,
)

__all__ = [
    "DEVICE_CHOICES", "LIBRARIES", "MODELS", "ModelSpec", "download_model", "get_spec", "import_torch",
    "is_installed", "load_pretrained", "load_transformers_model", "local_override", "offline_mode", "pick_device", "pick_dtype",
    "resolve_model",
]
