"""Install/repair the backend environment and check it, without freezing Blender.

``tween4d.install_dependencies`` runs ``install_deps.py --target <user folder>/backend-venv``
with Blender's own Python (``sys.executable``) as a child process; a modal
timer follows its ``[k/n]`` step lines into a progress bar. pip downloads
packages, so the operator refuses while Blender's online access is off
(``bpy.app.online_access``). ``tween4d.check_backend`` starts the backend and
waits for its ``hello`` (protocol version, missing packages) the same way.
"""

from __future__ import annotations

import sys
import time

import bpy
from bpy.types import Operator

from .. import paths, session
from ..client import BackendError
from ..install_runner import InstallRunner
from ..preferences import get_preferences
from .generate import tag_redraw
from .timer_modal import TimerModal

TIMER_INTERVAL_S = 0.2
CHECK_TIMEOUT_S = 120.0

OFFLINE_MESSAGE = ("Online access is disabled in Blender, and installing dependencies downloads packages "
                   "from the Python Package Index.")
OFFLINE_HINT = "Enable Preferences > System > Network > Allow Online Access, then try again."


def install_command(venv_dir: str, model_engines: bool = False, device: str = "auto") -> list[str]:
    """argv of the installer: Blender's Python runs ``install_deps.py --target venv_dir``.

    ``model_engines`` adds ``--extra models`` (torch, diffusers, gsplat; ``device``
    picks the torch build: auto, cpu or cuda).
    """
    argv = [sys.executable, str(paths.INSTALL_SCRIPT), "--target", venv_dir]
    if model_engines:
        argv += ["--extra", "models", "--device", device]
    return argv


class TWEEN4D_OT_install_dependencies(TimerModal, Operator):
    """Create or repair the backend's Python environment in the extension's user folder (downloads packages)"""

    bl_idname = "tween4d.install_dependencies"
    bl_label = "Install Dependencies"
    bl_options = {"REGISTER", "INTERNAL"}

    _runner: InstallRunner = None

    @classmethod
    def poll(cls, context):
        if context.window_manager.tween4d_install.running:
            cls.poll_message_set("An installation is already running")
            return False
        return True

    def _start(self, context) -> bool:
        state = context.window_manager.tween4d_install
        if not bpy.app.online_access:
            state.status, state.status_ok = OFFLINE_MESSAGE, False
            self.report({"ERROR"}, f"{OFFLINE_MESSAGE} {OFFLINE_HINT}")
            return False
        if not paths.INSTALL_SCRIPT.is_file():
            state.status, state.status_ok = "install_deps.py is missing from the extension.", False
            self.report({"ERROR"}, f"{paths.INSTALL_SCRIPT} is missing: reinstall the Tween4D extension.")
            return False
        session.shutdown()  # the backend must not hold files of the venv being repaired
        venv_dir = paths.managed_venv_dir(create=False)
        prefs = get_preferences(context)
        argv = install_command(venv_dir, prefs.install_model_engines, prefs.device)
        try:
            self._runner = InstallRunner(argv, cwd=str(paths.EXTENSION_DIR)).start()
        except OSError as exc:
            state.status, state.status_ok = f"Could not run the installer: {exc}", False
            self.report({"ERROR"}, state.status)
            return False
        state.running = True
        state.cancel_requested = False
        state.progress = 0.0
        state.step = "Starting..."
        state.status = ""
        return True

    def _update(self, context) -> None:
        state = context.window_manager.tween4d_install
        for line in self._runner.poll():
            if bpy.app.background:
                print(f"install_deps: {line}", flush=True)
        state.progress = self._runner.fraction
        if self._runner.step_text:
            state.step = self._runner.step_text

    def _finish(self, context, code: int) -> set:
        state = context.window_manager.tween4d_install
        state.running = False
        if code == 0:
            state.progress = 1.0
            state.status, state.status_ok = "Dependencies installed.", True
            self.report({"INFO"}, "Tween4D dependencies installed.")
            return {"FINISHED"}
        if state.cancel_requested:
            state.status, state.status_ok = "Installation cancelled.", False
            self.report({"WARNING"}, "Installation cancelled.")
        else:
            tail = self._runner.tail(6)
            state.status, state.status_ok = f"Installation failed (exit code {code}).", False
            self.report({"ERROR"}, f"Installing dependencies failed (exit code {code}):\n{tail}")
        state.cancel_requested = False
        return {"CANCELLED"}

    def execute(self, context):
        # Blocking path: background mode and scripts.
        if not self._start(context):
            return {"CANCELLED"}
        while self._runner.returncode is None:
            time.sleep(TIMER_INTERVAL_S)
            self._update(context)
        self._update(context)
        return self._finish(context, self._runner.returncode)

    def invoke(self, context, event):
        if bpy.app.background:
            return self.execute(context)
        if not self._start(context):
            return {"CANCELLED"}
        self.start_timer(context, TIMER_INTERVAL_S)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if not self.own_tick(event):
            return {"PASS_THROUGH"}
        state = context.window_manager.tween4d_install
        if state.cancel_requested:
            self._runner.cancel()
        self._update(context)
        tag_redraw(context)
        code = self._runner.returncode
        if code is None:
            return {"PASS_THROUGH"}
        self.stop_timer(context)
        return self._finish(context, code)

    def cancel(self, context):
        if self._runner is not None:
            self._runner.cancel()
        self.stop_timer(context)
        context.window_manager.tween4d_install.running = False


class TWEEN4D_OT_cancel_install(Operator):
    """Stop the running installation"""

    bl_idname = "tween4d.cancel_install"
    bl_label = "Cancel Installation"
    bl_options = {"REGISTER", "INTERNAL"}

    @classmethod
    def poll(cls, context):
        return context.window_manager.tween4d_install.running

    def execute(self, context):
        context.window_manager.tween4d_install.cancel_requested = True
        return {"FINISHED"}


def describe_hello(hello: dict) -> str:
    """One status line from the backend's ``hello`` event."""
    return (f"Backend {hello.get('backend', '?')} ready (Python {hello.get('python', '?')}, "
            f"protocol {hello.get('protocol', '?')}).")


class TWEEN4D_OT_check_backend(TimerModal, Operator):
    """Start the backend and check that it answers, speaks this add-on's protocol and has its packages"""

    bl_idname = "tween4d.check_backend"
    bl_label = "Check Backend"
    bl_options = {"REGISTER", "INTERNAL"}

    _client = None
    _started: float = 0.0

    @classmethod
    def poll(cls, context):
        state = context.window_manager.tween4d_install
        return not (state.running or state.checking or context.window_manager.tween4d_job.running)

    def _set(self, context, ok: bool, text: str, hint: str = "") -> set:
        state = context.window_manager.tween4d_install
        state.checking = False
        state.status, state.status_ok = text, ok
        self.report({"INFO"} if ok else {"ERROR"}, f"{text} {hint}".strip())
        return {"FINISHED"} if ok else {"CANCELLED"}

    def _get_client(self, context):
        try:
            self._client = session.get_client(get_preferences(context))
        except BackendError as exc:
            return self._set(context, False, exc.message, exc.hint)
        return None

    def execute(self, context):
        failed = self._get_client(context)
        if failed:
            return failed
        try:
            hello = self._client.wait_ready(CHECK_TIMEOUT_S)
        except BackendError as exc:
            session.shutdown()
            return self._set(context, False, exc.message.splitlines()[0], exc.hint)
        return self._set(context, True, describe_hello(hello))

    def invoke(self, context, event):
        if bpy.app.background:
            return self.execute(context)
        failed = self._get_client(context)
        if failed:
            return failed
        context.window_manager.tween4d_install.checking = True
        self._started = time.monotonic()
        self.start_timer(context, TIMER_INTERVAL_S)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if not self.own_tick(event):
            return {"PASS_THROUGH"}
        self._client.poll()  # the handshake itself is tracked by the client
        result = None
        if self._client.ready:
            result = self._set(context, True, describe_hello(self._client.hello))
        elif self._client.failure is not None:
            exc = self._client.failure
            session.shutdown()
            result = self._set(context, False, exc.message.splitlines()[0], exc.hint)
        elif time.monotonic() - self._started > CHECK_TIMEOUT_S:
            session.shutdown()
            result = self._set(context, False, f"The backend did not answer within {CHECK_TIMEOUT_S:.0f} s.",
                               "Run Install Dependencies to repair it.")
        tag_redraw(context)
        if result is None:
            return {"PASS_THROUGH"}
        self.stop_timer(context)
        return result

    def cancel(self, context):
        self.stop_timer(context)
        context.window_manager.tween4d_install.checking = False


classes = (TWEEN4D_OT_install_dependencies, TWEEN4D_OT_cancel_install, TWEEN4D_OT_check_backend)
