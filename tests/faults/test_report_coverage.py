"""The report uses a finished run only if its per-step train loss covers every step it trained, each once."""

import numpy as np
import pytest

from normbench.report.load import load_runs, read_metrics_csv
from normbench.report.load.record import UnreadableRun
from tests.report.synthetic import flat_curves, make_summary, write_run_dir

STEPS = 100


def _write(root, seed, loss_steps=None, status="completed", blank_line=False, **fields):
    """A run of seed `seed` whose train loss is logged at `loss_steps` (default: every step 1..STEPS)."""
    curves = flat_curves(STEPS)
    if loss_steps is not None:
        loss_steps = np.asarray(loss_steps)
        curves["train/loss"] = (loss_steps, np.ones(len(loss_steps)))
    fields.setdefault("steps", STEPS)
    summary = make_summary(status=status, seed=seed, max_steps=STEPS, final_train_loss=1.0, final_train_acc=0.9,
                           final_test_loss=1.0, final_test_acc=0.8, **fields)
    run = write_run_dir(root / "sweep" / summary["run_name"], summary, curves)
    if blank_line:  # a blank line sends the file down the one-by-one path instead of the joined parse
        text = (run / "metrics.csv").read_text()
        (run / "metrics.csv").write_text(text.replace("\n", "\n\n", 1))
    return run


def _row(runs, seed):
    row = runs[runs["run_id"].str.endswith(f"_s{seed}")]
    assert len(row) == 1
    return row.iloc[0]


@pytest.mark.parametrize("blank_line", [False, True], ids=["joined-parse", "one-by-one"])
def test_a_train_loss_with_gaps_truncation_duplicates_or_extra_steps_makes_the_run_unreadable(tmp_path, blank_line):
    root = tmp_path / "results"
    every = np.arange(1, STEPS + 1)
    _write(root, 0, blank_line=blank_line)  # complete: used
    _write(root, 1, np.r_[1:61, 71:STEPS + 1], blank_line=blank_line)  # rows 61..70 lost by a kill
    _write(root, 2, every[:90], blank_line=blank_line)  # cut short: the summary says 100 steps
    _write(root, 3, np.r_[every, 41:51], blank_line=blank_line)  # 41..50 appended twice after a resume
    _write(root, 4, np.r_[every, 101:111], blank_line=blank_line)  # steps past the summary's end
    _write(root, 5, np.r_[every[:30], 31, every[30:]], blank_line=blank_line)  # one step twice, in place
    loaded = load_runs([root])
    runs = loaded.runs

    assert _row(runs, 0)["status"] == "completed"
    assert _row(runs, 0)["run_id"] in loaded.curves
    expected = {
        1: "train loss missing at 10 of steps 1..100 (gaps: first missing step 61)",
        2: "train loss missing at 10 of steps 1..100 (cut short: first missing step 91)",
        3: "train loss logged more than once at 10 steps (first: step 41)",
        4: "train loss at 10 steps outside steps 1..100, which the summary reports (first: step 101)",
        5: "train loss logged more than once at 1 steps (first: step 31)",
    }
    for seed, reason in expected.items():
        row = _row(runs, seed)
        assert row["status"] == "unreadable", (seed, row["reason"])
        assert row["reason"] == f"metrics.csv: {reason}"
        assert row["run_id"] not in loaded.curves  # never used, not even partly


def test_a_diverged_run_covers_the_steps_before_it_diverged(tmp_path):
    root = tmp_path / "results"
    _write(root, 0, np.arange(1, 40), status="diverged", diverged_step=40, steps=40)  # 1..39: complete
    _write(root, 1, np.arange(1, 41), status="diverged", diverged_step=40, steps=40)  # a row at the diverged step
    _write(root, 2, np.arange(1, 30), status="diverged", diverged_step=40, steps=40)  # 30..39 missing
    _write(root, 3, np.arange(1, 40), status="diverged", diverged_step=None, steps=40)  # older summary: steps
    runs = load_runs([root]).runs
    assert _row(runs, 0)["status"] == "diverged" and _row(runs, 3)["status"] == "diverged"
    assert _row(runs, 1)["status"] == "unreadable"
    assert "outside steps 1..39" in _row(runs, 1)["reason"]
    assert _row(runs, 2)["status"] == "unreadable"
    assert "missing at 10 of steps 1..39 (cut short" in _row(runs, 2)["reason"]


def test_a_finished_run_whose_summary_gives_no_steps_is_unreadable(tmp_path):
    root = tmp_path / "results"
    _write(root, 0, steps=None)
    row = _row(load_runs([root]).runs, 0)
    assert row["status"] == "unreadable"
    assert row["reason"] == "summary.json: a completed run without a whole number of steps (None): its curves cannot be checked"


def test_failed_and_incomplete_runs_are_not_held_to_coverage(tmp_path):
    root = tmp_path / "results"
    _write(root, 0, np.arange(1, 11), status="failed", error="RuntimeError: boom", steps=10)
    run = _write(root, 1, np.arange(1, 11))
    (run / "summary.json").unlink()
    runs = load_runs([root]).runs
    assert _row(runs, 0)["status"] == "failed"
    assert _row(runs, 1)["status"] == "incomplete"


def test_read_metrics_csv_checks_coverage_when_asked(tmp_path):
    run = _write(tmp_path, 0, np.r_[1:51, 52:STEPS + 1])
    assert "train/loss" in read_metrics_csv(run / "metrics.csv")  # unchanged without an expectation
    with pytest.raises(UnreadableRun, match=r"missing at 1 of steps 1..100 \(gaps: first missing step 51\)"):
        read_metrics_csv(run / "metrics.csv", train_loss_through=STEPS)
