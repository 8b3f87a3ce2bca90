#!/usr/bin/env bash
# Set up normbench in ./.venv (created if absent): PyTorch first, built for this machine, then normbench.
#   bash scripts/setup.sh          # the tool (torchvision too where a build matching the torch at hand exists)
#   bash scripts/setup.sh vision   # the tool and a torchvision that loads (model=torchvision), or an error
#   bash scripts/setup.sh dev      # the tool, a torchvision that loads, and the test dependencies (what CI runs)
# NORMBENCH_WITH_TORCHVISION=1 asks for a torchvision that loads whatever the argument.
# PyTorch choice: an already-installed torch is kept; on a machine with an NVIDIA driver pip's default
# (CUDA) build is installed; elsewhere torch==2.13.0, which on normbench's development machines is a
# CPU build already on disk. There, no torchvision is built for that torch, so where torchvision is asked for on
# x86-64 (vision, dev) the pair torch==2.14.1 + torchvision==0.29.1 is installed instead (a CUDA build, about
# 5.5 GB, that runs on the CPU), also replacing a kept torch that no loadable torchvision matches.
# Set NORMBENCH_TORCH_SPEC (e.g. "torch==2.5.1") or PIP_INDEX_URL/PIP_EXTRA_INDEX_URL (e.g. PyTorch's CPU
# wheel index) to choose another build, NORMBENCH_TORCHVISION_SPEC another torchvision.
# NORMBENCH_SETUP_PLAN=1 prints what would be installed and changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-}"
case "$mode" in
  "" | vision | dev) ;;
  *)
    echo "normbench setup: unknown argument '$mode'; use none (the tool), vision (and torchvision) or dev" \
         "(and torchvision and the test dependencies)" >&2
    exit 2 ;;
esac
python="${PYTHON:-python3}"
venv_python=.venv/bin/python
plan="${NORMBENCH_SETUP_PLAN:-}"

want_vision=""
if [ "$mode" = vision ] || [ "$mode" = dev ] || [ "${NORMBENCH_WITH_TORCHVISION:-}" = 1 ]; then
  want_vision=1
fi
# A torch and the torchvision built for it that are on disk on normbench's x86-64 machines without a GPU; used
# only where torchvision is asked for and nobody chose a build.
pair_torch="torch==2.14.1"
pair_vision="torchvision==0.29.1"
pair=""
if [ -n "$want_vision" ] && [ "$(uname -m)" = x86_64 ] && ! command -v nvidia-smi >/dev/null 2>&1 \
   && [ -z "${NORMBENCH_TORCH_SPEC:-}" ] && [ -z "${NORMBENCH_TORCHVISION_SPEC:-}" ]; then
  pair=1
fi

# The installed version from its metadata (what pip pins), not torch.__version__ (a CUDA wheel says +cu130 there).
installed() {
  [ -x "$venv_python" ] && "$venv_python" -c "from importlib.metadata import version; print(version('$1'))" \
    2>/dev/null || true
}

if [ -n "${NORMBENCH_TORCH_SPEC:-}" ]; then
  spec="$NORMBENCH_TORCH_SPEC"
elif command -v nvidia-smi >/dev/null 2>&1; then
  spec="torch>=2.6"
elif [ -n "$pair" ]; then
  spec="$pair_torch"
else
  spec="torch==2.13.0"
fi
torch_now="$(installed torch)"

if [ -n "$plan" ]; then
  echo "normbench setup plan: torch: ${torch_now:-$spec}${torch_now:+ (installed: kept)}"
  if [ -n "$want_vision" ]; then
    echo "normbench setup plan: torchvision: the release built for torch (scripts/torchvision_spec.py)" \
         "${pair:+or else the pair $pair_torch $pair_vision }that loads, or an error"
  else
    echo "normbench setup plan: torchvision: the release built for torch, if one installs (a warning if it does not load)"
  fi
  echo "normbench setup plan: normbench: editable${mode:+ ($mode)}"
  exit 0
fi

if [ ! -x "$venv_python" ]; then
  "$python" -m venv .venv
fi
if ! "$venv_python" -c "import torch" 2>/dev/null; then
  echo "normbench setup: installing $spec" >&2
  "$venv_python" -m pip install --quiet "$spec"
fi

# torchvision: the release built for the installed torch (torch 2.X <-> torchvision 0.(X+15) for X >= 1), of
# the same build (+cpu stays +cpu), with torch pinned so pip never replaces it. NORMBENCH_TORCHVISION_SPEC overrides.
torch_version="$(installed torch)"
if [ -n "${NORMBENCH_TORCHVISION_SPEC:-}" ]; then
  vision_spec="$NORMBENCH_TORCHVISION_SPEC"
else
  vision_spec="$("$venv_python" "scripts/torchvision_spec.py" "$torch_version")"
fi
# The installed version from its metadata, not its import: a build that installs but cannot load beside this torch
# is reported below once, not reinstalled on every set-up.
installed_vision="$(installed torchvision)"
wanted_vision="${vision_spec#torchvision==}"
# Same release (the +cpu/+cuXXX label aside): kept, since the plain release is what an index without labelled
# builds offers (the fallback below).
if [ "${installed_vision%%+*}" != "${wanted_vision%%+*}" ]; then
  echo "normbench setup: installing $vision_spec (for torch $torch_version)" >&2
  # torch pinned to what is installed: a torchvision that would need another torch fails instead of replacing it.
  if ! "$venv_python" -m pip install --quiet "$vision_spec" "torch==$torch_version" 2>/dev/null; then
    # No build of that flavour on the configured index (e.g. no +cpu wheels): the plain release of the same version.
    plain="${vision_spec%%+*}"
    echo "normbench setup: $vision_spec is not on the package index; installing $plain" >&2
    "$venv_python" -m pip install --quiet "$plain" "torch==$torch_version" || [ -n "$want_vision" ]
  fi
fi
if ! "$venv_python" -c "import torchvision" 2>/dev/null && [ -n "$pair" ] \
   && [ "$torch_version" != "${pair_torch#torch==}" ]; then
  # torchvision asked for, and no loadable build for this torch: the pair that is on disk, replacing torch.
  echo "normbench setup: no torchvision loads with torch $torch_version here; installing $pair_torch" \
       "$pair_vision (replaces torch)" >&2
  "$venv_python" -m pip install --quiet "$pair_torch" "$pair_vision"
fi
if ! "$venv_python" -c "import torchvision" 2>/dev/null; then
  message="torchvision does not load with torch $(installed torch) (a build for another device, or none);"
  if [ -n "$want_vision" ]; then
    echo "normbench setup: error: $message set NORMBENCH_TORCHVISION_SPEC, or PIP_EXTRA_INDEX_URL to PyTorch's" \
         "index for your build" >&2
    exit 1
  fi
  echo "normbench setup: warning: $message model=torchvision is unavailable until a matching build is installed:" \
       "bash scripts/setup.sh vision" >&2
fi

target="."
[ "$mode" = "dev" ] && target=".[dev]"
"$venv_python" -m pip install --quiet -e "$target"
echo "normbench setup: ready (.venv/bin/normbench)" >&2
