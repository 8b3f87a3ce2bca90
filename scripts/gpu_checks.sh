#!/usr/bin/env bash
# Every check of issue 11 that needs a CUDA GPU, as one prepared run (a session lent a GPU has ~15 minutes):
#   1. the GPU-only tests (CUDA graphs: loss curve vs eager, resume, fallbacks, no host sync between log
#      points; bench's CUDA columns) and the tests that compare runs for equality (deterministic on CUDA);
#   2. `normbench bench --device cuda`: bare eager, bare CUDA-graph loop, normbench eager and with graphs;
#   3. scripts/bench_gpu_sweep.py: runs per minute at one job per GPU and at launcher=local's choice.
# Each step has its own time limit and writes its output under $OUT (the device tool brings $OUT back), so
# a slow step costs only itself. From the repository root, on the device machine, with the wheels of the
# packages it lacks in .whl/ (hydra-core, omegaconf, antlr4-python3-runtime, the hydra launchers, submitit,
# mnist1d; see docs/sweeps.md "Several runs per GPU"):
#   bash scripts/gpu_checks.sh            (device run: carry [".whl"], timeout_s 600)
set -uo pipefail
OUT=${OUT:-/tmp/normbench-gpu-checks}
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "gpu_checks: installing .whl/ failed" >&2; exit 1; }
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1
# The tests and benchmarks call `normbench`: the checkout's CLI, without installing the package.
mkdir -p /tmp/normbench-bin
printf '#!/bin/sh\nexec python3 -m normbench.cli.main "$@"\n' >/tmp/normbench-bin/normbench
chmod +x /tmp/normbench-bin/normbench
export PATH=/tmp/normbench-bin:$PATH

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
} 2>&1 | tee "$OUT/machine.txt"

timeout 240 python3 -m pytest -q -o addopts="" -p no:cacheprovider -n 4 -rs \
  tests/core/test_cuda_graphs.py tests/core/test_bench.py tests/core/test_precision.py \
  tests/core/test_compile_choice.py tests/sweeps/test_sweep_resume.py tests/sweeps/test_local_gpu_jobs.py \
  2>&1 | tee "$OUT/tests.txt"

timeout 180 normbench bench --device cuda --steps 300 --repeats 2 --cases mlp:batch mlp:layer cnn:batch cnn:layer \
  rnn:batch rnn:layer 2>&1 | tee "$OUT/bench.txt"

timeout 150 python3 scripts/bench_gpu_sweep.py --runs 16 --steps 500 2>&1 | tee "$OUT/gpu_sweep.txt"
