"""What the report says: its sections as render blocks, built from the loaded runs, groups and claims."""

import numpy as np
import pandas as pd

from normbench.report.claims import ClaimResult, comparison_interval
from normbench.report.groups import SETTING, describe, settings, varying
from normbench.report.load import EVENTS_ONLY_NOTE, STATUS_ORDER
from normbench.report.render import Bullets, Heading, Image, Paragraph, Table
from normbench.report.run_metrics import EARLY_FRACTION, METRICS, TABLE_METRICS, format_effect
from normbench.report.stats import LEVEL
from normbench.rundir.contract import FINISHED

# --- number formatting -------------------------------------------------------------------------------

def format_number(value: float, column: str) -> str:
    """A metric value in its display unit: accuracies and rates in % with fixed decimals, others 3 s.f."""
    metric = METRICS[column]
    if value is None or not np.isfinite(value):
        return "–"
    value *= metric.scale
    return f"{value:.{metric.digits}f}" if metric.scale != 1 else f"{value:.3g}"


def format_mean_ci(mean: float, half: float, n: int, n_runs: int, column: str) -> str:
    """`mean ± half-width`, with `(n=k)` when fewer seeds than the group's runs have a value; n=1 gets no ±."""
    if n == 0 or not np.isfinite(mean):
        return "–"
    text = format_number(mean, column)
    if n >= 2 and np.isfinite(half):
        text += " ± " + format_number(half, column)
    if n < n_runs or n == 1:
        text += f" (n={n})"
    return text


# --- sections ----------------------------------------------------------------------------------------

def header_section(roots, options, runs: pd.DataFrame, generated_at: str) -> list:
    counts = runs["status"].value_counts()
    rows = [[status, str(int(counts.get(status, 0)))] for status in STATUS_ORDER if counts.get(status, 0)]
    blocks = [
        Heading("normbench report", 1),
        Paragraph(f"Runs under {', '.join(f'`{root}`' for root in roots)}; generated {generated_at}. "
                  f"Intervals are {LEVEL:.0%} Student-t intervals over seeds; only seeds of one configuration "
                  f"(one `group_hash`) are ever averaged. Spike threshold k = {options.spike_k:g} × the median of the "
                  f"previous {options.spike_window} steps; display smoothing (EMA weight) = {options.smooth:g}."),
        Heading("Runs by status"),
        Table(["status", "runs"], rows + [["total", str(len(runs))]]),
    ]
    events_only = (runs["note"] == EVENTS_ONLY_NOTE).sum()
    if events_only:
        blocks.append(Paragraph(f"{events_only} run(s) were read from TensorBoard events only: their train loss is "
                                "the mean of each log window, not per step, so their volatility and spike rate are "
                                "not comparable with per-step runs (they form their own groups)."))
    return blocks


def claims_section(results: list[ClaimResult]) -> list:
    blocks = [Heading("Claims"),
              Paragraph("Each claim is judged per model, on matched settings only (same experiment, data, batch size, "
                        "optimizer and learning rate; only the norm and the seed differ). Effect = mean over the "
                        "matched comparisons of mean(a) − mean(b) (claim 4: of the drops from the largest to the "
                        "smallest batch size), with its Welch 95% interval over seeds. supported / contradicted = the "
                        "interval excludes 0 on the claimed / the other side; inconclusive = it includes 0; not "
                        "covered = the runs lack the needed groups.")]
    if not results:
        return blocks + [Paragraph("No usable runs: no claim could be evaluated.")]
    rows = [[result.claim.id, result.claim.text, result.model, f"{result.claim.a} vs {result.claim.b}",
             format_effect(result.estimate, result.low, result.high, result.claim.metric), result.verdict,
             f"{result.used}/{len(result.comparisons)}" if result.comparisons else "0", result.note or ""]
            for result in results]
    blocks.append(Table(["id", "claim", "model", "a vs b", "effect a − b [95% CI]", "verdict", "comparisons used",
                         "note"], rows))
    detail_rows = []
    for result in results:
        for comparison in result.comparisons:
            low, high = comparison_interval(comparison)
            detail_rows.append([result.claim.id, result.model, comparison.label,
                                format_effect(comparison.estimate, low, high, result.claim.metric),
                                " / ".join(str(len(values)) for values, _ in comparison.terms)])
    if detail_rows:
        blocks += [Heading("Claim details: each matched comparison", 3),
                   Paragraph("Seeds per group: a / b (claim 4: a at the largest, a at the smallest, b at the largest, "
                             "b at the smallest batch size)."),
                   Table(["id", "model", "comparison", "effect a − b [95% CI]", "seeds per group"], detail_rows)]
    return blocks


def settings_section(groups: pd.DataFrame, usable: pd.DataFrame) -> list:
    blocks = [Heading("Results by setting"),
              Paragraph("Mean ± half-width of the 95% interval over seeds; (n=k) when fewer seeds than runs have a "
                        "value (e.g. diverged runs have no final accuracy); bold = best of the column (for gaps: "
                        "closest to 0). Rank = by final test accuracy.")]
    if groups.empty:
        return blocks + [Paragraph("No usable runs.")]
    columns = [column for column in TABLE_METRICS if f"{column}_n" in groups and groups[f"{column}_n"].sum() > 0]
    shown = [column for column in SETTING if column != "experiment" or "experiment" in varying(usable)]
    for values, rows in settings(groups):
        blocks.append(Heading(describe(values, shown), 3))
        blocks.append(_setting_table(rows.sort_values(["rank", "variant"], na_position="last"), columns))
    return blocks


def _setting_table(rows: pd.DataFrame, columns: list[str]) -> Table:
    header = ["rank", "norm", "runs", *[METRICS[column].label for column in columns],
              "seed std of test acc (pp) [range]"]
    table_rows, bold = [], set()
    for row in rows.itertuples(index=False):
        row = row._asdict()
        runs = f"{row['n_runs']}"
        if row["n_diverged"]:
            runs += f" ({row['n_diverged']} diverged, median step {row['median_diverged_step']:.0f})"
        cells = [f"{row['rank']:.0f}" if np.isfinite(row["rank"]) else "–", row["variant"], runs]
        cells += [format_mean_ci(row[f"{c}_mean"], row[f"{c}_half"], int(row[f"{c}_n"]), int(row["n_runs"]), c)
                  for c in columns]
        std, spread = row["seed_std_test_acc"], row["seed_range_test_acc"]
        cells.append("–" if not np.isfinite(std) else
                     f"{format_number(std, 'final_test_acc')} [{format_number(spread, 'final_test_acc')}]")
        table_rows.append(cells)
    for index, column in enumerate(columns):
        best = _best_rows(rows[f"{column}_mean"].to_numpy(dtype=float), METRICS[column].better)
        bold |= {(row_index, 3 + index) for row_index in best}
    return Table(header, table_rows, bold)


def _best_rows(means: np.ndarray, better: str) -> list[int]:
    finite = np.isfinite(means)
    if finite.sum() < 2 or not better:
        return []
    score = {"higher": -means, "lower": means, "zero": np.abs(means)}[better]
    best = np.nanmin(np.where(finite, score, np.nan))
    return [int(index) for index in np.flatnonzero(finite & (score == best))]


def figures_section(images: list[Image], skipped) -> list:
    blocks = [Heading("Figures")]
    blocks += images or [Paragraph("No figure could be drawn.")]
    if skipped:
        blocks += [Heading("Figures not drawn", 3),
                   Bullets([f"{skip.title}: skipped, {skip.reason}." for skip in skipped])]
    return blocks


def excluded_section(runs: pd.DataFrame) -> list:
    excluded = runs[~runs["status"].isin(FINISHED)].sort_values(["status", "run_id"])
    blocks = [Heading("Excluded runs"),
              Paragraph("Runs left out of every statistic, with the reason." if len(excluded)
                        else "None: every run found was used.")]
    if len(excluded):
        blocks.append(Table(["run", "status", "reason"],
                            [[row.run_id, row.status, row.reason or ""] for row in excluded.itertuples()]))
    noted = runs[runs["note"].notna() & runs["status"].isin(FINISHED)]
    if len(noted):
        blocks += [Heading("Notes on used runs", 3),
                   Table(["run", "note"], [[row.run_id, row.note] for row in noted.itertuples()])]
    return blocks


def definitions_section(options) -> list:
    return [Heading("Definitions"), Bullets([
        f"train loss at 10%: mean train loss over the steps within ±1% of the budget around {EARLY_FRACTION:.0%} "
        "of the budget (`max_steps`).",
        "final train loss: the run's summary value (mean train loss of its last log window).",
        "loss volatility: sample std of log(loss_t) − log(loss_{t−1}) over the last half of the run's steps.",
        f"spike rate: share of steps whose loss exceeds {options.spike_k:g} × the median of the previous "
        f"{options.spike_window} steps (steps with a full window only).",
        "grad-norm CV: std / mean of the logged gradient norm over the last half of the run.",
        "generalisation gap: final train accuracy − final test accuracy.",
        "BN train/eval gap: test accuracy with running statistics − with batch statistics, at the last step both "
        "were evaluated.",
        "seed std of test acc: sample std (and max − min) of final test accuracy across a configuration's seeds.",
        "divergence: runs stopped as diverged; they have no final values and count as 0% test accuracy in claim 5.",
        "Full formulas: docs/report.md in the normbench repository.",
    ])]

