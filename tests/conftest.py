"""Shared by every test: one data cache per test session (MNIST-1D is generated once, offline), and one torch
thread per test process.

The suite runs in two pytest-xdist workers on two cores (scripts/test.sh: -n 2). torch's default is a thread
per core in every process: two workers, each with two threads, plus their `normbench` subprocesses, make
tiny runs stall for their threads (a step's kernels wait for a core the other worker holds). One thread each
keeps the tests' tiny models as fast as they can be. Subprocesses inherit it; sweeps that test the launchers'
own thread share still set num_threads themselves.
"""

import os
import sys

import pytest

# Runs in this process with deterministic=true must be bit-reproducible on CUDA too: cuBLAS reads this when it
# starts, which in a test session may be before the first such run (normbench.engine.seeding sets it per run).
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # read by torch when it is imported, here and in every subprocess
if "torch" in sys.modules:  # a plugin imported it before this file: set its pool directly
    sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(scope="session", autouse=True)
def _session_data_cache(tmp_path_factory):
    if "NORMBENCH_CACHE" not in os.environ:
        os.environ["NORMBENCH_CACHE"] = str(_shared_cache_dir(tmp_path_factory))
    yield


def _shared_cache_dir(tmp_path_factory):
    """Under xdist every worker has its own base temp dir inside the session's: the workers share one cache
    there (its files are written atomically, so two workers generating the same data at once is harmless)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return tmp_path_factory.mktemp("normbench-cache")
    shared = tmp_path_factory.getbasetemp().parent / "normbench-cache"
    shared.mkdir(exist_ok=True)
    return shared


@pytest.fixture(scope="session")
def forked_normbench():
    """This test process's tests/faults/sweep_server.py: `.train(logs_dir, *argv)` forks `normbench train`."""
    from tests import forked

    return forked.server()
