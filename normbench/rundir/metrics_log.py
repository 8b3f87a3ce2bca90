"""Where a run's numbers go: metrics.csv (tidy long form, the record) and its sinks: TensorBoard (the live
viewer, normbench/rundir/tensorboard.py) and the selected experiment tracker (logger=wandb|mlflow,
normbench/trackers/), if any.

metrics.csv has one row per (step, split, metric): `step,split,metric,value`. Every sink gets the same
scalars, as `split/metric` tags, the same hyperparameters (given to each when it is made), and the same final
metrics and status (`finish`): the trainer logs to this one object, which fans out, so no tracker has a
logging path of its own in the training loop. Rows and points are buffered and handed out at log/eval points
(`flush`), never per step.

Durability: `sync()` writes every buffered row and event and fsyncs both files; the trainer calls it at
every checkpoint before the checkpoint is saved, so a checkpoint at step S always finds every row and event
of steps <= S on disk. A run resumed from that checkpoint first cuts metrics.csv back to exactly the rows
of steps <= S (a partial last row left by a kill or a full disk included), replacing the file atomically,
and its new event file purges, in TensorBoard's reading, every event of the earlier files after step S:
one row per step and one consistent curve, however often the run was killed.
"""

import csv
import math
import os
import time
from pathlib import Path
from typing import Protocol

from normbench.rundir.atomic import fsync_dir, fsync_file, open_no_link, write_text_atomic
from normbench.rundir.contract import EVENTS_PREFIX, LOSS_METRIC, METRICS, METRICS_COLUMNS, METRICS_HEADER, TRAIN_SPLIT
from normbench.rundir.tensorboard import TensorBoardSink

Point = tuple[int, str, float, float]  # (step, tag, value, wall time in seconds since the epoch)


class Sink(Protocol):
    """A viewer of the run's scalars: TensorBoard, or an experiment tracker (normbench/trackers/)."""

    def scalars(self, points: list[Point]) -> None: ...

    def finish(self, status: str, metrics: dict[str, float], step: int) -> None:
        """The run ended with `status` (contract.RUN_STATUSES); `metrics` are its finite final metrics."""

    def flush(self) -> None: ...

    def close(self) -> None: ...


class MetricsLog:
    def __init__(self, run_dir: Path, resume_from_step: int | None = None, hparams: dict | None = None,
                 trackers: tuple[Sink, ...] = ()):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / METRICS
        if resume_from_step is None:
            write_text_atomic(self.path, METRICS_HEADER + "\n")
        else:
            truncate_to_step(self.path, resume_from_step)
        # Opened without following a link: one swapped in after the atomic write above would be appended through.
        self._file = os.fdopen(open_no_link(self.path, os.O_WRONLY | os.O_APPEND), "a", newline="")
        self._csv = csv.writer(self._file, lineterminator="\n")
        self._rows: list[tuple] = []
        self._points: list[Point] = []
        # A resumed run's events of steps after its checkpoint (logged again now) are purged: purge_step is the
        # first step this attempt logs, since the checkpoint's own step was logged before it.
        purge_step = None if resume_from_step is None else resume_from_step + 1
        self.sinks: list[Sink] = [TensorBoardSink(self.run_dir, hparams or {}, purge_step), *trackers]

    def scalar(self, step: int, split: str, metric: str, value: float, tensorboard: bool = True) -> None:
        """One row of metrics.csv and, unless `tensorboard` is false, one point for every sink."""
        self._rows.append((step, split, metric, value))
        if tensorboard:
            self._points.append((step, f"{split}/{metric}", value, time.time()))

    def per_step(self, first_step: int, split: str, metric: str, values: list[float],
                 every_point: bool = False) -> None:
        """Consecutive per-step values (e.g. every step's train loss): each in metrics.csv, and for the sinks their
        mean at the last of them (a point per step would cost ~70 µs each in TensorBoard's writer), or with
        `every_point` each of them (a diverged run's last window: the curve up to divergence, step by step)."""
        if not values:
            return
        self._rows.extend((first_step + i, split, metric, v) for i, v in enumerate(values))
        now, tag = time.time(), f"{split}/{metric}"
        if every_point:
            self._points.extend((first_step + i, tag, v, now) for i, v in enumerate(values))
        else:
            self._points.append((first_step + len(values) - 1, tag, sum(values) / len(values), now))

    def finish(self, status: str, metrics: dict, step: int) -> None:
        """How the run ended: its final metrics (the finite ones) as points at `step`, its last step, then its
        status to every sink (TensorBoard's HParams session end info, a tracker's run state)."""
        finite = {key: value for key, value in metrics.items() if value is not None and math.isfinite(value)}
        now = time.time()
        self._points.extend((step, key, value, now) for key, value in finite.items())
        self.flush()
        for sink in self.sinks:
            sink.finish(status, finite, step)

    def flush(self) -> None:
        """Hand every buffered row and point on (metrics.csv and each sink) and flush them: survives a killed
        process, not a crashed machine."""
        self._csv.writerows(self._rows)
        self._rows.clear()
        self._file.flush()
        points, self._points = self._points, []
        for sink in self.sinks:
            if points:
                sink.scalars(points)
            sink.flush()

    def sync(self) -> None:
        """flush(), then fsync metrics.csv and the event files: what was logged so far survives a power cut."""
        self.flush()
        fsync_file(self.path)
        for path in self.run_dir.glob(f"{EVENTS_PREFIX}*"):
            fsync_file(path)
        fsync_dir(self.run_dir)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._file.close()
            for sink in self.sinks:
                sink.close()


def rows_through(path: Path, step: int) -> list[str] | None:
    """The rows of metrics.csv for steps <= `step`, as lines in file order; None if the file is missing or
    does not start with the contract's header.

    Only complete rows count: a last line without its newline (a kill or a full disk mid-write) and any
    line that is not `int,split,metric,value` are left out, so the next row never lands glued onto a fragment.
    """
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != METRICS_HEADER:
        return None
    kept = []
    for line in lines[1:]:
        fields = line.rstrip("\n").split(",")
        if not line.endswith("\n") or len(fields) != len(METRICS_COLUMNS) or not all(fields):
            continue
        try:
            if int(fields[0]) <= step:
                kept.append(line)
        except ValueError:
            continue
    return kept


def resume_problem(run_dir: Path, step: int) -> str | None:
    """Why metrics.csv cannot be continued from a checkpoint at `step` (None: it can): it must hold the
    train loss of every step 1..step exactly once, or the resumed run would have a hole or a repeat."""
    rows = rows_through(Path(run_dir) / METRICS, step)
    if rows is None:
        return f"{METRICS} is missing or has no {METRICS_HEADER!r} header"
    fields = (line.split(",") for line in rows)
    logged = sorted(int(step) for step, split, metric, _ in fields if (split, metric) == (TRAIN_SPLIT, LOSS_METRIC))
    if logged != list(range(1, step + 1)):
        return f"{METRICS} does not hold the train loss of steps 1..{step} exactly once ({len(logged)} rows)"
    return None


def record_problem(run_dir: Path, through: int) -> str | None:
    """Why a finished run's metrics.csv does not hold its record (None: it does): every row complete with a
    whole step and a finite value, and the train loss of each step 1..`through` exactly once. The same rule
    the report applies before it uses a run (report/load/coverage.py), so `train` never skips a run the
    report will list as unreadable without saying so."""
    path = Path(run_dir) / METRICS
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        return f"{METRICS} cannot be read ({type(error).__name__})"
    if not lines or lines[0] != METRICS_HEADER:
        return f"{METRICS} has no {METRICS_HEADER!r} header"
    train_loss = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split(",")
        try:
            step, value = int(fields[0]), float(fields[3])
        except (ValueError, IndexError):
            step, value = None, math.nan
        if len(fields) != len(METRICS_COLUMNS) or not all(fields) or not math.isfinite(value):
            return f"{METRICS} line {number} is not a complete row with a finite value ({line[:40]!r})"
        if (fields[1], fields[2]) == (TRAIN_SPLIT, LOSS_METRIC):
            train_loss.append(step)
    if sorted(train_loss) != list(range(1, through + 1)):
        return f"{METRICS} does not hold the train loss of steps 1..{through} exactly once ({len(train_loss)} rows)"
    return None


def truncate_to_step(path: Path, step: int) -> None:
    """Cut metrics.csv back to its complete rows of steps <= `step` (a resumed run logs the later ones
    again), replacing it atomically: a kill during the cut leaves the old file, never a half-cut one."""
    rows = rows_through(path, step)
    write_text_atomic(path, METRICS_HEADER + "\n" + "".join(rows or ()))
