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
