#!/usr/bin/env bash
# The CUDA tests, then the paper-scale CIFAR pipeline on one GPU in one run (see bench/gpu_check.py --help):
#   bench/gpu_check.sh [ARCHIVE] [--epochs 30] [--correct-epochs 8]
# ARCHIVE defaults to gpu-check/data/cifar10-jpg.tar.gz: copy ../shared/data/cifar10-jpg.tar.gz there and name
# gpu-check/data in the device tool's carry (../shared is not carried; gpu-check/ is ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] && PYTHON=.venv/bin/python
# first what only a GPU can show (tests/test_cuda.py; they skip without CUDA), then the timed pipeline
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m pytest -q -p no:cacheprovider tests/test_cuda.py
exec "$PYTHON" bench/gpu_check.py "$@"
