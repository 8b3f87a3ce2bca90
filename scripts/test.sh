#!/usr/bin/env bash
# Set up normbench with its test dependencies and run the whole test suite (about 3-4 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then  # pytest: no tests collected
  echo "scripts/test.sh: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
