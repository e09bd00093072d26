"""The add-on's one backend process, kept between jobs (model engines stay loaded).

Only Blender's main thread calls into this module.
"""

from __future__ import annotations

from typing import Optional

import bpy

from . import paths
from .client import BackendClient, close_all

_client: Optional[BackendClient] = None
_client_key: Optional[tuple] = None


def get_client(prefs) -> BackendClient:
    """The running backend client for the current preferences, started if needed (non-blocking).

    A client whose process died, or whose interpreter/environment no longer
    matches the preferences, is replaced.

    Raises:
        client.BackendError: the interpreter is missing or cannot be started.
    """
    global _client, _client_key
    interpreter = prefs.interpreter()
    env = prefs.backend_env()
    key = (interpreter, paths.backend_root(), tuple(sorted(env.items())))
    if _client is not None and _client.alive and _client_key == key:
        return _client
    if _client is not None and not _client.busy:
        _client.close(timeout=1.0)
    _client = BackendClient(interpreter, paths.backend_root(), env)
    _client_key = key
    return _client.start()


def current_client() -> Optional[BackendClient]:
    """The client made by :func:`get_client`, if any."""
    return _client


def shutdown() -> None:
    """Stop the backend process (unregister, after installing dependencies)."""
    global _client, _client_key
    if _client is not None:
        _client.close(timeout=2.0)
    _client = None
    _client_key = None


def shutdown_all() -> None:
    """Stop every backend process of this add-on (unregister and exit)."""
    shutdown()
    close_all()


@bpy.app.handlers.persistent
def reset_stale_state(*_args) -> None:
    """After loading a file: no job or install can be running unless our client says so."""
    wm = bpy.context.window_manager
    if wm is None:
        return
    if not (_client is not None and _client.busy) and hasattr(wm, "tween4d_job"):
        wm.tween4d_job.running = False
        wm.tween4d_job.cancel_requested = False
