#!/usr/bin/env bash
# The CUDA tests, then a paper-scale pipeline on one GPU in one run (see bench/gpu_check*.py --help):
#   bench/gpu_check.sh [ARCHIVE] [--epochs 30] [--correct-epochs 8]                  # §5.1, CIFAR-10 JPEGs
#   bench/gpu_check.sh imagenette [ARCHIVE] [--epochs 30] [--correct-epochs 6]       # §5.2, Imagenette
# ARCHIVE defaults to gpu-check/data/cifar10-jpg.tar.gz (imagenette: gpu-check/data/imagenette160.tar.gz): copy
# it there from ../shared/data and name gpu-check/data in the device tool's carry (../shared is not carried;
# gpu-check/ is ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] && PYTHON=.venv/bin/python
SCRIPT=bench/gpu_check.py
if [ "${1:-}" = imagenette ]; then
    SCRIPT=bench/gpu_check_imagenet.py
    shift
fi
# first what only a GPU can show (tests/test_cuda.py; they skip without CUDA), then the timed pipeline
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m pytest -q -p no:cacheprovider tests/test_cuda.py
exec "$PYTHON" "$SCRIPT" "$@"
