"""Where a run's numbers go: TensorBoard (the live viewer) and metrics.csv (tidy long form, the record).

metrics.csv has one row per (step, split, metric): `step,split,metric,value`. TensorBoard gets the same
scalars as `split/metric` tags. Rows are buffered and written at log/eval points, never per step.
"""

import csv
import math
from pathlib import Path

from normbench.rundir.contract import METRICS, METRICS_HEADER


class MetricsLog:
    def __init__(self, run_dir: Path, resume_from_step: int | None = None):
        from torch.utils.tensorboard import SummaryWriter

        self.path = Path(run_dir) / METRICS
        if resume_from_step is None or not self.path.is_file():
            self.path.write_text(METRICS_HEADER + "\n")
        else:
            _truncate_after(self.path, resume_from_step)
        self._file = self.path.open("a", newline="")
        self._csv = csv.writer(self._file, lineterminator="\n")
        self._rows: list[tuple] = []
        # A large queue and explicit flushes at eval points: short or killed runs lose nothing logged before.
        self.writer = SummaryWriter(log_dir=str(run_dir), max_queue=1000, flush_secs=30,
                                    purge_step=resume_from_step)

    def scalar(self, step: int, split: str, metric: str, value: float, tensorboard: bool = True) -> None:
        self._rows.append((step, split, metric, value))
        if tensorboard:
            self.writer.add_scalar(f"{split}/{metric}", value, step)

    def per_step(self, first_step: int, split: str, metric: str, values: list[float]) -> None:
        """Consecutive per-step values (e.g. every step's train loss): each in metrics.csv, and their mean at
        the last of them in TensorBoard (a scalar per step would cost ~70 µs each in its writer)."""
        if not values:
            return
        self._rows.extend((first_step + i, split, metric, v) for i, v in enumerate(values))
        self.writer.add_scalar(f"{split}/{metric}", sum(values) / len(values), first_step + len(values) - 1)

    def hparams(self, hparams: dict, metrics: dict) -> None:
        """The run's hyperparameters with its final metrics, in the run's own event file (not a sub-run)."""
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        finite = {k: v for k, v in metrics.items() if v is not None and math.isfinite(v)}
        for summary in hparams_summary(hparams, finite):
            self.writer.file_writer.add_summary(summary)
        for key, value in finite.items():
            self.writer.add_scalar(key, value)

    def flush(self) -> None:
        self._csv.writerows(self._rows)
        self._rows.clear()
        self._file.flush()
        self.writer.flush()

    def close(self) -> None:
        self.flush()
        self._file.close()
        self.writer.close()


def _truncate_after(path: Path, step: int) -> None:
    """Drop rows logged after `step` (a resumed run logs them again), keeping the header."""
    lines = path.read_text().splitlines(keepends=True)
    kept = [lines[0]] + [line for line in lines[1:] if int(line.split(",", 1)[0]) <= step]
    path.write_text("".join(kept))
