"""3D-truth benchmark cases: a bpy generator (generate.py, cases.py, scene.py) and a numpy reader (truth.py)."""
