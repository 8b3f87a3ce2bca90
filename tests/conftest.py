"""Shared by every test: one data cache per session (MNIST-1D is generated once, offline)."""

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _session_data_cache(tmp_path_factory):
    if "NORMBENCH_CACHE" not in os.environ:
        os.environ["NORMBENCH_CACHE"] = str(tmp_path_factory.mktemp("normbench-cache"))
    yield
