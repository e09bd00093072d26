#!/usr/bin/env bash
# The one prepared GPU check (issue 8): run it on a machine with an NVIDIA GPU, from the repository root,
# in one call. It sets up .venv with the CUDA build of torch if needed, runs the CUDA tests (gsplat
# path, device placement, the deformation engine on cuda) and bench_gpu.py, and prints one table.
# About 10 minutes on a data-centre GPU (gsplat compiles its kernels once, 1-2 minutes, when nvcc exists).
set -uo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONDONTWRITEBYTECODE=1
PY=.venv/bin/python
[ -x "$PY" ] || python3 install_deps.py --extra models --device cuda || exit 1
"$PY" install_deps.py --check --extra models | sed -n '1,20p'
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
echo "== CUDA tests"
timeout 300 "$PY" -m pytest -q -p no:cacheprovider -rs \
  tests/backend/test_torch_splat.py tests/backend/test_deformation_engine.py tests/backend/test_device_placement.py \
  tests/backend/test_memory_modes.py tests/test_collection.py
echo "== generate --engine motion=deformation --device cuda (robot arm, standard)"
timeout 300 "$PY" -m backend generate examples/robot_arm/start.png examples/robot_arm/end.png -o /tmp/tween4d-gpu-check \
  --engine motion=deformation --device cuda --json | tail -c 1500
echo "== bench_gpu.py"
timeout 420 "$PY" benchmarks/bench_gpu.py --skip-deformation
timeout 240 "$PY" benchmarks/bench_deformation.py --quality standard --frames 49 --device cuda
