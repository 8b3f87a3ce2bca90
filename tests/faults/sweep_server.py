"""A process that starts `normbench train` commands quickly and kills them with SIGKILL on request.

Importing torch, Hydra and normbench takes seconds on a busy 2-core machine; tens of killed sweeps would
spend most of their time importing. This server imports them once (never running any torch op, so forking
is safe), then for each request read from stdin forks a child that runs the real command line,
`normbench.cli.main.main(["train", ...])`, in a process group of its own, with stdout and stderr to a
file (stderr to a second file if the request names one). After `kill_after` seconds (counted from the start, or from the first time the text `clock_from`
appears in the log) it kills the whole group with os.killpg(SIGKILL) unless the command ended first; then
it answers on stdout, one JSON line per request:

  request:  {"argv": [...], "log": "/path/to/log", "kill_after": 0.7, "clock_from": "Launching"}
            (kill_after null: never kill; clock_from null: count from the start; optional: "err": "/path",
            "env": {...} the child's whole environment, as a fresh process given env= would have it)
  answer:   {"killed": true|false, "exit": code or -signal, "seconds": wall time}

The child is only reaped after the kill, so the process group killed is always the child's own.
"""

import json
import os
import signal
import sys
import time
from pathlib import Path

import torch  # noqa: F401  (imported here once, for every child)
import torch._dynamo  # noqa: F401  (the optimizer's first step would import it, and sympy: seconds)
import torch.utils.tensorboard  # noqa: F401  (the run's first SummaryWriter would import it: seconds)
import torch.utils.tensorboard.summary  # noqa: F401

import normbench.cli.main as cli_main
import normbench.cli.train  # noqa: F401  (Hydra app, schemas and resolvers, as `normbench train` loads them)
import normbench.engine.run  # noqa: F401  (what the task imports when it starts)


def _child(argv: list[str], log: str, err: str | None, env: dict | None) -> None:
    os.setsid()
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    os.dup2(os.open(log, flags, 0o644), 1)
    os.dup2(os.open(err, flags, 0o644) if err else 1, 2)
    code = 0
    try:
        cli_main.main(["train", *argv])
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _serve(request: dict) -> dict:
    started = time.monotonic()
    log = Path(request["log"])
    pid = os.fork()
    if pid == 0:
        _child(request["argv"], str(log), request.get("err"), request.get("env"))
    kill_after, marker = request.get("kill_after"), request.get("clock_from")
    if kill_after is None:  # nothing to watch for: wait without polling
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        return {"killed": False, "exit": code, "seconds": round(time.monotonic() - started, 3)}
    clock = None if marker else started  # with a marker, the delay counts from its first appearance in the log
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        now = time.monotonic()
        if clock is None and marker in _read(log):
            clock = now
        if kill_after is not None and clock is not None and now - clock >= kill_after:
            try:
                os.killpg(pid, signal.SIGKILL)  # the child and anything it started, at once
            except ProcessLookupError:
                pass  # it ended a moment ago: its exit status says how
            _, status = os.waitpid(pid, 0)
            break
        time.sleep(0.002)
    code = os.waitstatus_to_exitcode(status)
    return {"killed": code == -signal.SIGKILL, "exit": code, "seconds": round(time.monotonic() - started, 3)}


def _read(log: Path) -> str:
    try:
        return log.read_text(errors="replace")
    except OSError:
        return ""


def main() -> None:
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(_serve(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
