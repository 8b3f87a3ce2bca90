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

# torchvision: the release built for the installed torch (torch 2.X <-> torchvision 0.(X+15) for X >= 1), of
# the same build (+cpu stays +cpu), with torch pinned so pip never replaces it. NORMBENCH_TORCHVISION_SPEC overrides.
if [ -n "${NORMBENCH_TORCHVISION_SPEC:-}" ]; then
  vision_spec="$NORMBENCH_TORCHVISION_SPEC"
else
  vision_spec="$("$venv_python" "scripts/torchvision_spec.py")"
fi
# The installed version from its metadata, not its import: a build that installs but cannot load beside this torch
# is reported below once, not reinstalled on every set-up.
installed_vision="$("$venv_python" -c 'from importlib.metadata import version; print(version("torchvision"))' \
  2>/dev/null || true)"
wanted_vision="${vision_spec#torchvision==}"
# Same release (the +cpu/+cuXXX label aside): kept, since the plain release is what an index without labelled
# builds offers (the fallback below).
if [ "${installed_vision%%+*}" != "${wanted_vision%%+*}" ]; then
  torch_version="$("$venv_python" -c 'import torch; print(torch.__version__)')"
  echo "normbench setup: installing $vision_spec (for torch $torch_version)" >&2
  # torch pinned to what is installed: a torchvision that would need another torch fails instead of replacing it.
  if ! "$venv_python" -m pip install --quiet "$vision_spec" "torch==$torch_version" 2>/dev/null; then
    # No build of that flavour on the configured index (e.g. no +cpu wheels): the plain release of the same version.
    plain="${vision_spec%%+*}"
    echo "normbench setup: $vision_spec is not on the package index; installing $plain" >&2
    "$venv_python" -m pip install --quiet "$plain" "torch==$torch_version"
  fi
fi
if ! "$venv_python" -c "import torchvision" 2>/dev/null; then
  echo "normbench setup: warning: torchvision is installed but does not load with torch" \
       "$("$venv_python" -c 'import torch; print(torch.__version__)') (a build for another device);" \
       "model=torchvision is unavailable until a matching build is installed (set NORMBENCH_TORCHVISION_SPEC," \
       "or PIP_EXTRA_INDEX_URL to PyTorch's index for your build)" >&2
fi

target="."
[ "$extras" = "dev" ] && target=".[dev]"
"$venv_python" -m pip install --quiet -e "$target"
echo "normbench setup: ready (.venv/bin/normbench)" >&2
