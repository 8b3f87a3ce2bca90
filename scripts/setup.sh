#!/usr/bin/env bash
# Set up normbench in ./.venv (created if absent): PyTorch first, built for this machine, then normbench.
#   bash scripts/setup.sh          # the tool
#   bash scripts/setup.sh dev      # the tool and its test dependencies
# PyTorch choice: an already-installed torch is kept; on a machine with an NVIDIA driver pip's default
# (CUDA) build is installed; elsewhere torch==2.13.0, which on normbench's development machines is a
# CPU build already on disk. Set NORMBENCH_TORCH_SPEC (e.g. "torch==2.5.1") or PIP_INDEX_URL/PIP_EXTRA_INDEX_URL
# (e.g. PyTorch's CPU wheel index) to choose another build.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
venv_python=.venv/bin/python

if ! "$venv_python" -c "import torch" 2>/dev/null; then
  if [ -n "${NORMBENCH_TORCH_SPEC:-}" ]; then
    spec="$NORMBENCH_TORCH_SPEC"
  elif command -v nvidia-smi >/dev/null 2>&1; then
    spec="torch>=2.6"
  else
    spec="torch==2.13.0"
  fi
  echo "normbench setup: installing $spec" >&2
  "$venv_python" -m pip install --quiet "$spec"
fi

target="."
[ "$extras" = "dev" ] && target=".[dev]"
"$venv_python" -m pip install --quiet -e "$target"
echo "normbench setup: ready (.venv/bin/normbench)" >&2
