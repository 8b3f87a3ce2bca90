"""`normbench train` commands forked from tests/faults/sweep_server.py, a process that has imported torch,
Hydra and normbench once: each command is still a process of its own (its exit status, its stdout and stderr,
nothing left behind in the test's process) but starts in milliseconds instead of the seconds an import takes.

For tests about what a command does with its arguments. Tests about the interpreter's start itself (an
installed wheel, PYTHONPATH, a console script, signals sent to a fresh process) spawn `normbench` for real.
"""

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVER = REPO / "tests" / "faults" / "sweep_server.py"


class SweepServer:
    def __init__(self):
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.process = subprocess.Popen([sys.executable, str(SERVER)], env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert json.loads(self.process.stdout.readline()) == {"ready": True}

    def run(self, argv: list[str], log: Path, kill_after: float | None, clock_from: str | None = None,
            err: Path | None = None, env: dict | None = None) -> dict:
        request = {"argv": argv, "log": str(log), "kill_after": kill_after, "clock_from": clock_from,
                   "err": str(err) if err else None, "env": env}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def train(self, logs: Path, *argv: str, timeout: float | None = None) -> subprocess.CompletedProcess:
        """`normbench train ARGV` run to its end, as subprocess.run(..., capture_output=True, text=True,
        timeout=timeout) says it; its environment is this process's at the call, as a spawned command's is."""
        logs.mkdir(parents=True, exist_ok=True)
        out, err = logs / "stdout.log", logs / "stderr.log"
        command = ["normbench", "train", *argv]
        answer = self.run(list(argv), out, kill_after=timeout, err=err, env=dict(os.environ))
        if answer["killed"]:
            raise subprocess.TimeoutExpired(command, timeout, out.read_text(), err.read_text())
        return subprocess.CompletedProcess(command, answer["exit"], out.read_text(), err.read_text())

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)


_server: SweepServer | None = None


def server() -> SweepServer:
    """This test process's server, started at its first use and closed when the process ends."""
    global _server
    if _server is None:
        _server = SweepServer()
        atexit.register(_server.close)
    return _server


def train(*argv: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """`normbench train ARGV` forked from this process's server, its output kept in a directory of its own."""
    logs = Path(tempfile.mkdtemp(prefix="normbench-forked-"))
    try:
        return server().train(logs, *argv, timeout=timeout)
    finally:
        shutil.rmtree(logs, ignore_errors=True)
