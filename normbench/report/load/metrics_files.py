"""metrics.csv, the run's record of every logged value: one file, or hundreds at once."""

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd

from normbench.report.load.coverage import coverage_problem
from normbench.report.load.curves import split_curves
from normbench.report.load.record import Curves, UnreadableRun
from normbench.rundir.contract import (
    LOSS_METRIC,
    METRICS,
    METRICS_COLUMNS,
    METRICS_HEADER,
    STEP,
    TRAIN_SPLIT,
    value_range,
)

CSV_DTYPES = dict(zip(METRICS_COLUMNS, ("int64", "category", "category", "float64")))


def read_metrics_csv(path: Path, train_loss_through: int | None = None, budget: float = math.inf) -> Curves:
    """One metrics.csv; raises UnreadableRun saying what is wrong with it. With `train_loss_through`, its
    train loss must also cover steps 1..train_loss_through exactly once (report.load.coverage). Every step
    must lie in [0, budget] (the run's max_steps) and every value in its metric's range (the contract's)."""
    body = _metrics_body(path)
    if not body.strip():
        if train_loss_through:
            raise UnreadableRun(coverage_problem(np.array([], dtype=np.int64), train_loss_through))
        return {}
    try:
        frame = _parse(body)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise UnreadableRun(f"{METRICS}: cannot be parsed ({str(error).splitlines()[0]})") from None
    split, metric, values = _columns(frame)
    bad = _bad_rows(split, metric, values)
    if bad.any():
        raise UnreadableRun(_bad_rows_reason(bad))
    steps = frame["step"].to_numpy()
    if train_loss_through is not None:
        problem = coverage_problem(steps[_is_train_loss(split, metric)], train_loss_through)
        if problem:
            raise UnreadableRun(problem)
    outside = _outside_range(steps, split, metric, values, budget)
    if outside:
        raise UnreadableRun(outside)
    return split_curves(steps, split, metric, values)


def read_metrics_files(paths: dict[str, Path], train_loss_through: dict[str, int] | None = None,
                       budgets: dict[str, float] | None = None) -> dict[str, Curves | UnreadableRun]:
    """Many metrics.csv at once: run_id -> its curves, or the UnreadableRun saying why not.

    `train_loss_through` (run_id -> last step) makes a run whose train loss does not cover steps 1..that
    step exactly once unreadable too (report.load.coverage); runs not in it are not checked. A step outside
    [0, the run's budget] (`budgets`: run_id -> max_steps; unbounded where absent) or a value outside its
    metric's range makes a run unreadable as well.

    pandas' C parser has a fixed cost per call that dominates for hundreds of small files, so the files'
    bodies are joined into one buffer and parsed by one read_csv call; each row's run is known from the
    files' line counts. Any doubt (a parse error, a blank line) sends the files concerned through
    read_metrics_csv one by one, which finds and names the problem.
    """
    through, budgets = train_loss_through or {}, budgets or {}
    results, bodies = _bodies_to_join(paths, through, budgets)
    if not bodies:
        return results
    parsed = _parse_joined(bodies)
    if parsed is None:
        return {**results, **{run_id: _read_alone(paths[run_id], through.get(run_id), budgets.get(run_id, math.inf))
                              for run_id in bodies}}
    frame, counts = parsed
    return {**results, **_curves_by_run(frame, counts, list(bodies), through, budgets)}


def _bodies_to_join(paths: dict[str, Path], through: dict[str, int],
                    budgets: dict[str, float]) -> tuple[dict, dict[str, bytes]]:
    """(the results already known: files that cannot be read or were read alone, the bodies to parse together,
    each ending in a newline so that joined files never share a line)."""
    results, bodies = {}, {}
    for run_id, path in paths.items():
        try:
            body = _metrics_body(path)
        except UnreadableRun as error:
            results[run_id] = error
            continue
        if b"\n\n" in body or body.startswith(b"\n") or not body.strip():  # read alone: blank lines, no rows
            results[run_id] = _read_alone(path, through.get(run_id), budgets.get(run_id, math.inf))
        else:
            bodies[run_id] = body if body.endswith(b"\n") or not body else body + b"\n"
    return results, bodies


def _parse_joined(bodies: dict[str, bytes]) -> tuple[pd.DataFrame, np.ndarray] | None:
    """The joined bodies parsed by one read_csv call, with each body's row count; None if in doubt."""
    counts = np.array([body.count(b"\n") for body in bodies.values()])
    try:
        frame = _parse(b"".join(bodies.values()))
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError):
        return None
    if len(frame) != counts.sum():  # a row the parser merged or split: the files' rows cannot be told apart
        return None
    return frame, counts


def _curves_by_run(frame: pd.DataFrame, counts: np.ndarray, run_ids: list[str], through: dict[str, int],
                   budgets: dict[str, float]) -> dict:
    """The joined rows back to their runs: run_id -> its curves, or UnreadableRun for a run with a bad row, a
    step or value outside its range, or (for a run in `through`) a train loss that does not cover its steps."""
    split, metric, values = _columns(frame)
    steps = frame["step"].to_numpy()
    bad = _bad_rows(split, metric, values)
    train_loss = _is_train_loss(split, metric)
    starts = np.r_[0, np.cumsum(counts)]
    results = {}
    for index, run_id in enumerate(run_ids):
        rows = slice(starts[index], starts[index + 1])
        if bad[rows].any():
            results[run_id] = UnreadableRun(_bad_rows_reason(bad[rows]))
            continue
        problem = None if through.get(run_id) is None else coverage_problem(steps[rows][train_loss[rows]],
                                                                            through[run_id])
        problem = problem or _outside_range(steps[rows], split[rows], metric[rows], values[rows],
                                            budgets.get(run_id, math.inf))
        if problem:
            results[run_id] = UnreadableRun(problem)
    run_of_row = np.repeat(np.arange(len(run_ids)), counts)
    curves = split_curves(steps, split, metric, values, run_of_row)
    for index, run_id in enumerate(run_ids):
        if run_id not in results:
            results[run_id] = curves.get(index, {})
    return results


def _metrics_body(path: Path) -> bytes:
    """metrics.csv without its header line, which must be the contract's."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UnreadableRun(f"{METRICS}: cannot be read ({error})") from None
    header, _, body = data.partition(b"\n")
    if header.decode("utf-8", "replace").strip() != METRICS_HEADER:
        raise UnreadableRun(f"{METRICS}: header is {header[:60].decode('utf-8', 'replace')!r}, "
                            f"expected {METRICS_HEADER!r}")
    return body


def _parse(body: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(body), engine="c", header=None, names=list(CSV_DTYPES), dtype=CSV_DTYPES)


def _columns(frame: pd.DataFrame) -> tuple[pd.Categorical, pd.Categorical, np.ndarray]:
    return frame["split"].array, frame["metric"].array, frame["value"].to_numpy()


def _read_alone(path: Path, train_loss_through: int | None = None,
                budget: float = math.inf) -> Curves | UnreadableRun:
    try:
        return read_metrics_csv(path, train_loss_through, budget)
    except UnreadableRun as error:
        return error


def _is_train_loss(split: pd.Categorical, metric: pd.Categorical) -> np.ndarray:
    """Rows of the per-step train loss, compared by category code (no string comparison per row)."""
    split_code = _code(split, TRAIN_SPLIT)
    metric_code = _code(metric, LOSS_METRIC)
    if split_code is None or metric_code is None:
        return np.zeros(len(split), dtype=bool)
    return (split.codes == split_code) & (metric.codes == metric_code)


def _code(column: pd.Categorical, value: str) -> int | None:
    categories = list(column.categories)
    return categories.index(value) if value in categories else None


def _bad_rows(split: pd.Categorical, metric: pd.Categorical, values: np.ndarray) -> np.ndarray:
    """Rows with an empty field (a truncated line) or a non-finite value: the contract has neither."""
    return (split.codes < 0) | (metric.codes < 0) | ~np.isfinite(values)


def _outside_range(steps: np.ndarray, split: pd.Categorical, metric: pd.Categorical, values: np.ndarray,
                   budget: float) -> str | None:
    """Why some rows hold a step or a value outside the contract's range (naming the first), or None."""
    outside = ~STEP.holds(steps, budget)
    for code, name in enumerate(metric.categories):
        rule = value_range(str(name))
        if rule is not None:
            outside |= (metric.codes == code) & ~rule.holds(values, budget)
    if not outside.any():
        return None
    first = int(np.flatnonzero(outside)[0])
    name = str(metric[first])
    rule = value_range(name)
    what = (f"step {int(steps[first])} is not {STEP.describe(budget)}" if not STEP.holds(steps[first], budget)
            else f"{split[first]} {name} {values[first]:g} is not {rule.describe(budget)}")
    return f"{METRICS}: {int(outside.sum())} rows outside their range (first at line {first + 2}: {what})"


def _bad_rows_reason(bad: np.ndarray) -> str:
    return (f"{METRICS}: {int(bad.sum())} incomplete or non-finite rows "
            f"(first at line {int(np.flatnonzero(bad)[0]) + 2})")
