"""Batch runs: many jobs from one manifest, resumable, on one machine or a Ray cluster.

``python -m backend batch MANIFEST -o OUT_ROOT`` reads a CSV or JSON Lines
manifest (``manifest``), skips jobs whose asset is already complete for the
same inputs and settings (``resume``), runs the rest through
``backend.jobs.run_job`` -- each in its own process on this machine
(``local``) or as a Ray task (``ray_runner``) -- and writes
``OUT_ROOT/batch_report.json`` (``report``).

Importing this package is cheap on purpose: worker processes import
``backend.batch.worker`` and set their thread and GPU environment before
numpy, OpenCV or torch load.
"""
