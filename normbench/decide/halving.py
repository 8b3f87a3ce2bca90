"""Successive halving over a log grid of learning rates, one norm at a time (Jamieson & Talwalkar 2016, the
rule inside Hyperband and ASHA, Li et al. 2017/2020).

Every arm (one learning rate of the grid) trains for the first rung's steps; the best 1/eta of a rung's arms by
validation score train again for eta times as many steps, until one arm is left: the norm's chosen learning
rate. A diverged arm (no score) is dropped at once, whatever count the rung keeps. Runs are not continued from
one rung to the next: a longer rung is a new run with its own step budget (its schedule and its identity depend
on trainer.max_steps), so each rung is an ordinary sweep.
"""

import math
from dataclasses import dataclass

ETA = 3  # keep the best third of a rung (Hyperband's default)


def log_grid(low: float, high: float) -> tuple[float, ...]:
    """Learning rates from `low` to `high`, two per decade (low, ~3.16×low, 10×low, ...), each rounded to one
    significant digit so that run names read 1e-3, 3e-3, 0.01: Adam's default range 1e-4…3e-2 gives six."""
    if not (0 < low <= high) or not math.isfinite(high):
        raise ValueError(f"a learning-rate range needs 0 < low <= high, got {low:g}…{high:g}")
    grid, index = [], 0
    while True:
        rounded = float(f"{low * 10 ** (index / 2):.0e}")  # 3.16e-2 reads 3e-2, inside a range up to 3e-2
        if rounded > high * (1 + 1e-9):
            break
        if rounded not in grid:
            grid.append(rounded)
        index += 1
    return tuple(grid)


def rung_count(arms: int, eta: int = ETA) -> int:
    """The rungs that halving `arms` arms needs until one is left (0 for a single arm: nothing to search)."""
    count = 0
    while arms > 1:
        arms = max(1, arms // eta)
        count += 1
    return count


def rung_steps(full_steps: int, rungs: int, min_steps: int, eta: int = ETA) -> tuple[int, ...]:
    """Each rung's step budget: the last rung trains 1/eta of the full budget, each earlier one 1/eta of the next,
    never fewer than `min_steps` (rungs that come out equal are the same runs, trained once)."""
    return tuple(max(min_steps, full_steps // eta ** (rungs - index)) for index in range(rungs))


def usable(score) -> bool:
    """A score a rung can rank: a finite number (a diverged or failed run has none)."""
    return score is not None and math.isfinite(score)


def promote(arms: tuple, scores: dict, eta: int = ETA) -> tuple:
    """The arms of the next rung: the best `len(arms) // eta` (at least one) by score, diverged arms never.

    Ties keep the grid's order (the smaller learning rate first), so a rerun promotes the same arms.
    """
    alive = [arm for arm in arms if usable(scores.get(arm))]
    keep = max(1, len(arms) // eta)
    ranked = sorted(alive, key=lambda arm: (-scores[arm], arms.index(arm)))
    return tuple(ranked[:keep])


@dataclass(frozen=True)
class Rung:
    steps: int
    arms: tuple  # learning rates trained at this rung
    scores: dict  # lr -> validation score (None: diverged or failed)
    promoted: tuple  # the arms of the next rung; after the last rung the chosen arm (or none)


def dropped_reason(rungs: list[Rung]) -> str | None:
    """Why a norm leaves the search with no learning rate (None when it has one)."""
    if not rungs or rungs[-1].promoted:
        return None
    last = rungs[-1]
    tried = ", ".join(f"{arm:g}" for arm in last.arms)
    return f"diverged or failed at every learning rate of its rung of {last.steps} steps ({tried})"
