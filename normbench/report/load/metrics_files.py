"""metrics.csv, the run's record of every logged value: one file, or hundreds at once."""

import io
from pathlib import Path

import numpy as np
import pandas as pd

from normbench.report.load.curves import split_curves
from normbench.report.load.record import Curves, UnreadableRun
from normbench.rundir.contract import METRICS, METRICS_COLUMNS, METRICS_HEADER

CSV_DTYPES = dict(zip(METRICS_COLUMNS, ("int64", "category", "category", "float64")))


def read_metrics_csv(path: Path) -> Curves:
    """One metrics.csv; raises UnreadableRun saying what is wrong with it."""
    body = _metrics_body(path)
    if not body.strip():
        return {}
    try:
        frame = _parse(body)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise UnreadableRun(f"{METRICS}: cannot be parsed ({str(error).splitlines()[0]})") from None
    split, metric, values = _columns(frame)
    bad = _bad_rows(split, metric, values)
    if bad.any():
        raise UnreadableRun(_bad_rows_reason(bad))
    return split_curves(frame["step"].to_numpy(), split, metric, values)


def read_metrics_files(paths: dict[str, Path]) -> dict[str, Curves | UnreadableRun]:
    """Many metrics.csv at once: run_id -> its curves, or the UnreadableRun saying why not.

    pandas' C parser has a fixed cost per call that dominates for hundreds of small files, so the files'
    bodies are joined into one buffer and parsed by one read_csv call; each row's run is known from the
    files' line counts. Any doubt (a parse error, a blank line) sends the files concerned through
    read_metrics_csv one by one, which finds and names the problem.
    """
    results, bodies = _bodies_to_join(paths)
    if not bodies:
        return results
    parsed = _parse_joined(bodies)
    if parsed is None:
        return {**results, **{run_id: _read_alone(paths[run_id]) for run_id in bodies}}
    frame, counts = parsed
    return {**results, **_curves_by_run(frame, counts, list(bodies))}


def _bodies_to_join(paths: dict[str, Path]) -> tuple[dict, dict[str, bytes]]:
    """(the results already known: files that cannot be read or were read alone, the bodies to parse together,
    each ending in a newline so that joined files never share a line)."""
    results, bodies = {}, {}
    for run_id, path in paths.items():
        try:
            body = _metrics_body(path)
        except UnreadableRun as error:
            results[run_id] = error
            continue
        if b"\n\n" in body or body.startswith(b"\n"):  # blank lines: read alone (pandas skips them there)
            results[run_id] = _read_alone(path)
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


def _curves_by_run(frame: pd.DataFrame, counts: np.ndarray, run_ids: list[str]) -> dict:
    """The joined rows back to their runs: run_id -> its curves, or UnreadableRun for a run with a bad row."""
    split, metric, values = _columns(frame)
    bad = _bad_rows(split, metric, values)
    starts = np.r_[0, np.cumsum(counts)]
    results = {}
    for index, run_id in enumerate(run_ids):
        rows = slice(starts[index], starts[index + 1])
        if bad[rows].any():
            results[run_id] = UnreadableRun(_bad_rows_reason(bad[rows]))
    run_of_row = np.repeat(np.arange(len(run_ids)), counts)
    curves = split_curves(frame["step"].to_numpy(), split, metric, values, run_of_row)
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


def _read_alone(path: Path) -> Curves | UnreadableRun:
    try:
        return read_metrics_csv(path)
    except UnreadableRun as error:
        return error


def _bad_rows(split: pd.Categorical, metric: pd.Categorical, values: np.ndarray) -> np.ndarray:
    """Rows with an empty field (a truncated line) or a non-finite value: the contract has neither."""
    return (split.codes < 0) | (metric.codes < 0) | ~np.isfinite(values)


def _bad_rows_reason(bad: np.ndarray) -> str:
    return (f"{METRICS}: {int(bad.sum())} incomplete or non-finite rows "
            f"(first at line {int(np.flatnonzero(bad)[0]) + 2})")
