"""The race's outcome in words: the answer `normbench advise` prints first, with its confidence.

Three forms (docs/advise.md): a decision ("Use layer (lr 3e-3): +4.1 pp [+2.0, +6.2] over batch ..."), an
equivalence ("layer and group are equivalent within 1 pp; either will do; batch is 6.0 pp worse."), or an honest
"Undecided after the budget: ..." naming at most three leaders, their gaps with intervals, and the budget that
would likely decide. Pure: numbers in, sentences out.
"""

import math
from dataclasses import dataclass, field

from normbench.decide import racing


def format_lr(lr: float) -> str:
    """3e-3, 1e-2, 0.3, 1: short, and the same spelling as the grid's."""
    if lr >= 0.1:
        return f"{lr:g}"
    mantissa, exponent = f"{lr:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _pp(value: float) -> str:
    return f"{value:+.1f}"


def _interval(low: float, high: float) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        return "[no interval]"
    return f"[{_pp(low)}, {_pp(high)}]"


def _names(norms) -> str:
    norms = list(norms)
    return norms[0] if len(norms) == 1 else f"{', '.join(norms[:-1])} and {norms[-1]}"


@dataclass(frozen=True)
class Context:
    """What the sentences mention besides the race: chosen learning rates, LR windows, seeds, the search's drops."""

    lrs: dict  # norm -> chosen lr
    seeds: dict  # norm -> seeds behind its figures
    windows: dict = field(default_factory=dict)  # norm -> (low, high) of its LR window, if it has one
    dropped: dict = field(default_factory=dict)  # norm -> why the search dropped it
    equivalence: float = racing.EQUIVALENCE_PP
    extra_budget: str | None = None  # e.g. "12 min": the budget that would likely decide an undecided race
    grid: tuple = ()  # the learning rates searched
    # Set when an undecided race ended at the most seeds per norm advise runs, not at the end of its time: more time
    # alone would not add seeds, so the sentence names the seeds (and their time), not a bigger budget.
    seed_cap: int | None = None
    extra_seeds: int | None = None  # with seed_cap: more seeds per open norm that would likely decide


def format_window(low: float, high: float) -> str:
    """`1e-3…1e-2`, or `3e-2 only` for a window of one grid point."""
    return f"{format_lr(low)} only" if low == high else f"{format_lr(low)}…{format_lr(high)}"


def _edge_sentence(context: Context, norms) -> str | None:
    """A chosen lr at an end of the grid: the norm's best may lie outside the range searched."""
    grid = context.grid
    if len(grid) < 2:
        return None
    edge = [norm for norm in norms if norm in context.lrs and context.lrs[norm] in (min(grid), max(grid))]
    if not edge:
        return None
    chosen = ", ".join(f"{norm} {format_lr(context.lrs[norm])}" for norm in edge)
    return (f"At an end of the range searched ({format_window(min(grid), max(grid))}): {chosen}; the best lr may lie "
            "beyond it (widen advise.lr_range).")


def _window_sentence(leader: str, other: str, context: Context) -> str | None:
    """'batch trains in a wider LR window (...)' when the other norm's window is wider than the leader's."""
    windows = context.windows
    if leader not in windows or other not in windows:
        return None
    (low_a, high_a), (low_b, high_b) = windows[leader], windows[other]
    if math.log10(high_b / low_b) <= math.log10(high_a / low_a):
        return None
    return f"{other} trains in a wider LR window ({format_window(low_b, high_b)} vs {format_window(low_a, high_a)})."


def _worse_sentence(outcome: racing.RaceOutcome, skip=()) -> str | None:
    worse = [item for item in outcome.comparisons if item.verdict == racing.WORSE and item.norm not in skip]
    if not worse:
        return None
    if len(worse) == 1:
        return f"{worse[0].norm} is distinguishably worse ({worse[0].gap:.1f} pp behind)."
    parts = ", ".join(f"{item.norm} {item.gap:.1f} pp" for item in worse)
    return f"{_names(item.norm for item in worse)} are distinguishably worse ({parts} behind)."


def _dropped_sentence(context: Context) -> str | None:
    if not context.dropped:
        return None
    return "Dropped by the search: " + "; ".join(f"{norm} ({why})" for norm, why in context.dropped.items()) + "."


def sentences(outcome: racing.RaceOutcome, context: Context) -> list[str]:
    """The answer, first sentence first."""
    leader, lines = outcome.leader, []
    if outcome.kind == racing.NONE:
        lines.append("No answer: no norm trained to a validation score (every learning rate diverged or failed).")
    elif outcome.kind == racing.ONLY:
        lines.append(f"Use {leader} (lr {format_lr(context.lrs[leader])}): the only norm left to compare, "
                     f"{outcome.means[leader]:.1f} % validation accuracy over {context.seeds[leader]} seeds.")
    elif outcome.kind == racing.DECIDED:
        runner = outcome.comparisons[0]
        lines.append(f"Use {leader} (lr {format_lr(context.lrs[leader])}): {_pp(runner.gap)} pp "
                     f"{_interval(runner.low, runner.high)} over {runner.norm} (its best lr "
                     f"{format_lr(context.lrs[runner.norm])}), decided after {context.seeds[leader]} seeds.")
        lines += filter(None, [_window_sentence(leader, runner.norm, context),
                               _worse_sentence(outcome, skip=(runner.norm,))])
    elif outcome.kind == racing.EQUIVALENT:
        same = [leader, *(item.norm for item in outcome.comparisons if item.verdict == racing.SAME)]
        lines.append(f"{_names(same)} are equivalent within {context.equivalence:g} pp; either will do"
                     f" (each at its own lr: {', '.join(f'{n} {format_lr(context.lrs[n])}' for n in same)}).")
        lines += filter(None, [_worse_sentence(outcome)])
    else:  # UNDECIDED (CONTINUE never reaches the answer: the race goes on)
        gaps = [outcome.comparison(norm) for norm in outcome.leaders[1:]]
        leads = " and ".join(f"{item.norm} by {_pp(item.gap)} pp {_interval(item.low, item.high)}" for item in gaps)
        at_cap = context.seed_cap is not None
        if at_cap and context.extra_seeds is not None:
            cost = f" (about {context.extra_budget})" if context.extra_budget is not None else ""
            more = (f"about {context.extra_seeds} more seeds each{cost} would likely decide it, past the "
                    f"{context.seed_cap} seeds per norm advise runs.")
        elif context.extra_budget is not None:
            more = f"a budget of about {context.extra_budget} more would likely decide it."
        else:
            more = "more seeds are unlikely to decide it at this gap: for practical purposes they tie."
        when = f"after {context.seed_cap} seeds per norm" if at_cap else "after the budget"
        lines.append(f"Undecided {when}: {leader} leads {leads}; {more}")
        open_ = [item.norm for item in outcome.comparisons if item.verdict == racing.OPEN]
        unnamed = [norm for norm in open_ if norm not in outcome.leaders]
        if unnamed:
            lines.append(f"Also not separated from {leader}: {_names(unnamed)}.")
        same = [item.norm for item in outcome.comparisons if item.verdict == racing.SAME]
        if same:
            verb = "is" if len(same) == 1 else "are"
            lines.append(f"{_names(same)} {verb} equivalent to {leader} within {context.equivalence:g} pp.")
        lines += filter(None, [_worse_sentence(outcome)])
    # The norms the answer turns on: the leader, the closest, and any not shown worse.
    named = [outcome.leader, *(item.norm for index, item in enumerate(outcome.comparisons)
                               if index == 0 or item.verdict != racing.WORSE)]
    lines += filter(None, [_edge_sentence(context, [norm for norm in named if norm])])
    if outcome.diverged:
        lines.append(f"{_names(outcome.diverged)} diverged on every seed at the chosen learning rate.")
    lines += filter(None, [_dropped_sentence(context), _levels_sentence(outcome)])
    return lines


def _levels_sentence(outcome: racing.RaceOutcome) -> str | None:
    """What the gaps' intervals are, where the race split its error rates over several comparisons."""
    if outcome.tests == 1 or not outcome.comparisons:
        return None
    each = 100 * racing.interval_level(outcome.tests)
    return (f"Intervals of gaps are simultaneous 95 % intervals over the race's {outcome.tests} planned comparisons "
            f"({each:.2f} % each), so looking after every round does not raise the chance of a wrong call.")
