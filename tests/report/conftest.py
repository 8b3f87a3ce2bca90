"""Synthetic run directories for the report's tests, written in the trainer's contract.

Curves are built so that each test knows its answer by construction (flat losses, exact spikes,
chosen final accuracies), never by running the code under test.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from tests.report.synthetic import flat_curves, make_summary, realistic_run, write_run_dir


@pytest.fixture
def make_run(tmp_path):
    """make_run(norm=..., seed=..., loss=..., test_acc=..., **summary fields) -> run directory.

    Writes results/<experiment>/<run_name>/ with summary.json and metrics.csv of flat curves;
    `curves=` replaces the curves, `summary=False` leaves summary.json out (an incomplete run).
    """

    def make(root: Path | None = None, *, loss: float = 1.0, test_acc: float = 0.8, curves: dict | None = None,
             summary: bool = True, steps: int = 200, name: str | None = None, **fields) -> Path:
        root = Path(root or tmp_path / "results")
        fields.setdefault("steps", steps)
        fields.setdefault("max_steps", steps)
        if fields.get("status", "completed") == "completed":
            fields.setdefault("final_train_loss", loss)
            fields.setdefault("final_train_acc", 0.9)
            fields.setdefault("final_test_loss", loss)
            fields.setdefault("final_test_acc", test_acc)
        record = make_summary(**fields)
        if curves is None:  # a diverged run logs the train loss of the steps before the one that diverged only
            diverged_step = fields.get("diverged_step") if fields.get("status") == "diverged" else None
            curves = flat_curves(diverged_step - 1 if diverged_step else steps, loss, test_acc)
        directory = root / record["experiment"] / (name or record["run_name"])
        return write_run_dir(directory, record if summary else None, curves)

    return make


@pytest.fixture(scope="session")
def realistic_results(tmp_path_factory) -> Path:
    """A small but complete sweep: 2 models × 3 norms × 2 batch sizes × 2 lrs × 3 seeds, with probes,
    plus one failed, one incomplete and one corrupt run."""
    root = tmp_path_factory.mktemp("realistic") / "results"
    for model in ("mlp", "cnn"):
        for norm in ("none", "batch", "layer"):
            for batch_size in (16, 128):
                for lr in (0.01, 0.1):
                    for seed in range(3):
                        summary, curves = realistic_run(norm, batch_size, lr, seed, 600, model=model,
                                                        eval_interval=100, log_interval=25, probe_interval=100)
                        write_run_dir(root / "sweep" / summary["run_name"], summary, curves)
    failed = make_summary(status="failed", error="RuntimeError: CUDA out of memory", norm="group", seed=9)
    write_run_dir(root / "sweep" / "failed_run", failed, None)
    write_run_dir(root / "sweep" / "killed_run", None, {"train/loss": (np.arange(1, 11), np.ones(10))})
    corrupt = root / "sweep" / "corrupt_summary"
    corrupt.mkdir(parents=True)
    (corrupt / "summary.json").write_text(json.dumps(make_summary(norm="layer"))[:40])
    return root
