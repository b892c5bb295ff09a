#!/usr/bin/env bash
# The paper-scale CIFAR pipeline on one GPU in one run (see bench/gpu_check.py --help):
#   bench/gpu_check.sh ../shared/data/cifar10-jpg.tar.gz [--epochs 30] [--correct-epochs 8]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then
  echo "usage: bench/gpu_check.sh CIFAR10_JPG_ARCHIVE [options of bench/gpu_check.py]" >&2
  exit 2
fi
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] && PYTHON=.venv/bin/python
exec "$PYTHON" bench/gpu_check.py "$@"
