#!/usr/bin/env bash
# Set up normbench with its test dependencies and run the whole test suite in two pytest-xdist workers
# (about 4 minutes on 2 cores; NORMBENCH_TEST_WORKERS=N picks another count, 0 runs it in one
# process; arguments go to pytest after ours, so an `-n 0` there wins too),
# then, as root on a machine with apt-get, the SLURM smoke test (scripts/slurm_smoke.sh: installs and starts
# a single-node SLURM on 127.0.0.1, about 1.5 minutes). NORMBENCH_SKIP_SLURM=1 skips the smoke test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
.venv/bin/ruff check .  # the linter configured in pyproject.toml: a finding fails the run
workers=()
if .venv/bin/python -c "import xdist" 2>/dev/null; then
  # --dist load: tests go to whichever worker is free; fixtures of module or session scope are made once per
  # worker that needs them, so every test stays independent of which worker runs it.
  workers=(-n "${NORMBENCH_TEST_WORKERS:-2}" --dist load)
fi
set +e
.venv/bin/python -m pytest "${workers[@]}" "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then  # pytest: no tests collected
  echo "scripts/test.sh: pytest collected no tests" >&2
  exit 1
fi

if [ -n "${NORMBENCH_SKIP_SLURM:-}" ]; then
  echo "scripts/test.sh: SLURM smoke test skipped (NORMBENCH_SKIP_SLURM is set)" >&2
elif [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "scripts/test.sh: SLURM smoke test skipped (needs root and apt-get; run scripts/slurm_smoke.sh as root)" >&2
else
  set +e
  bash scripts/slurm_smoke.sh
  smoke=$?
  set -e
  [ "$status" -eq 0 ] && status=$smoke
fi
exit "$status"
