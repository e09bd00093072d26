"""Which torch device and dtype a model engine runs on.

``GenerateSettings.device`` is "auto" | "cpu" | "cuda"; "auto" takes CUDA when
a CUDA build of torch sees a GPU, else Apple's MPS when present, else the CPU.
Half precision is used only on accelerators: bf16 where the GPU supports it
(Ampere and later), fp16 otherwise; the CPU and MPS run fp32 (CPU half
precision is slow, MPS bf16 support is partial).
"""

from __future__ import annotations

from ..errors import ModelUnavailableError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def import_torch():
    """``import torch``, or a ``ModelUnavailableError`` (code ``model.libraries``) saying how to install it."""
    try:
        import torch
    except ImportError:
        raise ModelUnavailableError(
            "The model engines' packages are not installed (torch is missing).",
            "Install them with: python install_deps.py --extra models "
            "(or tick 'Model Engines' in the add-on preferences and press Install), "
            "or pick the weight-free engines.",
            code="model.libraries",
        ) from None
    return torch


def pick_device(pref: str = "auto"):
    """The ``torch.device`` for a device preference.

    Args:
        pref: "auto" | "cpu" | "cuda" (also accepts "cuda:N" and a ``torch.device``).

    Returns:
        ``torch.device``.

    Raises:
        ModelUnavailableError: code ``model.cuda`` when CUDA is asked for but
            torch is a CPU build or sees no GPU; ``model.libraries`` when torch
            is missing.
        ValueError: unknown preference.
    """
    torch = import_torch()
    if isinstance(pref, torch.device):
        pref = str(pref)
    pref = (pref or "auto").strip().lower()
    if pref == "cpu":
        return torch.device("cpu")
    if pref == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if pref == "cuda" or pref.startswith("cuda:"):
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else f"a CUDA {torch.version.cuda} build"
            raise ModelUnavailableError(
                f"The device 'cuda' was requested, but torch ({torch.__version__}, {build}) sees no CUDA GPU.",
                "Choose device 'auto' or 'cpu' (--device cpu, or Device in the add-on preferences), or on a "
                "machine with an NVIDIA GPU and driver reinstall the model engines: "
                "python install_deps.py --extra models (it installs the CUDA build of torch).",
                code="model.cuda",
            )
        return torch.device(pref)
    raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {pref!r}")


def pick_dtype(device):
    """The floating-point dtype for model weights and activations on ``device``.

    Args:
        device: a ``torch.device`` (or its string).

    Returns:
        ``torch.bfloat16`` on CUDA GPUs that support it, ``torch.float16`` on
        other CUDA GPUs, ``torch.float32`` on the CPU and MPS.
    """
    torch = import_torch()
    device = torch.device(device)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32
