"""Shared by every test: one data cache per session (MNIST-1D is generated once, offline)."""

import os

import pytest

# Runs in this process with deterministic=true must be bit-reproducible on CUDA too: cuBLAS reads this when it
# starts, which in a test session may be before the first such run (normbench.engine.seeding sets it per run).
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


@pytest.fixture(scope="session", autouse=True)
def _session_data_cache(tmp_path_factory):
    if "NORMBENCH_CACHE" not in os.environ:
        os.environ["NORMBENCH_CACHE"] = str(tmp_path_factory.mktemp("normbench-cache"))
    yield
