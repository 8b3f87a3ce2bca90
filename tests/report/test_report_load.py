"""Finding and reading runs: statuses, reasons for unreadable runs, TensorBoard-only runs."""

import json

import numpy as np
import pytest

from normbench.report.discover import REPORT_MARKER, find_run_dirs
from normbench.report.load import load_runs, read_metrics_csv, read_metrics_files, steps_table


def _status(runs, fragment):
    row = runs[runs["run_id"].str.contains(fragment, regex=False)]
    assert len(row) == 1, f"expected one run matching {fragment}, got {row['run_id'].tolist()}"
    return row.iloc[0]


def test_run_dirs_found_at_any_depth_but_not_in_hidden_or_report_dirs(tmp_path, make_run):
    make_run(tmp_path / "a" / "b" / "c", norm="batch")
    make_run(tmp_path / "shallow", norm="layer")
    make_run(tmp_path / ".hidden", norm="group")
    report = tmp_path / "a" / "old-report"
    make_run(report, norm="rms")
    (report / REPORT_MARKER).write_text("")
    roots = {str(run.path.parent.parent.relative_to(tmp_path)) for run in find_run_dirs([tmp_path])}
    assert roots == {"a/b/c", "shallow"}  # each made as <root>/<experiment>/<run>
    kept = [run.path for run in find_run_dirs([tmp_path], exclude=[tmp_path / "shallow"])]
    assert len(kept) == 1 and kept[0].is_relative_to(tmp_path / "a" / "b" / "c")


def test_statuses_and_reasons(tmp_path, make_run):
    root = tmp_path / "results"
    make_run(root, norm="batch", seed=0)
    make_run(root, norm="batch", seed=1, status="diverged", diverged_step=120)
    make_run(root, norm="batch", seed=2, status="failed", error="ValueError: bad input")
    make_run(root, norm="batch", seed=3, summary=False)
    truncated = make_run(root, norm="batch", seed=4)
    (truncated / "summary.json").write_text((truncated / "summary.json").read_text()[:30])
    bad_csv = make_run(root, norm="batch", seed=5)
    (bad_csv / "metrics.csv").write_text("step,split,metric,value\n1,train,loss,0.5\n2,train,loss,oops\n")
    truncated_row = make_run(root, norm="batch", seed=6)
    with (truncated_row / "metrics.csv").open("a") as handle:
        handle.write("201,train,lo")
    wrong_header = make_run(root, norm="batch", seed=7)
    (wrong_header / "metrics.csv").write_text("a,b\n1,2\n")

    runs = load_runs([root]).runs
    assert _status(runs, "_s0")["status"] == "completed"
    assert _status(runs, "_s1")["status"] == "diverged"
    failed = _status(runs, "_s2")
    assert failed["status"] == "failed" and "ValueError: bad input" in failed["reason"]
    assert _status(runs, "_s3")["status"] == "incomplete"
    assert _status(runs, "_s4")["status"] == "unreadable"
    assert "summary.json: invalid JSON" in _status(runs, "_s4")["reason"]
    assert "metrics.csv" in _status(runs, "_s5")["reason"] and _status(runs, "_s5")["status"] == "unreadable"
    last_line = len((truncated_row / "metrics.csv").read_text().splitlines())  # the truncated row
    assert f"1 incomplete or non-finite rows (first at line {last_line})" in _status(runs, "_s6")["reason"]
    assert "header" in _status(runs, "_s7")["reason"]


def test_batched_csv_reading_equals_reading_each_file(tmp_path, make_run):
    rng = np.random.default_rng(1)
    paths = {}
    for seed in range(4):
        steps = np.arange(1, 301)
        curves = {"train/loss": (steps, rng.uniform(0.1, 2, 300)), "test/acc": (np.arange(0, 301, 50), rng.uniform(0, 1, 7))}
        paths[str(seed)] = make_run(norm="layer", seed=seed, curves=curves) / "metrics.csv"
    paths["bad"] = make_run(norm="layer", seed=9) / "metrics.csv"
    paths["bad"].write_text(paths["bad"].read_text() + "7,train,loss,1,extra\n")
    together = read_metrics_files(paths)
    assert "cannot be parsed" in str(together["bad"])
    for key in ("0", "1", "2", "3"):
        alone = read_metrics_csv(paths[key])
        assert sorted(together[key]) == sorted(alone) == ["test/acc", "train/loss"]
        for name in alone:
            np.testing.assert_array_equal(together[key][name][0], alone[name][0])
            np.testing.assert_array_equal(together[key][name][1], alone[name][1])


def test_same_run_found_twice_is_counted_once(tmp_path, make_run):
    run = make_run(tmp_path / "one", norm="batch")
    copy = tmp_path / "two" / "synthetic" / run.name
    copy.mkdir(parents=True)
    for name in ("summary.json", "metrics.csv"):
        (copy / name).write_bytes((run / name).read_bytes())
    loaded = load_runs([tmp_path])
    assert sorted(loaded.runs["status"]) == ["completed", "duplicate"]
    assert len(loaded.curves) == 1


def test_steps_table_holds_every_point(tmp_path, make_run):
    make_run(norm="batch", steps=120)
    loaded = load_runs([tmp_path / "results"])
    steps = steps_table(loaded.curves)
    train_loss = steps[(steps["split"] == "train") & (steps["metric"] == "loss")]
    assert train_loss["step"].tolist() == list(range(1, 121))
    assert set(steps["split"].cat.categories) == {"train", "test"}


# --- TensorBoard-only runs ---------------------------------------------------------------------------

POINTS = 10_050  # more than EventAccumulator's default 10,000-point reservoir for scalars


def _write_events(directory, hparams=True, points=POINTS, norm="batch", seed=0):
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams as hparams_summary

    writer = SummaryWriter(log_dir=str(directory), max_queue=100_000, flush_secs=3600)
    for step in range(1, points + 1):
        writer.add_scalar("train/loss", 1.0 / step, step)
    for step in (0, points):
        writer.add_scalar("test/acc", 0.5 if step == 0 else 0.8, step)
    if hparams:
        config = {"model": "mlp", "norm": norm, "data": "digits", "batch_size": 32, "optimizer": "sgd",
                  "lr": 0.1, "seed": seed}
        for summary in hparams_summary(config, {"hparam/final_test_acc": 0.8}):
            writer.file_writer.add_summary(summary)
        writer.add_scalar("hparam/final_test_acc", 0.8125)
    writer.close()


def test_tensorboard_only_run_is_read_with_every_point(tmp_path):
    run = tmp_path / "results" / "old" / "tb_run"
    _write_events(run)
    loaded = load_runs([tmp_path / "results"])
    record = loaded.runs.iloc[0]
    assert record["status"] == "completed" and record["source"] == "events"
    assert (record["norm"], record["batch_size"], record["lr"], record["data"]) == ("batch", 32, 0.1, "digits")
    assert record["experiment"] == "old"
    assert record["final_test_acc"] == pytest.approx(0.8125)  # from the hparam/ scalar, not test/acc
    steps, values = loaded.curves[record["run_id"]]["train/loss"]
    assert len(steps) == POINTS and steps[0] == 1 and steps[-1] == POINTS
    assert values[-1] == pytest.approx(1.0 / POINTS, rel=1e-6)
    assert "hparam/final_test_acc" not in loaded.curves[record["run_id"]]


def test_tensorboard_only_run_takes_its_config_from_hydra(tmp_path):
    run = tmp_path / "results" / "exp" / "hydra_run"
    _write_events(run, hparams=False, points=50)
    (run / ".hydra").mkdir()
    (run / ".hydra" / "config.yaml").write_text(
        "model:\n  name: rnn\n  cell: lstm\nnorm:\n  name: layer\ndata:\n  name: synthetic\nbatch_size: 8\n"
        "seed: 3\noptim:\n  name: adam\n  lr: 0.001\nexperiment: exp\n")
    record = load_runs([tmp_path / "results"]).runs.iloc[0]
    assert record["status"] == "completed"
    assert (record["model_label"], record["norm"], record["seed"], record["lr"]) == ("rnn-lstm", "layer", 3, 0.001)


def test_tensorboard_run_without_any_config_is_unreadable_for_grouping(tmp_path):
    _write_events(tmp_path / "results" / "exp" / "anonymous", hparams=False, points=20)
    record = load_runs([tmp_path / "results"]).runs.iloc[0]
    assert record["status"] == "unreadable"
    assert "cannot group it" in record["reason"]


def test_corrupt_event_file_is_unreadable_with_its_reason(tmp_path):
    run = tmp_path / "results" / "exp" / "broken"
    _write_events(run, points=200)
    event_file = next(run.glob("events.out.tfevents.*"))
    data = event_file.read_bytes()
    event_file.write_bytes(data[: len(data) // 2])  # a writer killed mid-record
    garbage = tmp_path / "results" / "exp" / "garbage"
    garbage.mkdir()
    (garbage / "events.out.tfevents.1.host").write_bytes(b"not an event file" * 20)
    runs = load_runs([tmp_path / "results"]).runs.set_index("run_id")
    for run_id in ("exp/broken", "exp/garbage"):
        assert runs.loc[run_id, "status"] == "unreadable"
        assert runs.loc[run_id, "reason"].startswith("corrupt event file events.out.tfevents.")


def test_tensorboard_groups_pool_seeds_of_one_config(tmp_path):
    for seed in range(2):
        _write_events(tmp_path / "results" / "exp" / f"s{seed}", points=30, seed=seed)
    runs = load_runs([tmp_path / "results"]).runs
    assert runs["group_hash"].nunique() == 1 and runs["config_hash"].nunique() == 2


def test_summary_json_of_the_wrong_shape(tmp_path, make_run):
    run = make_run(norm="batch")
    summary = json.loads((run / "summary.json").read_text())
    del summary["group_hash"]
    (run / "summary.json").write_text(json.dumps(summary))
    record = load_runs([tmp_path / "results"]).runs.iloc[0]
    assert record["status"] == "unreadable" and "missing group_hash" in record["reason"]
