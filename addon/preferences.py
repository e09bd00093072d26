"""Add-on preferences: backend interpreter, device, model folder, default quality, install/check, models."""

from __future__ import annotations

import os

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty
from bpy.types import AddonPreferences

from . import paths
from .models_ui import draw_models_box
from .properties import QUALITY_ITEMS


class TWEEN4D_AP_preferences(AddonPreferences):
    """Preferences of the Tween4D extension (``bl_idname`` = the extension root package)."""

    bl_idname = paths.ROOT_PACKAGE

    backend_python: StringProperty(
        name="Backend Python",
        description="Python interpreter of the backend environment. Empty: the environment that Install "
                    "Dependencies creates in the extension's user folder",
        subtype="FILE_PATH",
    )
    device: EnumProperty(
        name="Device",
        description="Where model engines run (the default weight-free engines always run on the CPU)",
        items=[
            ("auto", "Auto", "CUDA when a CUDA GPU and a CUDA build of torch are available, else CPU"),
            ("cuda", "CUDA", "NVIDIA GPU through CUDA"),
            ("cpu", "CPU", "Processor only"),
        ],
        default="auto",
    )
    model_cache_dir: StringProperty(
        name="Model Folder",
        description="Folder of downloaded model weights (becomes HF_HOME of the backend). "
                    "Empty: the Hugging Face default (~/.cache/huggingface)",
        subtype="DIR_PATH",
    )
    default_quality: EnumProperty(
        name="Default Quality", description="Quality used when a scene's quality is 'Preferences Default'",
        items=QUALITY_ITEMS, default="standard",
    )
    install_model_engines: BoolProperty(
        name="Model Engines",
        description="Also install the model engines' packages (torch, diffusers, gsplat; several GB). "
                    "Model weights are downloaded separately, only when you ask for it",
        default=False,
    )
    stall_timeout_s: IntProperty(
        name="Stall Timeout",
        description="Stop a generation when the backend has sent nothing for this long (seconds)",
        default=600, min=10, soft_max=3600, subtype="TIME_ABSOLUTE",
    )

    def interpreter(self) -> str:
        """The interpreter to run the backend with (absolute path; the managed venv when unset)."""
        if self.backend_python.strip():
            return bpy.path.abspath(self.backend_python.strip())
        return paths.venv_python(paths.managed_venv_dir(create=False))

    def backend_env(self) -> dict:
        """Environment variables for the backend process.

        Generation never downloads: ``HF_HUB_OFFLINE=1`` always (weights are
        fetched only by an explicit download action, which checks
        ``bpy.app.online_access``).
        """
        env = {"HF_HUB_OFFLINE": "1"}
        if self.model_cache_dir.strip():
            env["HF_HOME"] = bpy.path.abspath(self.model_cache_dir.strip())
        return env

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False

        col = layout.column()
        col.prop(self, "backend_python", placeholder=self.interpreter())
        col.prop(self, "device")
        col.prop(self, "model_cache_dir", placeholder="Hugging Face default")
        col.prop(self, "default_quality")
        col.prop(self, "stall_timeout_s")

        draw_install_box(layout, context, self)
        draw_models_box(layout, context, self)


def draw_install_box(layout, context, prefs) -> None:
    """Status line, install progress and the Install/Check buttons."""
    state = context.window_manager.tween4d_install
    box = layout.box()
    interpreter = prefs.interpreter()
    found = os.path.isfile(interpreter)
    row = box.row()
    if state.running:
        box.progress(factor=state.progress, type="BAR", text=state.step or "Installing...")
        box.operator("tween4d.cancel_install", text="Cancel", icon="CANCEL")
        return
    if state.checking:
        row.label(text="Checking the backend...", icon="SORTTIME")
    elif state.status:
        row.label(text=state.status, icon="CHECKMARK" if state.status_ok else "ERROR")
    elif found:
        row.label(text=f"Backend environment: {interpreter}", icon="CHECKMARK")
    else:
        row.label(text="Backend environment not installed", icon="INFO")
    box.prop(prefs, "install_model_engines")
    row = box.row(align=True)
    label = "Repair Dependencies" if found else "Install Dependencies"
    row.operator("tween4d.install_dependencies", text=label, icon="IMPORT")
    row.operator("tween4d.check_backend", text="Check", icon="VIEWZOOM")
    if not bpy.app.online_access:
        box.label(text="Installing needs online access (Preferences > System > Network)", icon="INTERNET_OFFLINE")


def get_preferences(context=None) -> TWEEN4D_AP_preferences:
    """This add-on's preferences.

    Raises:
        KeyError: the add-on is not enabled under ``paths.ROOT_PACKAGE``.
    """
    context = context or bpy.context
    return context.preferences.addons[paths.ROOT_PACKAGE].preferences


classes = (TWEEN4D_AP_preferences,)
