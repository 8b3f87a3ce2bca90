"""Common claims about normalization, as data, and their verdicts on the runs in hand.

A claim compares a metric between two norms (`a` and `b`) in *matched settings*: runs that differ only
in the norm and the seed (same experiment, model, data, batch size, optimizer, learning rate). For each
model, the effect is the mean over its matched settings of the per-setting difference of seed means,
mean(a) − mean(b), with a Welch interval over the seeds (see docs/report.md). The verdict:
  supported     the interval excludes 0 on the claimed side
  contradicted  the interval excludes 0 on the other side
  inconclusive  the interval includes 0 (or fewer than two seeds per group: no interval exists)
  not covered   the runs lack the groups the claim needs
Adding a claim is one more `Claim(...)` in CLAIMS.

Claims about one kind of model name it (`model="transformer"`): judged per label of that model only (the
Transformer's labels carry the norm position, `transformer-pre`, `transformer-post`), and left out of a report
without runs of it, as every claim is for a model that was not run. The warm-up claim (compare="warmup_drop")
compares the two norm positions of one model instead of two norms: see `_warmup_comparisons`.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from normbench.decide.comparable import COMPARISON, comparison_sets
from normbench.decide.lr_stability import lr_grid, lr_stability
from normbench.decide.selection import FALLBACK_NOTE, choose_per_arm, decision_metrics
from normbench.decide.stats import LEVEL, welch_contrast
from normbench.report.groups import SETTING, describe, series_along
from normbench.report.run_metrics import METRICS, format_effect
from normbench.rundir.contract import optimizer_name

SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_COVERED = "supported", "contradicted", "inconclusive", "not covered"


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    metric: str  # a per-run metric column (run_metrics.METRICS)
    a: str  # the norm the claim is about
    b: str  # the norm it is compared with
    direction: str  # "lower" or "higher": the claim says a's metric is lower/higher than b's
    # "setting": a vs b within each matched setting. "batch_size_drop": compare the drops
    # metric(largest batch size) − metric(smallest batch size) of a and b, within each series of settings
    # that differ only in batch size (needs at least two batch sizes run with both norms). "lr_window": the upper
    # edges of a's and b's trainable learning-rate windows, log10(high_a) − log10(high_b), per comparison set
    # in which both swept at least two learning rates (see _window_comparisons).
    compare: str = "setting"
    # "all" learning rates, or only the "largest" one of each series of settings differing only in lr
    # (needs at least two learning rates run with both norms).
    lr: str = "all"
    # Only runs of this model ("" = every model), judged per label of it.
    model: str = ""
    # compare="warmup_drop": a and b are two variants (norm positions) of `model`, all with norm `norm`; the
    # effect is drop(a) − drop(b), drop = metric with warm-up − metric without, at the largest lr that trains.
    norm: str = ""


CLAIMS = (
    Claim("1", "BN reaches a lower train loss than LN early in training (at 10% of the budget)",
          "early_train_loss", "batch", "layer", "lower"),
    Claim("2", "BN's loss fluctuates more than LN's late in training (loss volatility, last half)",
          "loss_volatility", "batch", "layer", "higher"),
    Claim("3", "LN ends at a lower training loss than BN", "final_train_loss", "layer", "batch", "lower"),
    Claim("4a", "BN's test accuracy degrades at small batch sizes while LN's does not (drop from the largest to "
          "the smallest batch size, BN − LN)", "final_test_acc", "batch", "layer", "higher",
          compare="batch_size_drop"),
    Claim("4b", "BN's test accuracy degrades at small batch sizes while GN's does not (drop from the largest to "
          "the smallest batch size, BN − GN)", "final_test_acc", "batch", "group", "higher",
          compare="batch_size_drop"),
    # Ioffe & Szegedy 2015, sec. 3.3; Bjorck et al. 2018. The window: decide.window (validation accuracy, diverged
    # seeds = 0, within the window tolerance of the norm's best, no seed diverged).
    Claim("5", "BN tolerates larger learning rates than no normalization (upper edge of the trainable learning-rate "
          "window, in decades)", "lr_window_high", "batch", "none", "higher", compare="lr_window"),
    Claim("6", "BN smooths the loss landscape (smaller probe loss variation than no normalization)",
          "probe_loss_variation", "batch", "none", "lower"),
    # Xiong et al. 2020: Post-LN's gradients near the output are large at initialization, so it needs warm-up.
    Claim("7", "Post-LN needs learning-rate warm-up; Pre-LN does not (drop in final test accuracy, diverged = 0, "
          "when warm-up is removed, Post-LN − Pre-LN, at the largest learning rate that trains with warm-up)",
          "final_test_acc_or_0", "post", "pre", "higher", compare="warmup_drop", model="transformer", norm="layer"),
    # Shen et al. 2020 (PowerNorm): naive BN in Transformers trains worse than LN.
    Claim("8", "BN trains Transformers worse than LN (final test accuracy, LN − BN)", "final_test_acc", "layer",
          "batch", "higher", model="transformer"),
)

# "Trains" for claim 7: seeds' mean accuracy (diverged = 0) at least this many times chance (1 / classes).
TRAINS_OVER_CHANCE = 2.0


@dataclass
class Comparison:
    """One matched comparison: a signed sum of group means (+1 for a, −1 for b; four terms for drops)."""

    label: str
    terms: list  # [(seed values, coefficient)]

    @property
    def estimate(self) -> float:
        if self.min_n == 0:  # a group none of whose runs has the metric (e.g. all diverged)
            return math.nan
        return float(sum(coefficient * np.mean(values) for values, coefficient in self.terms))

    @property
    def min_n(self) -> int:
        return min(len(values) for values, _ in self.terms)


@dataclass
class ClaimResult:
    claim: Claim
    model: str
    verdict: str
    estimate: float = math.nan  # a − b (or drop(a) − drop(b)), in the metric's own units
    low: float = math.nan
    high: float = math.nan
    comparisons: list = field(default_factory=list)  # the matched comparisons found
    used: int = 0  # how many of them entered the interval (each group with >= 2 seeds)
    note: str = ""


def evaluate_claims(usable: pd.DataFrame, claims=CLAIMS, level: float = LEVEL) -> list[ClaimResult]:
    """Every claim for every model (claims are judged per model, never pooled across models)."""
    name_experiment = usable["experiment"].nunique() > 1
    results = []
    for claim in claims:
        runs = usable[usable["model"] == claim.model] if claim.model else usable
        if runs.empty:
            continue
        if claim.compare == "warmup_drop":  # one verdict for the model: it compares the model's own variants
            results.append(evaluate_claim(claim, runs, claim.model, level, name_experiment))
        else:
            results += [evaluate_claim(claim, runs[runs["model_label"] == model], model, level, name_experiment)
                        for model in sorted(runs["model_label"].unique())]
    return results


def evaluate_claim(claim: Claim, runs: pd.DataFrame, model: str, level: float = LEVEL,
                   name_experiment: bool = False) -> ClaimResult:
    """One claim on one model's runs."""
    if claim.compare == "lr_window":
        return _window_claim(claim, runs, model, name_experiment)
    metric = METRICS[claim.metric]
    if claim.metric not in runs or runs[claim.metric].notna().sum() == 0:
        what = "probe rows" if claim.metric.startswith("probe_") else f"values of {metric.label}"
        return ClaimResult(claim, model, NOT_COVERED, note=f"no run has {what}")
    comparisons, note = _matched(claim, runs, name_experiment)
    if not comparisons:
        return ClaimResult(claim, model, NOT_COVERED, note=note)
    complete = [comparison for comparison in comparisons if comparison.min_n >= 2]
    if len(complete) < len(comparisons):
        note = _join(note, f"{len(comparisons) - len(complete)} of {len(comparisons)} comparisons left out: "
                           "a group with fewer than 2 seeds has no interval")
    if not complete:
        estimates = [comparison.estimate for comparison in comparisons if comparison.min_n > 0]
        estimate = float(np.mean(estimates)) if estimates else math.nan
        return ClaimResult(claim, model, INCONCLUSIVE, estimate, comparisons=comparisons, note=note)
    # The mean over comparisons of their effects: each term's coefficient divided by their count.
    terms = [(values, coefficient / len(complete))
             for comparison in complete for values, coefficient in comparison.terms]
    contrast = welch_contrast(terms, level)
    result = verdict(claim.direction, contrast.low, contrast.high)
    if claim.compare in ("batch_size_drop", "warmup_drop"):
        result, note = _own_drop_check(claim, complete, result, note, level)
    return ClaimResult(claim, model, result, contrast.estimate, contrast.low, contrast.high, comparisons,
                       len(complete), note)


def _own_drop_check(claim: Claim, complete: list, result: str, note: str, level: float) -> tuple[str, str]:
    """"a degrades while b does not" needs a's own drop too: a larger difference of drops can also come
    from b *improving* toward small batches. Supported only if a's own drop excludes 0 as well."""
    own_terms = [(values, coefficient / len(complete)) for comparison in complete
                 for values, coefficient in comparison.terms[:2]]  # a at the largest (+1), smallest (−1)
    own = welch_contrast(own_terms, level)
    note = _join(note, f"{claim.a}'s own drop: {format_effect(own.estimate, own.low, own.high, claim.metric)}")
    if result == SUPPORTED and not own.low > 0:
        return INCONCLUSIVE, _join(note, f"the difference comes from {claim.b} changing, not from {claim.a} degrading")
    return result, note


def verdict(direction: str, low: float, high: float) -> str:
    """supported / contradicted when the interval excludes 0 on the claimed / other side."""
    claimed_positive = direction == "higher"
    if low > 0:
        return SUPPORTED if claimed_positive else CONTRADICTED
    if high < 0:
        return CONTRADICTED if claimed_positive else SUPPORTED
    return INCONCLUSIVE


def _matched(claim: Claim, runs: pd.DataFrame, name_experiment: bool) -> tuple[list[Comparison], str]:
    """The claim's matched comparisons in these runs, and a note on what was missing or left out."""
    if claim.compare == "warmup_drop":
        return _warmup_comparisons(claim, runs, name_experiment)
    pair = runs[runs["norm"].isin((claim.a, claim.b))]
    both, ambiguous = _cells_with_both(pair, claim)
    note = _join(f"no setting has runs of both {claim.a} and {claim.b}" if both.empty else "",
                 f"{ambiguous} setting(s) left out: several configurations of one norm" if ambiguous else "")
    if both.empty:
        return [], note
    if claim.lr == "largest":
        both = _at_largest(both, "lr")
        if both.empty:
            return [], _join(note, f"needs at least two learning rates run with both {claim.a} and {claim.b}")
    values = _seed_values(pair, claim.metric)
    if claim.compare == "batch_size_drop":
        comparisons = _drop_comparisons(both, claim, values, name_experiment)
        if not comparisons:
            note = _join(note, f"needs at least two batch sizes run with both {claim.a} and {claim.b}")
        return comparisons, note
    return [Comparison(_label(setting, SETTING, name_experiment),
                       [(values[(*setting, claim.a)], 1.0), (values[(*setting, claim.b)], -1.0)])
            for setting in both.itertuples(index=False)], note


def _cells_with_both(pair: pd.DataFrame, claim: Claim) -> tuple[pd.DataFrame, int]:
    """The settings (one row each) where both norms ran exactly one configuration."""
    configs = pair.groupby([*SETTING, "norm"], dropna=False)["group_hash"].nunique().unstack("norm")
    configs = configs.reindex(columns=[claim.a, claim.b])
    present = configs.notna().all(axis=1) & (configs > 0).all(axis=1)
    single = (configs == 1).all(axis=1)
    return configs[present & single].reset_index()[list(SETTING)], int((present & ~single).sum())


def _at_largest(cells: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per series of settings differing only in `column`, the setting with its largest value, for series
    with at least two values."""
    rest = [key for key in SETTING if key != column]
    count = cells.groupby(rest, dropna=False)[column].transform("nunique")
    largest = cells.groupby(rest, dropna=False)[column].transform("max")
    return cells[(count >= 2) & (cells[column] == largest)]


def _seed_values(pair: pd.DataFrame, metric: str) -> dict:
    """(*setting, norm) -> the metric's values over that cell's seeds (runs without a value left out)."""
    cells = pair.groupby([*SETTING, "norm"], dropna=False, sort=False)[metric]
    return {key: values.dropna().to_numpy(dtype=np.float64) for key, values in cells}


def _drop_comparisons(cells: pd.DataFrame, claim: Claim, values: dict, name_experiment: bool) -> list[Comparison]:
    comparisons = []
    for _, series, rest in series_along(cells, "batch_size"):
        largest = next(series.loc[[series["batch_size"].idxmax()]].itertuples(index=False))
        smallest = next(series.loc[[series["batch_size"].idxmin()]].itertuples(index=False))
        label = f"{_label(largest, rest, name_experiment)} · batch size {largest.batch_size} → {smallest.batch_size}"
        comparisons.append(Comparison(label, [
            (values[(*largest, claim.a)], 1.0), (values[(*smallest, claim.a)], -1.0),
            (values[(*largest, claim.b)], -1.0), (values[(*smallest, claim.b)], 1.0),
        ]))
    return comparisons


def _label(setting, columns, name_experiment: bool) -> str:
    """The comparison's setting in words; the model is the result's own, the experiment is named only
    when the runs span several."""
    shown = [column for column in columns if column != "model_label" and (column != "experiment" or name_experiment)]
    return describe(setting._asdict(), shown)


def _join(*notes: str) -> str:
    return "; ".join(note for note in notes if note)


def comparison_interval(comparison: Comparison, level: float = LEVEL) -> tuple[float, float]:
    """The Welch interval of one comparison on its own (NaN when a group has fewer than 2 seeds)."""
    if comparison.min_n < 2:
        return math.nan, math.nan
    contrast = welch_contrast(comparison.terms, level)
    return contrast.low, contrast.high



# --- claim 7: warm-up, Post-LN against Pre-LN -------------------------------------------------------------
# A cell of the warm-up comparison: what it holds fixed. The optimizer's label carries the warm-up length, so the
# cell names the optimizer by its registered name and its decay instead; the variant (norm position) and the
# warm-up are the two factors compared.
_WARMUP_CELL = ("experiment", "data", "batch_size", "optimizer_base", "lr_schedule")


def _warmup_comparisons(claim: Claim, runs: pd.DataFrame, name_experiment: bool) -> tuple[list[Comparison], str]:
    """One comparison per cell: drop(a) − drop(b), drop = metric(with warm-up) − metric(without), at the largest
    learning rate at which both variants train *with* warm-up (seed mean ≥ TRAINS_OVER_CHANCE × chance)."""
    frame = _warmup_frame(runs[runs["norm"] == claim.norm])
    variants = frame[frame["model_cell"].isin((claim.a, claim.b))]
    if variants.empty:
        return [], f"no runs of {claim.model}-{claim.a} or {claim.model}-{claim.b} with norm={claim.norm}"
    factors = ["model_cell", "warm"]
    configs = variants.groupby([*_WARMUP_CELL, "lr", *factors], dropna=False)["group_hash"].nunique()
    if (configs > 1).any():
        return [], "several warm-up lengths (or other settings) in one cell: no single comparison"
    values = {key: group[claim.metric].dropna().to_numpy(dtype=np.float64)
              for key, group in variants.groupby([*_WARMUP_CELL, "lr", *factors], dropna=False)}
    comparisons, notes = [], []
    for cell, rows in variants.groupby(list(_WARMUP_CELL), dropna=False):
        lr = _largest_lr_that_trains(rows, claim, values, cell)
        if lr is None:
            notes.append(f"{describe(dict(zip(_WARMUP_CELL, cell)), ['data', 'batch_size'])}: no learning rate at "
                         f"which {claim.a} and {claim.b} both train with warm-up and both ran without it")
            continue
        label = f"{_warmup_cell_label(cell, name_experiment)} · lr={lr:g}"
        comparisons.append(Comparison(label, [
            (values[(*cell, lr, claim.a, True)], 1.0), (values[(*cell, lr, claim.a, False)], -1.0),
            (values[(*cell, lr, claim.b, True)], -1.0), (values[(*cell, lr, claim.b, False)], 1.0),
        ]))
    return comparisons, _join(*notes)


def _warmup_frame(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs with the cell's columns: the optimizer's name and decay, and whether it warmed up (runs written
    before schedules existed had neither: constant, no warm-up)."""
    frame = runs.copy()
    for column, default in (("warmup_steps", 0), ("lr_schedule", "constant")):
        frame[column] = frame[column].fillna(default) if column in frame else default
    frame["warm"] = pd.to_numeric(frame["warmup_steps"]) > 0
    frame["optimizer_base"] = frame["optimizer"].map(optimizer_name)
    return frame


def _largest_lr_that_trains(rows: pd.DataFrame, claim: Claim, values: dict, cell: tuple) -> float | None:
    classes = pd.to_numeric(rows.get("data_num_classes", pd.Series(dtype=float)), errors="coerce").dropna()
    chance = 1.0 / classes.iloc[0] if len(classes) else 0.1
    candidates = []
    for lr in sorted(rows["lr"].unique()):
        keys = [(*cell, lr, variant, warm) for variant in (claim.a, claim.b) for warm in (True, False)]
        if not all(key in values and len(values[key]) for key in keys):
            continue
        if all(np.mean(values[(*cell, lr, variant, True)]) >= TRAINS_OVER_CHANCE * chance
               for variant in (claim.a, claim.b)):
            candidates.append(lr)
    return max(candidates) if candidates else None


def _warmup_cell_label(cell: tuple, name_experiment: bool) -> str:
    values = dict(zip(_WARMUP_CELL, cell))
    shown = ["data", "batch_size"] + (["experiment"] if name_experiment else [])
    decay = values["lr_schedule"]
    return describe(values, shown) + f" · {values['optimizer_base']}" + (f" {decay}" if decay != "constant" else "")



# --- claim 5: the trainable learning-rate windows ---------------------------------------------------------------

def _window_claim(claim: Claim, runs: pd.DataFrame, model: str, name_experiment: bool) -> ClaimResult:
    """Per comparison set where a and b each swept ≥ 2 learning rates: log10 of the upper edge of a's trainable
    window − b's. A window's edges are grid points, not estimates with a spread, so there is no interval: the
    verdict is *supported* / *contradicted* when every comparison has the claimed / the other sign, else
    inconclusive."""
    comparisons, notes = [], []
    for values, rows in comparison_sets(runs[runs["norm"].isin((claim.a, claim.b))]):
        if rows.groupby("norm")["norm_config"].nunique().max() > 1:
            notes.append("a comparison set with several configurations of one norm left out")
            continue
        metrics = decision_metrics(rows)
        choices = choose_per_arm(rows, metrics.score)
        if not all(norm in choices and len(lr_grid(choices[norm])) >= 2 for norm in (claim.a, claim.b)):
            continue
        windows = {norm: lr_stability(choices[norm]).window for norm in (claim.a, claim.b)}
        label = describe(values, [column for column in COMPARISON
                                  if column != "model_label" and (column != "experiment" or name_experiment)])
        if not all(np.isfinite(window.high) for window in windows.values()):
            notes.append(f"{label}: no window (a seed diverged at a norm's best learning rate)")
            continue
        edges = [np.array([math.log10(windows[norm].high)]) for norm in (claim.a, claim.b)]
        comparisons.append(Comparison(f"{label} · windows {windows[claim.a].text} vs {windows[claim.b].text}",
                                      [(edges[0], 1.0), (edges[1], -1.0)]))
        if not metrics.on_validation:
            notes.append(f"{label}: {FALLBACK_NOTE}")
    if not comparisons:
        return ClaimResult(claim, model, NOT_COVERED, note=_join(
            f"needs a comparison set in which {claim.a} and {claim.b} each swept at least two learning rates",
            *dict.fromkeys(notes)))
    effects = np.array([comparison.estimate for comparison in comparisons])
    result = (SUPPORTED if (effects > 0).all() else CONTRADICTED if (effects < 0).all() else INCONCLUSIVE)
    if claim.direction == "lower" and result != INCONCLUSIVE:
        result = CONTRADICTED if result == SUPPORTED else SUPPORTED
    return ClaimResult(claim, model, result, float(effects.mean()), comparisons=comparisons, used=len(comparisons),
                       note=_join("no interval: window edges are grid points; the verdict needs every comparison "
                                  "to agree", *dict.fromkeys(notes)))
