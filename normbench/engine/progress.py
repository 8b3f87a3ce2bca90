"""A live bar on a terminal, plain periodic log lines elsewhere (files, CI, parallel jobs), or nothing."""

import logging
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
        if enabled and sys.stderr.isatty():
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
