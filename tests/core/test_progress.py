import logging

from normbench.engine.progress import Progress


def _updates(progress, steps):
    for step in steps:
        progress.update(step, loss=1.0 / step)
    progress.close()


def test_plain_log_lines_about_every_tenth_of_the_run_when_not_a_terminal(caplog):
    caplog.set_level(logging.INFO, logger="normbench")
    _updates(Progress(total=1000, start=0, enabled=True, label="run"), range(25, 1001, 25))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 10  # one per 10% of the budget, not one per log point (40 here)
    assert lines[-1].startswith("run: step 1000/1000 loss 0.0010") and "ETA" in lines[-1]


def test_progress_false_is_silent(caplog):
    caplog.set_level(logging.INFO, logger="normbench")
    _updates(Progress(total=1000, start=0, enabled=False, label="run"), range(25, 1001, 25))
    assert caplog.records == []


class _ZeroWidthTerminal:
    """stderr on a terminal that reports 0 columns."""

    def isatty(self):
        return True

    def fileno(self):
        return 2

    def write(self, text):
        return len(text)

    def flush(self):
        pass


def test_plain_log_lines_on_a_terminal_that_reports_no_width(caplog, monkeypatch):
    import os
    import sys

    monkeypatch.setattr(sys, "stderr", _ZeroWidthTerminal())
    monkeypatch.setattr(os, "get_terminal_size", lambda fd=None: os.terminal_size((0, 24)))
    caplog.set_level(logging.INFO, logger="normbench")
    progress = Progress(total=100, start=0, enabled=True, label="run")
    assert progress._bar is None  # a bar 0 columns wide prints nothing at all
    _updates(progress, range(10, 101, 10))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 10 and lines[-1].startswith("run: step 100/100")
    monkeypatch.setattr(os, "get_terminal_size", lambda fd=None: os.terminal_size((80, 24)))
    bar = Progress(total=100, start=0, enabled=True, label="bar")
    assert bar._bar is not None  # a terminal with a width keeps its live bar
    bar.close()
