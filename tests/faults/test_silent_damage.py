"""Damage `normbench train` meets and must not pass over without a word: a finished run whose metrics.csv no
longer holds its record (skipped, but said, with how to re-train it), and a checkpoint refused for resumption
(one line saying why, then training from step 0). Commands run forked (tests/forked.py)."""

import json
import pickle

import pytest

from normbench.rundir.contract import CHECKPOINT, CHECKPOINT_SIDECAR, METRICS, SUMMARY

from .conftest import TINY

ARGS = [*TINY, "trainer.max_steps=20", "trainer.checkpoint_interval=10"]


@pytest.fixture
def train(forked_normbench, tmp_path):
    return lambda *args: forked_normbench.train(tmp_path / "logs", *ARGS, f"results_dir={tmp_path / 'results'}", *args)


@pytest.fixture
def run_dir(train, tmp_path):
    out = train()
    assert out.returncode == 0, out.stderr
    (found,) = (tmp_path / "results" / "default").iterdir()
    return found


def _truncate(text):
    return text[: len(text) // 2]


def _garbage(text):
    return text.splitlines()[0] + "\n\x00\x01garbage,,\n"


def _duplicated(text):  # five train-loss rows again (evaluation rows may come first: step 0's val and test)
    train_loss = [line for line in text.splitlines()[1:] if ",train,loss," in line]
    return text + "".join(line + "\n" for line in train_loss[:5])


def _value(word):
    def replace(text):
        lines = text.splitlines()
        step, split, metric, _ = lines[3].split(",")
        lines[3] = ",".join((step, split, metric, word))
        return "\n".join(lines) + "\n"
    return replace


@pytest.mark.parametrize("damage", [_truncate, _garbage, _duplicated, _value("nan"), _value("abc")],
                         ids=["truncated", "garbage", "duplicated", "nan", "abc"])
def test_a_finished_run_with_a_damaged_metrics_csv_is_skipped_with_a_line_saying_how_to_retrain_it(
        train, run_dir, damage):
    metrics = run_dir / METRICS
    metrics.write_text(damage(metrics.read_text()))
    summary = (run_dir / SUMMARY).read_text()
    out = train()
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stderr.splitlines() if "record is damaged" in line]
    assert len(lines) == 1 and run_dir.name in lines[0] and METRICS in lines[0], out.stderr
    assert "unreadable" in lines[0] and f"delete its {SUMMARY}" in lines[0] and "force=true" in lines[0]
    assert (run_dir / SUMMARY).read_text() == summary  # skipped: nothing changed

    (run_dir / SUMMARY).unlink()  # what the line says to do: the run is trained again, and then whole
    again = train()
    assert again.returncode == 0, again.stderr
    assert json.loads((run_dir / SUMMARY).read_text())["status"] == "completed"
    assert "record is damaged" not in train().stderr


def test_an_intact_finished_run_is_skipped_without_a_warning(train, run_dir):
    out = train()
    assert out.returncode == 0 and "record is damaged" not in out.stderr and "WARNING" not in out.stderr


def _interrupted(run_dir):
    """The run as a kill between its checkpoint and its end leaves it: no summary, metrics through step 10."""
    (run_dir / SUMMARY).unlink()
    metrics = run_dir / METRICS
    kept = [line for line in metrics.read_text().splitlines()[1:] if int(line.split(",")[0]) <= 10]
    metrics.write_text("step,split,metric,value\n" + "".join(line + "\n" for line in kept))


def _corrupt_sidecar(run_dir):
    (run_dir / CHECKPOINT).write_bytes(b"tensors")
    (run_dir / CHECKPOINT_SIDECAR).write_text('{"format": 2, "conf')


def _other_configuration(run_dir):
    (run_dir / CHECKPOINT).write_bytes(b"tensors")
    (run_dir / CHECKPOINT_SIDECAR).write_text(json.dumps({"format": 2, "config_hash": "0123456789ab", "step": 10}))


def _pickle_without_sidecar(run_dir):
    (run_dir / CHECKPOINT).write_bytes(pickle.dumps({"step": 10}))


@pytest.mark.parametrize("plant", [_corrupt_sidecar, _other_configuration, _pickle_without_sidecar],
                         ids=["corrupt-sidecar", "other-configuration", "pickle-without-sidecar"])
def test_a_checkpoint_refused_for_resumption_is_said_in_one_line(train, run_dir, plant):
    _interrupted(run_dir)
    plant(run_dir)
    out = train()
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stderr.splitlines() if "not resuming" in line]
    assert len(lines) == 1 and run_dir.name in lines[0] and "training from step 0" in lines[0], out.stderr
    summary = json.loads((run_dir / SUMMARY).read_text())
    assert summary["status"] == "completed" and summary["resumed_from_step"] is None
