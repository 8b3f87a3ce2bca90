"""A stop asked for by a signal (SIGTERM, Ctrl-C), taken at the next point where stopping is safe.

A handler that raises (KeyboardInterrupt) fires wherever the main thread happens to be; inside a `__del__`, a
garbage-collector or weakref callback Python prints the exception as "Exception ignored in ..." and drops it,
and the stop is lost (a SIGTERM sent right after a checkpoint write once let a run train on for 61,000 steps).
So the handler only records the request, as Lightning's SignalConnector and submitit do; the training loop
checks it before every step, and `run_experiment` and `build` before and after each long start-up step (data,
model, checkpoint), where `check()` raises KeyboardInterrupt: the run is recorded as `interrupted` as before.

A second signal raises at once (a stop not taken fast enough, e.g. during a long compile) and
gives the signal its previous handler back, so a third one acts as it would without normbench.

Torch-free: `normbench train` installs the handlers before anything heavy is imported.
"""

import signal
import threading
from contextlib import contextmanager

# What a run's summary and the command's last line call each signal (Ctrl-C as before this module existed).
_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class StopRequested:
    """Whether a signal asked this process to stop, and which one."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def __bool__(self) -> bool:
        return self.reason is not None

    def check(self) -> None:
        """Raise KeyboardInterrupt(reason) if a stop was asked for: call it where stopping is safe."""
        if self.reason is not None:
            raise KeyboardInterrupt(self.reason)

    def clear(self) -> None:
        self.reason = None

    @contextmanager
    def on_signals(self):
        """Within this block SIGTERM and Ctrl-C ask for a stop, where their handling is Python's default: a
        SIGTERM someone else handles (submitit in SLURM jobs) or a SIGINT that is ignored (a background job)
        is left as it is, as is any signal outside the main thread (where handlers cannot be set)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        defaults = {signal.SIGTERM: signal.SIG_DFL, signal.SIGINT: signal.default_int_handler}
        installed = {signum: signal.getsignal(signum) for signum, default in defaults.items()
                     if signal.getsignal(signum) is default}
        self.clear()
        for signum in installed:
            signal.signal(signum, self._handle)
        try:
            yield self
        finally:
            for signum, previous in installed.items():
                signal.signal(signum, previous)

    def _handle(self, signum: int, frame) -> None:
        name = _NAMES[signal.Signals(signum)]
        if self.reason is None:
            self.reason = name  # only a flag: nothing here may raise (see the module's docstring)
            return
        signal.signal(signum, signal.SIG_DFL if signum == signal.SIGTERM else signal.default_int_handler)
        raise KeyboardInterrupt(name)


STOP = StopRequested()  # the process's one: set by the handlers `normbench train` installs, checked by the engine
