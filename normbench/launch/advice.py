"""What `normbench advise` hands back: advice.json (the question, the plan, every stage's figures, the race, the
answer) and its terminal rendering (the answer in words first, then the per-norm table)."""

import math
from dataclasses import asdict

from normbench.decide import budget as budgets
from normbench.decide import racing
from normbench.decide.answer import Context, format_lr, format_window, sentences
from normbench.decide.racing import summary as seed_summary
from normbench.decide.window import WINDOW_TOLERANCE, lr_window
from normbench.launch.protocol import CONFIRM_SEED0, PROTOCOL_VERSION, SCORE
from normbench.rundir.contract import DIVERGED, FINISHED


def _clean(value):
    """JSON-able: NaN and infinities as null, tuples as lists, float keys (learning rates) as their short names."""
    if isinstance(value, dict):
        return {(format_lr(key) if isinstance(key, float) else str(key)): _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _full_runs(advisor, norm: str) -> list[dict]:
    """The norm's finished runs at its chosen lr and the full budget, on confirmation and race seeds."""
    lr = advisor.chosen.get(norm)
    return [summary for (name, run_lr, steps, seed), summary in sorted(advisor.runs.by_key.items())
            if name == norm and run_lr == lr and steps == advisor.plan.full_steps and seed >= CONFIRM_SEED0
            and summary.get("status") in FINISHED]


def _search_divergence(advisor, norm: str) -> tuple[int, int]:
    rungs = advisor.search.get(norm, [])
    scores = [score for rung in rungs for score in rung.scores.values()]
    return sum(1 for score in scores if score is None), len(scores)


def search_window(advisor, norm: str):
    """The norm's trainable LR window over the search's first rung (every lr of the grid, one seed, the rung's
    steps; normbench.decide.window's rule in pp), or None without a search."""
    rungs = advisor.search.get(norm)
    if not rungs:
        return None
    first = rungs[0]
    lrs = sorted(first.arms)
    means = [0.0 if first.scores[lr] is None else first.scores[lr] for lr in lrs]
    diverged = [int(first.scores[lr] is None) for lr in lrs]
    window = lr_window(lrs, means, diverged, tolerance=100 * WINDOW_TOLERANCE)
    return window if math.isfinite(window.low) else None


def _pp(values) -> dict:
    mean, half_width, n = seed_summary(values)
    return {"mean": mean, "half_width": half_width, "n": n}


def _verdict(norm: str, outcome: racing.RaceOutcome, seeds: int) -> str:
    if seeds == 0:
        return "no finished run at its chosen lr"
    if norm == outcome.leader:
        return "leader"
    if norm in outcome.diverged:
        return "diverged on every seed"
    compared = [item for item in outcome.comparisons if item.norm == norm]
    return compared[0].verdict if compared else ""


def table_rows(advisor, outcome: racing.RaceOutcome) -> list[dict]:
    rows = []
    for norm in advisor.q.norms:
        runs = _full_runs(advisor, norm)
        search_diverged, search_runs = _search_divergence(advisor, norm)
        val = [None if run["status"] == DIVERGED else 100.0 * run[SCORE] for run in runs]
        test = [None if run["status"] == DIVERGED else 100.0 * run["final_test_acc"] for run in runs]
        speeds = [run["steps_per_s"] for run in runs if run.get("steps_per_s")]
        window = search_window(advisor, norm)
        rows.append({"norm": norm, "lr": advisor.chosen.get(norm), "val_acc": _pp(val), "test_acc": _pp(test),
                     "lr_window": [window.low, window.high] if window else None,
                     "lr_window_decades": window.decades if window else None,
                     "seeds": len(runs), "diverged_seeds": sum(run["status"] == DIVERGED for run in runs),
                     "search_diverged": search_diverged, "search_runs": search_runs,
                     "steps_per_s": sum(speeds) / len(speeds) if speeds else None,
                     "verdict": advisor.dropped.get(norm) and f"dropped: {advisor.dropped[norm]}"
                     or _verdict(norm, outcome, len(runs))})
    return rows


def advice_record(advisor, outcome: racing.RaceOutcome) -> dict:
    """Everything advise found, machine-readable (advice.json)."""
    q, plan = advisor.q, advisor.plan
    rows = table_rows(advisor, outcome)
    seeds = {row["norm"]: row["seeds"] for row in rows}
    extra = None
    if outcome.kind == racing.UNDECIDED and outcome.extra_seeds is not None:
        seconds = budgets.extra_seconds(outcome.extra_seeds, len(outcome.leaders), plan.full_steps, plan.speed)
        extra = budgets.format_minutes(seconds)
    windows = {row["norm"]: tuple(row["lr_window"]) for row in rows if row["lr_window"]}
    # The race ended at the most seeds per norm, not at the end of its time: the answer names the seeds it lacks.
    at_cap = outcome.kind == racing.UNDECIDED and max((seeds.get(norm, 0) for norm in outcome.leaders),
                                                      default=0) >= q.budget.max_seeds
    context = Context(dict(advisor.chosen), seeds, windows, dict(advisor.dropped), q.equivalence, extra, q.grid,
                      seed_cap=q.budget.max_seeds if at_cap else None,
                      extra_seeds=outcome.extra_seeds if at_cap else None)
    race = {**asdict(outcome), "extra_budget": extra}
    search = {norm: [asdict(rung) for rung in rungs] for norm, rungs in advisor.search.items()}
    return _clean({
        "protocol_version": PROTOCOL_VERSION,
        "question": {"overrides": q.fixed, "batch_size": q.batch_size, "norms": q.norms,
                     "norm_settings": {norm: list(own) for norm, own in q.settings.items() if own},
                     "left_out": list(q.notes), "lr_grid": q.grid,
                     "equivalence_pp": q.equivalence, "budget": q.budget.text, "score": SCORE},
        "plan": plan.to_dict(),
        "answer": sentences(outcome, context),
        "table": rows,
        "search": search,
        "chosen_lr": advisor.chosen,
        "dropped": advisor.dropped,
        "race": race,
        "runs_trained_now": advisor.runs.trained,
        "failed_runs": advisor.failures,
        "elapsed_s": advisor.elapsed(),
    })


def answer_lines(record: dict) -> list[str]:
    return list(record["answer"])


def _acc(cell: dict) -> str:
    if cell["mean"] is None:
        return "—"
    interval = f" ± {cell['half_width']:.1f}" if cell["half_width"] is not None else ""
    return f"{cell['mean']:.1f}{interval}"


def _window_text(row: dict) -> str:
    if not row["lr_window"]:
        return "—"
    return f"{format_window(*row['lr_window'])} ({row['lr_window_decades']:.1f} dec)"


def table_text(record: dict) -> str:
    """The per-norm table: chosen lr, validation (chooses) and test (shown) accuracy with 95 % intervals, seeds, the
    LR window, divergence in the search and at the chosen lr, steps/s, and where the norm stands."""
    header = ("norm", "lr", "val acc %", "test acc %", "seeds", "LR window (search rung 1)",
              "diverged (search, chosen lr)", "steps/s", "")
    lines = [header]
    for row in record["table"]:
        lines.append((row["norm"], format_lr(row["lr"]) if row["lr"] is not None else "—", _acc(row["val_acc"]),
                      _acc(row["test_acc"]), str(row["seeds"]), _window_text(row),
                      f"{row['search_diverged']}/{row['search_runs']}, {row['diverged_seeds']}/{row['seeds']}",
                      f"{row['steps_per_s']:.0f}" if row["steps_per_s"] else "—", row["verdict"]))
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)
