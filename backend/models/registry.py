"""The one place that knows which model weights the model engines use and where they are.

Every model engine asks this registry for a folder of weights and never talks
to the network itself:

* ``MODELS`` maps a short key ("depth", "features", "video-wan", ...) to a
  ``ModelSpec``: Hugging Face repository, pinned revision, library, size and
  licence.
* ``resolve_model(key)`` returns the folder to load: a local override (the
  argument, or the environment variable ``TWEEN4D_MODEL_<KEY>``), else the
  pinned snapshot in the Hugging Face cache (``HF_HOME`` / ``HF_HUB_CACHE`` or
  ``cache_dir``), looked up with ``local_files_only=True`` -- generation never
  downloads. A missing model raises ``ModelUnavailableError`` naming the
  repository, revision and size, and the command that fetches it.
* ``download_model(key)`` fetches the pinned snapshot; only the ``models
  download`` command (and the add-on's download button) call it.

References: huggingface_hub ``snapshot_download`` (cache layout, offline mode,
``allow_patterns``), https://huggingface.co/docs/huggingface_hub/guides/download.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from ..errors import ModelUnavailableError

LIBRARIES = ("transformers", "diffusers")

#: transformers repositories often carry the same weights as PyTorch .bin,
#: TensorFlow and Flax files too: only the safetensors weights and configs are fetched.
_TRANSFORMERS_FILES = ("*.json", "*.safetensors", "*.txt", "*.model")
#: A diffusers pipeline: its index and the component folders (the LTX-Video
#: repository also holds single-file checkpoints of every release at its root).
_DIFFUSERS_PIPELINE_FILES = ("model_index.json", "scheduler/*", "text_encoder/*", "tokenizer/*",
                             "transformer/*", "vae/*", "image_encoder/*", "image_processor/*")


@dataclass(frozen=True)
class ModelSpec:
    """One model that a model engine can load.

    Attributes:
        key: short name used on the command line and in settings ("depth").
        repo_id: Hugging Face repository id ("owner/name").
        revision: the pinned git revision: a 40-hex commit hash where one is
            known, else a branch name (the release process replaces branch
            names with the commit hashes it was tested with).
        library: "transformers" or "diffusers" (which ``from_pretrained`` loads it).
        task: what the model computes ("depth-estimation", ...).
        size_gb: approximate download size in gigabytes (10^9 bytes).
        licence: the weights' licence as stated on the model card.
        purpose: which Tween4D engine uses it, in a few words.
        allow_patterns: files of the repository that are fetched (None: all).
        vram_gb: GPU memory (GB) it needs at its default settings in the memory mode the
            engine picks first on a 16 GB GPU (``backend.models.memory``): model CPU offload for
            the video pipelines (only the running component resident), everything resident
            for the small transformers models. Estimates from the weights' sizes in bf16 and
            the measured activations of one forward (issue 8 on an H200); None: unknown.
        vram_full_gb: GPU memory with every component resident (no offload), for the
            "full" memory mode; None: same as ``vram_gb``.
    """

    key: str
    repo_id: str
    revision: str
    library: str
    task: str
    size_gb: float
    licence: str
    purpose: str
    allow_patterns: Optional[tuple[str, ...]] = None
    vram_gb: Optional[float] = None
    vram_full_gb: Optional[float] = None

    @property
    def vram_text(self) -> str:
        """GPU memory needed, for people: "8 GB VRAM" (or "" when unknown)."""
        return "" if self.vram_gb is None else f"{self.vram_gb:.0f} GB VRAM"

    @property
    def env_var(self) -> str:
        """Name of the environment variable that overrides the folder (``TWEEN4D_MODEL_<KEY>``)."""
        return "TWEEN4D_MODEL_" + re.sub(r"[^A-Z0-9]", "_", self.key.upper())

    @property
    def pinned(self) -> bool:
        """True when ``revision`` is a full commit hash."""
        return bool(re.fullmatch(r"[0-9a-f]{40}", self.revision))

    @property
    def size_text(self) -> str:
        """The size for people: "99 MB", "80 GB"."""
        return f"{self.size_gb * 1000:.0f} MB" if self.size_gb < 1 else f"{self.size_gb:.0f} GB"

    @property
    def download_command(self) -> str:
        """The backend command that fetches this model."""
        return f"python -m backend models download {self.key}"

    @property
    def hf_command(self) -> str:
        """The equivalent Hugging Face CLI command."""
        cmd = f"hf download {self.repo_id} --revision {self.revision}"
        if self.allow_patterns:
            cmd += "".join(f' --include "{p}"' for p in self.allow_patterns)
        return cmd


MODELS: dict[str, ModelSpec] = {
    spec.key: spec
    for spec in (
        ModelSpec(
            key="depth",
            repo_id="depth-anything/Depth-Anything-V2-Small-hf",
            # Commit "Fix yaml" (config, model.safetensors, preprocessor_config); the later
            # head of main only renamed the organisation in the README.
            revision="870a35c76c2bc1d82fbde922d95015496cb7dd6c",
            library="transformers",
            task="depth-estimation",
            size_gb=0.099,
            licence="Apache-2.0",
            purpose="geometry engine 'depth': monocular relative depth of the start image",
            allow_patterns=_TRANSFORMERS_FILES,
            vram_gb=1.0,
        ),
        ModelSpec(
            key="features",
            repo_id="facebook/dinov2-small",
            # Commit "Upload safetensors version".
            revision="8c0210022ead0e9012784aecff426ff6613bf835",
            library="transformers",
            task="image-feature-extraction",
            size_gb=0.088,
            licence="Apache-2.0",
            purpose="keyframes engine 'features': DINOv2 image features of the in-between frames",
            allow_patterns=_TRANSFORMERS_FILES,
            vram_gb=1.0,
        ),
        ModelSpec(
            key="video-vace",
            repo_id="Wan-AI/Wan2.1-VACE-1.3B-diffusers",
            # Branch name: no commit hash of this repository could be looked up from here (no Hub
            # access); the release process pins the commit it was tested with, and
            # ``models download`` prints the commit it resolved.
            revision="main",
            library="diffusers",
            task="vace-video",
            size_gb=30.0,
            licence="Apache-2.0",
            purpose=("default video model, 480p: in-betweening (first and last frame through VACE's "
                     "conditioning video and mask) and single-image animation (first frame), WanVACEPipeline"),
            allow_patterns=_DIFFUSERS_PIPELINE_FILES,
            # bf16 transformer with its VACE blocks ~4 GB + one 832x480x49 forward ~4 GB; the UMT5-XXL
            # text encoder (11 GB in bf16) runs first and is offloaded before denoising.
            vram_gb=8.0,
            vram_full_gb=20.0,
        ),
        ModelSpec(
            key="video-wan",
            repo_id="Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers",
            # Commit "Upload folder using huggingface_hub (#5)": the complete diffusers folders.
            revision="17c30769b1e0b5dcaa1799b117bf20a9c31f59d7",
            library="diffusers",
            task="first-last-frame-to-video",
            size_gb=80.0,
            licence="Apache-2.0",
            purpose="in-betweening engine, large: Wan 2.1 FLF2V 14B first/last-frame video (WanImageToVideoPipeline)",
            allow_patterns=_DIFFUSERS_PIPELINE_FILES,
            # bf16 transformer 28 GB + one 832x480x49 forward (35 GB measured) with model offload;
            # sequential offload brings it near 12 GB at many times the time.
            vram_gb=40.0,
            vram_full_gb=60.0,
        ),
        ModelSpec(
            key="video-ltx",
            repo_id="Lightricks/LTX-Video",
            # Branch name: the release process pins the commit hash it was tested with.
            revision="main",
            library="diffusers",
            task="keyframe-conditioned-video",
            size_gb=25.0,
            licence="LTX-Video Open Weights License (see the model card)",
            purpose="in-betweening engine, lighter: LTX-Video with first/last-frame conditions (LTXConditionPipeline)",
            allow_patterns=_DIFFUSERS_PIPELINE_FILES,
            vram_gb=10.0,
            vram_full_gb=24.0,
        ),
        ModelSpec(
            key="video-ltx-0.9.5",
            repo_id="Lightricks/LTX-Video-0.9.5",
            # Branch name: the release process pins the commit hash it was tested with.
            revision="main",
            library="diffusers",
            task="keyframe-conditioned-video",
            size_gb=25.0,
            licence="LTX-Video Open Weights License (see the model card)",
            purpose="in-betweening engine: LTX-Video 0.9.5, the release diffusers documents for LTXConditionPipeline",
            allow_patterns=_DIFFUSERS_PIPELINE_FILES,
            vram_gb=10.0,
            vram_full_gb=24.0,
        ),
    )
}


def get_spec(key: str) -> ModelSpec:
    """The ``ModelSpec`` of ``key``.

    Raises:
        ModelUnavailableError: unknown key (code ``model.unknown``; the hint lists the known keys).
    """
    try:
        return MODELS[key]
    except KeyError:
        raise ModelUnavailableError(
            f"Unknown model {key!r}.",
            f"Known models: {', '.join(MODELS)} (python -m backend models list).",
            code="model.unknown",
        ) from None


def offline_mode() -> bool:
    """True when the environment forbids network access to the Hub, read now.

    huggingface_hub reads ``HF_HUB_OFFLINE`` once, at import; this reads the
    environment at call time (and also honours the import-time value), so a
    variable set after import still counts.
    """
    def truthy(name: str) -> bool:
        return os.environ.get(name, "").strip().upper() in ("1", "ON", "YES", "TRUE")

    if truthy("HF_HUB_OFFLINE") or truthy("TRANSFORMERS_OFFLINE"):
        return True
    try:
        from huggingface_hub import constants
    except ImportError:
        return False
    return bool(constants.HF_HUB_OFFLINE)


def _import_hub():
    try:
        import huggingface_hub
    except ImportError:
        raise ModelUnavailableError(
            "The model engines' packages are not installed (huggingface_hub is missing).",
            "Install them with: python install_deps.py --extra models "
            "(or tick 'Model Engines' in the add-on preferences and press Install).",
            code="model.libraries",
        ) from None
    return huggingface_hub


def _missing_hint(spec: ModelSpec) -> str:
    return (
        f"Download it with: {spec.download_command} (or: {spec.hf_command}), "
        "or press 'Download' next to it in the add-on preferences (Models); "
        f"to use a folder you already have, set {spec.env_var}=/path/to/folder."
    )


def local_override(key: str, local_path: str | os.PathLike | None = None) -> Optional[tuple[Path, str]]:
    """The folder overriding the Hub snapshot of ``key``, if any.

    Args:
        key: a key of ``MODELS``.
        local_path: an explicit folder; wins over the environment variable.

    Returns:
        (folder, where it came from) or None when there is no override.
    """
    spec = get_spec(key)
    if local_path is not None and str(local_path) != "":
        return Path(local_path).expanduser(), "the local path given"
    env = os.environ.get(spec.env_var, "").strip()
    if env:
        return Path(env).expanduser(), f"${spec.env_var}"
    return None


def _check_folder(spec: ModelSpec, folder: Path, origin: str) -> Path:
    markers = ("config.json",) if spec.library == "transformers" else ("model_index.json", "config.json")
    if not folder.is_dir():
        raise ModelUnavailableError(
            f"The folder for model '{spec.key}' ({origin}) does not exist: {folder}",
            f"Point it at a folder holding {spec.repo_id} ({' or '.join(markers)} inside), or unset it "
            f"to use the Hugging Face cache.",
            code="model.path",
        )
    if not any((folder / m).is_file() for m in markers):
        raise ModelUnavailableError(
            f"The folder for model '{spec.key}' ({origin}) holds no {' or '.join(markers)}: {folder}",
            f"It must be a {spec.library} model folder (as saved by save_pretrained or downloaded from "
            f"{spec.repo_id}).",
            code="model.path",
        )
    return folder.resolve()


def resolve_model(key: str, *, local_path: str | os.PathLike | None = None,
                  cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder holding the weights of model ``key``, without any network access.

    Order: ``local_path`` → ``$TWEEN4D_MODEL_<KEY>`` → the pinned snapshot in
    the Hugging Face cache (``huggingface_hub.snapshot_download(...,
    local_files_only=True)``: never downloads, whatever ``HF_HUB_OFFLINE`` says).

    Args:
        key: a key of ``MODELS``.
        local_path: a folder to use instead of the cache.
        cache_dir: Hugging Face hub cache folder (default: ``HF_HUB_CACHE``,
            i.e. ``$HF_HOME/hub``).

    Returns:
        An existing folder (absolute).

    Raises:
        ModelUnavailableError: ``model.unknown`` (bad key), ``model.path``
            (override folder missing or not a model folder),
            ``model.missing`` (not in the cache: the message names the
            repository, revision and size; the hint gives
            ``python -m backend models download <key>``, the ``hf download``
            equivalent and the add-on's download button), ``model.libraries``
            (huggingface_hub not installed).
    """
    spec = get_spec(key)
    override = local_override(key, local_path)
    if override is not None:
        return _check_folder(spec, *override)
    hub = _import_hub()
    try:
        folder = hub.snapshot_download(
            spec.repo_id,
            revision=spec.revision,
            cache_dir=None if cache_dir is None else str(cache_dir),
            local_files_only=True,
            allow_patterns=list(spec.allow_patterns) if spec.allow_patterns else None,
        )
    except (OSError, ValueError) as exc:  # LocalEntryNotFoundError is a FileNotFoundError
        from huggingface_hub import errors as hub_errors

        incomplete = isinstance(exc, getattr(hub_errors, "IncompleteSnapshotError", ()))
        what = "is only partly downloaded" if incomplete else "is not downloaded"
        raise ModelUnavailableError(
            f"Model '{spec.key}' ({spec.repo_id} at revision {spec.revision}, about {spec.size_text}) {what}.",
            _missing_hint(spec),
            code="model.missing",
        ) from exc
    return Path(folder)


def is_installed(key: str, *, cache_dir: str | os.PathLike | None = None) -> bool:
    """True when ``resolve_model(key)`` would succeed (override or cached snapshot); never downloads."""
    try:
        resolve_model(key, cache_dir=cache_dir)
    except ModelUnavailableError:
        return False
    return True


def download_model(key: str, *, cache_dir: str | os.PathLike | None = None,
                   progress: Optional[Callable[[str], None]] = None) -> Path:
    """Fetch the pinned snapshot of model ``key`` into the Hugging Face cache.

    Only called when a person asks for it (``python -m backend models
    download``, the add-on's download button). Files already in the cache are
    not fetched again; an interrupted download resumes.

    Args:
        key: a key of ``MODELS``.
        cache_dir: Hugging Face hub cache folder (default ``HF_HUB_CACHE``).
        progress: called with short status lines (start, done).

    Returns:
        The snapshot folder.

    Raises:
        ModelUnavailableError: ``model.offline`` when ``HF_HUB_OFFLINE`` /
            ``TRANSFORMERS_OFFLINE`` is set (nothing is attempted),
            ``model.download`` when the Hub cannot be reached or refuses
            (network, gated repository, disk full), ``model.unknown``,
            ``model.libraries``.
    """
    spec = get_spec(key)
    if offline_mode():
        raise ModelUnavailableError(
            f"Cannot download model '{spec.key}' ({spec.repo_id}): offline mode is on (HF_HUB_OFFLINE=1).",
            f"Unset HF_HUB_OFFLINE (and TRANSFORMERS_OFFLINE) for the download, e.g. "
            f"HF_HUB_OFFLINE=0 {spec.download_command}",
            code="model.offline",
        )
    hub = _import_hub()
    if progress:
        progress(f"Downloading {spec.repo_id} @ {spec.revision} (about {spec.size_text}) ...")
    try:
        folder = hub.snapshot_download(
            spec.repo_id,
            revision=spec.revision,
            cache_dir=None if cache_dir is None else str(cache_dir),
            allow_patterns=list(spec.allow_patterns) if spec.allow_patterns else None,
        )
    except Exception as exc:  # network, HTTP, disk: all end as one actionable error
        raise ModelUnavailableError(
            f"Downloading model '{spec.key}' ({spec.repo_id} at revision {spec.revision}) failed: "
            f"{exc.__class__.__name__}: {exc}",
            "Check the internet connection and free disk space "
            f"(about {spec.size_text} needed), then run the command again; it resumes where it stopped. "
            "Gated repositories need `hf auth login` first.",
            code="model.download",
        ) from exc
    if progress:
        progress(f"Done: {folder}")
    return Path(folder)


def load_pretrained(key: str, loader, *, local_path: str | os.PathLike | None = None,
                    cache_dir: str | os.PathLike | None = None, **kwargs):
    """Resolve ``key`` and load it with ``loader.from_pretrained`` from local files only.

    Args:
        key: a key of ``MODELS``.
        loader: a class with ``from_pretrained`` (e.g. ``transformers.Dinov2Model``,
            ``diffusers.WanImageToVideoPipeline``).
        local_path, cache_dir: as in ``resolve_model``.
        **kwargs: passed on to ``from_pretrained`` (``torch_dtype``, ``subfolder``, ...).

    Returns:
        What ``loader.from_pretrained`` returns, on the CPU.

    Raises:
        ModelUnavailableError: the model is missing (see ``resolve_model``), or its
            folder cannot be loaded (code ``model.broken``: the message names the
            folder and the loader's error).
    """
    from .devices import import_torch

    spec = get_spec(key)
    folder = resolve_model(key, local_path=local_path, cache_dir=cache_dir)
    torch = import_torch()
    try:
        # Weights are read into host memory whatever the process's default device; the engine
        # then moves them in its one place (``.to(device)`` or a memory mode's offload hooks).
        with torch.device("cpu"):
            return loader.from_pretrained(str(folder), local_files_only=True, **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelUnavailableError(
            f"Model '{spec.key}' could not be loaded from {folder}: {exc.__class__.__name__}: {exc}",
            f"The folder may be incomplete or of another model; download it again with {spec.download_command}.",
            code="model.broken",
        ) from exc


def load_transformers_model(key: str, auto_class: str, *, device: str = "auto",
                            local_path: str | os.PathLike | None = None,
                            cache_dir: str | os.PathLike | None = None, engine: str = ""):
    """Load a transformers model of the registry onto the picked device, in eval mode.

    Args:
        key: a key of ``MODELS``.
        auto_class: name of the ``transformers`` class to load with (e.g.
            "AutoModelForDepthEstimation", "AutoModel").
        device: "auto" | "cpu" | "cuda" (``backend.models.pick_device``).
        local_path, cache_dir: as in ``resolve_model``.
        engine: the engine asking, named in the error when transformers is missing.

    Returns:
        (model, folder, torch.device, torch.dtype): the model already moved to
        the device and dtype (``pick_dtype``), and the folder it came from
        (for its preprocessing config).

    Raises:
        ModelUnavailableError: transformers not installed (``model.libraries``),
            weights missing or broken, CUDA asked for but absent.
    """
    from .devices import pick_device, pick_dtype

    dev = pick_device(device)
    dtype = pick_dtype(dev)
    try:
        import transformers
    except ImportError:
        raise ModelUnavailableError(
            f"The {engine or key!r} engine needs the transformers package.",
            "Install the model engines: python install_deps.py --extra models.",
            code="model.libraries",
        ) from None
    folder = resolve_model(key, local_path=local_path, cache_dir=cache_dir)
    model = load_pretrained(key, getattr(transformers, auto_class), local_path=folder)
    return model.to(device=dev, dtype=dtype).eval(), folder, dev, dtype
