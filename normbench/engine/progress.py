"""A live bar on a terminal, plain periodic log lines elsewhere (files, CI, parallel jobs, a terminal that
reports no width), or nothing."""

import logging
import os
import sys
import time

log = logging.getLogger("normbench")


class Progress:
    """Updated at the trainer's log points (not every step), with the latest train loss."""

    def __init__(self, total: int, start: int, enabled: bool, label: str):
        self.total, self.label = total, label
        self._bar = None
        self._every = max(1, total // 10)
        self._enabled = enabled
        self._started = time.perf_counter()
        self._first = self._reported = start
        if enabled and terminal_width(sys.stderr) > 0:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=start, desc=label, unit="step", dynamic_ncols=True, leave=False)

    def update(self, step: int, loss: float | None = None) -> None:
        if self._bar is not None:
            self._bar.update(step - self._bar.n)
            if loss is not None:
                self._bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        elif self._enabled and (step // self._every > self._reported // self._every or step == self.total):
            self._reported = step
            rate = (step - self._first) / max(time.perf_counter() - self._started, 1e-9)
            eta = (self.total - step) / rate if rate > 0 else float("nan")
            shown = f" loss {loss:.4f}" if loss is not None else ""
            log.info("%s: step %d/%d%s, %.0f steps/s, ETA %.0fs", self.label, step, self.total, shown, rate, eta)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def terminal_width(stream) -> int:
    """The columns of the terminal `stream` writes to; 0 for a file or pipe, and for a terminal that reports no
    width (a serial console, some CI and container terminals), where a bar sized to 0 columns would print nothing."""
    try:
        return os.get_terminal_size(stream.fileno()).columns if stream.isatty() else 0
    except (AttributeError, OSError, ValueError):  # a stream without a file descriptor (pytest's capture, StringIO)
        return 0
