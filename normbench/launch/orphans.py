"""A sweep's worker processes end when the sweep's process dies.

launcher=local runs jobs in joblib's loky worker processes. When the sweep's process is killed (SIGKILL, an OOM
kill, a closed session) nothing tells its workers: each kept training its job to the end, and loky started the
next, with nobody left to collect the results. So each job started in a process other than the sweep's starts (once
per process) a watchdog thread that notices its parent is gone — the process is then re-parented, and
os.getppid() changes — and ends the process as a kill would have: the run keeps its last checkpoint and its lock
is released by the OS, so running the sweep again resumes it.

Polling rather than prctl(PR_SET_PDEATHSIG): that signal fires when the *thread* that forked the worker ends, and
loky forks workers from its manager thread as well as from the main thread; polling is also portable (macOS).
"""

import os
import signal
import threading

SWEEP_PID_ENV = "NORMBENCH_SWEEP_PID"  # set by the sweep's own process (normbench.launch.tally) for its jobs
POLL_SECONDS = 1.0

_watching = False
_lock = threading.Lock()


def end_with_sweep() -> None:
    """In a sweep's worker process, end the process when its parent dies; nothing in the sweep's own process."""
    global _watching
    sweep_pid = os.environ.get(SWEEP_PID_ENV)
    if sweep_pid is None or sweep_pid == str(os.getpid()):
        return
    with _lock:
        if _watching:
            return
        _watching = True
    parent = os.getppid()
    threading.Thread(target=_watch, args=(parent,), name="normbench-parent-watchdog", daemon=True).start()


def _watch(parent: int) -> None:
    stop = threading.Event()
    while not stop.wait(POLL_SECONDS):
        if os.getppid() != parent:  # re-parented: the process that started this worker is gone
            os.kill(os.getpid(), signal.SIGKILL)
