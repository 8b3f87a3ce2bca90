"""After a SIGKILL of a launcher=local sweep's process, its loky worker processes end too (they kept training
their jobs before). Spawned for real: the test needs the sweep's own process tree."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .conftest import REPO, TINY


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    """Running or sleeping; a zombie (dead, not yet reaped by whoever adopted it) is not alive."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_the_workers_of_a_killed_local_sweep_end(tmp_path):
    results = tmp_path / "results"
    command = [sys.executable, "-m", "normbench.cli.main", "train", "-m", "launcher=local", "hydra.launcher.n_jobs=2",
               *TINY, "trainer.max_steps=10000000", "seed=0,1", f"results_dir={results}"]
    sweep = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def training_workers():
            workers = [pid for pid in _children(sweep.pid) if b"LokyProcess" in _command_line(pid)]
            started = len(list(results.glob("default/*/metrics.csv"))) == 2
            return workers if len(workers) == 2 and started else None

        workers = _wait_for(training_workers, 180, "two loky workers training")
        sweep.kill()
        sweep.wait(timeout=30)
        _wait_for(lambda: not any(_alive(pid) for pid in workers), 60, f"workers {workers} to end")
    finally:
        try:
            os.killpg(sweep.pid, signal.SIGKILL)  # whatever is left of the sweep's session (a failed test)
        except ProcessLookupError:
            pass
