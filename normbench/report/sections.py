"""What the report says: its sections as render blocks, built from the loaded runs, groups and claims."""

import numpy as np
import pandas as pd

from normbench.decide.stats import LEVEL, mean_ci, welch_contrast
from normbench.report.claims import ClaimResult, comparison_interval
from normbench.report.groups import SETTING, describe, settings, varying
from normbench.report.load import EVENTS_ONLY_NOTE, STATUS_ORDER
from normbench.report.recommend import (
    CLEAR,
    NO_DATA,
    Recommendation,
    distinguishable,
    relative_speed,
    tuned_lr_text,
)
from normbench.report.render import Bullets, Heading, Image, Paragraph, Table
from normbench.report.run_metrics import EARLY_FRACTION, METRICS, TABLE_METRICS, format_effect
from normbench.rundir.contract import FINISHED

# --- number formatting -------------------------------------------------------------------------------

def format_number(value: float, column: str) -> str:
    """A metric value in its display unit: accuracies and rates in % with fixed decimals, others 3 s.f."""
    metric = METRICS[column]
    if value is None or not np.isfinite(value):
        return "–"
    value *= metric.scale
    return f"{value:.{metric.digits}f}" if metric.scale != 1 else f"{value:.3g}"


CLIPPED = "†"  # marks an interval cut at the metric's range
CLIPPED_NOTE = (f"{CLIPPED} = the 95% interval reaches past the metric's possible values (accuracy 0–100%, rates and "
                "losses ≥ 0) and is shown clipped to them, as [low, high].")


def clipped_interval(mean: float, half: float, column: str) -> tuple[float, float, bool]:
    """(low, high, clipped): mean ± half cut to the metric's range; clipped says whether a side was cut."""
    metric = METRICS[column]
    low, high = mean - half, mean + half
    return max(low, metric.low), min(high, metric.high), bool(low < metric.low or high > metric.high)


def format_mean_ci(mean: float, half: float, n: int, n_runs: int, column: str) -> str:
    """`mean ± half-width`, or `mean [low, high]†` where the interval is clipped to the metric's range; with
    `(n=k)` when fewer seeds than the group's runs have a value; n=1 gets no interval."""
    if n == 0 or not np.isfinite(mean):
        return "–"
    text = format_number(mean, column)
    if n >= 2 and np.isfinite(half):
        low, high, clipped = clipped_interval(mean, half, column)
        text += (f" [{format_number(low, column)}, {format_number(high, column)}]{CLIPPED}" if clipped
                 else " ± " + format_number(half, column))
    if n < n_runs or n == 1:
        text += f" (n={n})"
    return text


# --- sections ----------------------------------------------------------------------------------------

def header_section(roots, options, runs: pd.DataFrame, generated_at: str) -> list:
    counts = runs["status"].value_counts()
    rows = [[status, str(int(counts.get(status, 0)))] for status in STATUS_ORDER if counts.get(status, 0)]
    blocks = [
        Heading("About these runs"),
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


def title_section() -> list:
    return [Heading("normbench report", 1)]


RULE_TEXT = ("Per comparison set (runs whose identities differ only in the norm, the seed and the tuned optimizer "
             "values), each norm is first taken at its own best tuned setting (learning rate, ...): the one with the "
             "best mean final validation accuracy over seeds, a diverged seed counting as 0%. The norm with the best "
             "mean wins only when its lead over the runner-up excludes 0 (Welch 95% interval over seeds). Otherwise "
             "there is no clear winner among the norms not distinguishable from the leader (those whose 90% interval "
             "of the difference lies within ±the equivalence margin are said to be equivalent on accuracy), and a "
             "tie-break picks one: stability first (lower divergence share; then lower loss volatility, then lower "
             "spike rate, each only where the Welch interval of the difference excludes 0), then a lower final "
             "validation loss, likewise. Speed (steps/s) is shown, never decided on: it is measured under whatever "
             "else ran. Test accuracy is shown for what was chosen and never decides. Full rule: docs/report.md.")


def recommendation_section(recommendations: list[Recommendation]) -> list:
    blocks = [Heading("Recommendation"), Paragraph(RULE_TEXT)]
    if not recommendations:
        return blocks + [Paragraph("No usable runs: nothing to recommend.")]
    on_validation = all(rec.metrics.on_validation for rec in recommendations)
    score = "val acc" if on_validation else "val acc (test for old runs)"
    header = ["setting", "use", "decision", "compared at", f"{score}, diverged = 0 (%) [95% CI]",
              "margin over runner-up (pp) [95% CI]", "test acc of the choice (%) [95% CI]", "diverged",
              "loss volatility", "spike rate (%)", "BN train/eval gap (pp)", "steps/s (× fastest), not deciding"]
    blocks.append(Table(header, [recommendation_row(rec) for rec in recommendations]))
    notes = sorted({rec.label for rec in recommendations if rec.note})
    if notes:
        blocks.append(Paragraph(f"Old runs: {'; '.join(notes)}: " + next(rec.note for rec in recommendations
                                                                        if rec.note) + "."))
    blocks.append(Paragraph("Stability record and speed are the recommended norm's at its chosen setting, means over "
                            "its seeds. " + CLIPPED_NOTE))
    for rec in recommendations:
        blocks += candidates_blocks(rec)
    return blocks


def recommendation_row(rec: Recommendation) -> list[str]:
    """One set's recommendation as table cells (display units; intervals clipped to the metric's range)."""
    if rec.decision == NO_DATA:
        return [rec.label, "–", rec.statement, *["–"] * 9]
    pick, score = rec.pick, rec.metrics.score
    margin = (format_difference(rec.margin, rec.margin_low, rec.margin_high, score) + f" vs {rec.runner_up}"
              if rec.runner_up else "–")
    speed, relative = pick.mean("steps_per_s"), relative_speed(rec)
    return [rec.label, _use(rec), rec.statement, tuned_lr_text(rec), format_seed_mean(pick, score), margin,
            format_seed_mean(pick, "final_test_acc_or_0"), f"{pick.n_diverged}/{pick.n_runs}",
            format_seed_mean(pick, "loss_volatility"), format_seed_mean(pick, "spike_rate"),
            format_seed_mean(pick, "bn_eval_gap"),
            "–" if not np.isfinite(speed) else f"{speed:.4g} ({relative:.2f}×)"]


def candidates_blocks(rec: Recommendation) -> list:
    """One set's norms, ranked by mean score, each against the recommended norm: the evidence behind it."""
    if rec.decision == NO_DATA:
        return [Heading(rec.label, 3), Paragraph(rec.statement + ".")]
    score = rec.metrics.score
    header = ["norm", f"{METRICS[score].label} [95% CI]", f"− {rec.norm} (pp) [95% CI]", "compared at lr",
              f"{rec.metrics.split} loss", "diverged", "loss volatility", "spike rate (%)",
              "test acc of the choice (%)", "BN train/eval gap (pp)", "steps/s (not deciding)"]
    rows = []
    for candidate in rec.candidates:
        acc = mean_ci(candidate.values[score])
        versus = "–"
        if candidate is not rec.pick:
            low, high = _welch_or_nan(candidate.values[score], rec.pick.values[score])
            versus = format_difference(acc.mean - rec.pick.mean(score), low, high, score)
        speed = candidate.mean("steps_per_s")
        rows.append([candidate.variant, format_seed_mean(candidate, score), versus, f"{candidate.lr:g}",
                     format_seed_mean(candidate, rec.metrics.loss), f"{candidate.n_diverged}/{candidate.n_runs}",
                     format_seed_mean(candidate, "loss_volatility"), format_seed_mean(candidate, "spike_rate"),
                     format_seed_mean(candidate, "final_test_acc_or_0"), format_seed_mean(candidate, "bn_eval_gap"),
                     "–" if not np.isfinite(speed) else f"{speed:.4g}"])
    text = rec.statement[0].upper() + rec.statement[1:] + "."
    if rec.note:
        text += f" Note: {rec.note}."
    return [Heading(rec.label, 3), Paragraph(text), Table(header, rows)]


def lr_stability_section(recommendations: list[Recommendation], tolerance: float) -> list:
    """Per comparison set that swept the learning rate: each norm's window, divergence and tuning cost."""
    swept = [rec for rec in recommendations if any(len(record.lrs) > 1 for record in rec.stability.values())]
    blocks = [Heading("Stability across learning rates"),
              Paragraph(f"Per norm, over the learning rates swept (at its chosen values of the other tuned settings). "
                        f"Trainable LR window: the longest run of consecutive swept learning rates around the norm's "
                        f"best at which no seed diverged and the mean validation accuracy (diverged = 0) is within "
                        f"{tolerance * 100:g} pp of its best, in decades = log10(high/low). Expected best after k "
                        "trials: Dodge et al. 2019, from the grid's per-learning-rate mean scores (k = 1: the grid's "
                        "mean; k = grid size: close to its best). Full formulas: docs/report.md.")]
    if not swept:
        return blocks + [Paragraph("No comparison set swept the learning rate.")]
    for rec in swept:
        header = ["norm", "chosen lr", "LR window", "diverged over the grid", "smallest diverging lr",
                  f"E[best {rec.metrics.split} acc] after 1 / 2 / all trials (%)"]
        rows = []
        for arm, record in rec.stability.items():
            best = record.expected_best
            picks = [best[0], best[min(1, len(best) - 1)], best[-1]] if len(best) else []
            rows.append([arm, f"{record.window.best_lr:g}", record.window.text,
                         f"{record.divergence_share:.0%}" if np.isfinite(record.divergence_share) else "–",
                         f"{record.smallest_diverging_lr:g}" if np.isfinite(record.smallest_diverging_lr) else "none",
                         " / ".join(format_number(value, "final_val_acc") for value in picks) or "–"])
        blocks += [Heading(rec.label, 3), Table(header, rows)]
        if rec.note:
            blocks.append(Paragraph(f"Windows and trials on test accuracy: {rec.note}."))
    return blocks


def _welch_or_nan(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    if len(a) < 2 or len(b) < 2:
        return np.nan, np.nan
    contrast = welch_contrast([(a, 1.0), (b, -1.0)])
    return contrast.low, contrast.high


def _use(rec: Recommendation) -> str:
    """The norm to use, marked when a tie-break chose it or nothing did."""
    if rec.decision == CLEAR:
        return rec.norm
    return f"{rec.norm} (tie-break)" if rec.decided_by else f"{rec.norm} (undecided)"


def format_seed_mean(candidate, column: str) -> str:
    values = candidate.values.get(column, np.array([]))
    if not len(values):
        return "–"
    ci = mean_ci(values)
    return format_mean_ci(ci.mean, ci.half_width, ci.n, candidate.n_runs, column)


def mixes_section(comparisons: list) -> list:
    """What each per-layer mix does against each of its parts run in every layer (nothing when no mix ran)."""
    if not comparisons:
        return []
    metrics = [effect.metric for effect in comparisons[0].effects]
    rows = [[comparison.setting, f"{comparison.mix} − {comparison.part}",
             *[f"{format_difference(e.estimate, e.low, e.high, e.metric)}: {e.reading}" for e in comparison.effects]]
            for comparison in comparisons]
    return [Heading("Per-layer mixes against their parts"),
            Paragraph("A network with a different norm per layer (e.g. `batch+layer`: BN in the first hidden layer, LN "
                      "in the second) against the same network with one of its norms in every layer: mean(mix) − "
                      "mean(part) over seeds with its Welch 95% interval; higher / lower where the interval excludes "
                      "0. " + CLIPPED_NOTE),
            Table(["setting", "mix − part", *[f"{METRICS[metric].label} [95% CI]" for metric in metrics]], rows)]


def format_difference(estimate: float, low: float, high: float, column: str) -> str:
    """`format_effect`, with the interval clipped to the range a difference of the metric can take
    (±100 pp for accuracies), marked † where clipped."""
    metric = METRICS[column]
    span = metric.high - metric.low
    clipped_low, clipped_high = max(low, -span), min(high, span)
    text = format_effect(estimate, clipped_low, clipped_high, column)
    return text + CLIPPED if np.isfinite(low) and (clipped_low > low or clipped_high < high) else text


def claims_section(results: list[ClaimResult]) -> list:
    blocks = [Heading("Claims"),
              Paragraph("Each claim is judged per model, on matched settings only (same comparison set and tuned "
                        "optimizer values, learning rate included; only the norm and the seed differ; claim 5 "
                        "compares trainable learning-rate windows within a comparison set). Effect = mean over the "
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
                        "value (e.g. diverged runs have no final accuracy); bold = best of the column, only where it "
                        "is distinguishable from every other row (Welch 95% interval of the difference excludes 0; "
                        "for gaps: closest to 0). Rank = by final validation accuracy (diverged = 0; test accuracy "
                        "for old "
                        "runs). Each table is one learning rate (one value of every tuned setting) of a comparison "
                        "set. " + CLIPPED_NOTE)]
    if groups.empty:
        return blocks + [Paragraph("No usable runs.")]
    columns = [column for column in TABLE_METRICS if f"{column}_n" in groups and groups[f"{column}_n"].sum() > 0]
    shown = [column for column in SETTING if column != "experiment" or "experiment" in varying(usable)]
    seeds = dict(tuple(usable.groupby("group", sort=False)))
    for values, rows in settings(groups):
        blocks.append(Heading(describe(values, shown), 3))
        blocks.append(_setting_table(rows.sort_values(["rank", "variant"], na_position="last"), columns, seeds))
    return blocks


def _setting_table(rows: pd.DataFrame, columns: list[str], seeds: dict) -> Table:
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
        values = [seeds[group][column].dropna().to_numpy(dtype=float) for group in rows["group"]]
        best = best_row(values, METRICS[column].better)
        if best is not None:
            bold.add((best, 3 + index))
    return Table(header, table_rows, bold)


def best_row(values: list[np.ndarray], better: str) -> int | None:
    """The row whose seed values are best on the metric, if its lead over every other row with values is
    distinguishable (Welch 95% interval excludes 0); None otherwise, or for a metric with no ranking."""
    if not better:
        return None
    oriented = [{"higher": v, "lower": -v, "zero": -np.abs(v)}[better] for v in values]
    rows = [index for index, v in enumerate(oriented) if len(v)]
    if len(rows) < 2:
        return None
    best = max(rows, key=lambda index: oriented[index].mean())
    others = [index for index in rows if index != best]
    return best if all(distinguishable(oriented[best], oriented[index]) for index in others) else None


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

