"""Operators. Each module exposes a ``classes`` tuple that ``addon.register()`` registers.

* ``generate``: ``tween4d.generate`` (modal / blocking), ``tween4d.cancel``, recent-result helpers.
* ``install``: ``tween4d.install_dependencies``, ``tween4d.cancel_install``, ``tween4d.check_backend``.
* ``models``: ``tween4d.download_model``, ``tween4d.cancel_model_download``, ``tween4d.refresh_models``.
* ``drags``: One Image drag arrows and pins (``tween4d.place_drags`` in the Image Editor, annotations, list edits).
* ``import_asset``, ``export``, ``camera_rig``: import an asset (+ filled-in Gaussians display), bake + export,
  camera rigs.

A module may also define ``menu_func_import`` / ``menu_func_export``, which
``register()`` appends to File > Import / File > Export.
"""
