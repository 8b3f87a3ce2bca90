"""One norm's stability across learning rates, from its grid in a comparison set: the recommendation's stability
record (window, divergence over the grid, the expected best after k trials)."""

from dataclasses import dataclass

import numpy as np

from normbench.decide.selection import Choice
from normbench.decide.tuning_cost import expected_max_curve
from normbench.decide.window import WINDOW_TOLERANCE, Window, divergence_over_grid, lr_window


@dataclass
class LRStability:
    arm: str
    lrs: np.ndarray  # the grid, ascending
    means: np.ndarray  # mean score over seeds at each lr (diverged seeds = 0)
    seed_scores: list  # the seeds' scores at each lr
    diverged: np.ndarray  # diverged seeds at each lr
    window: Window
    divergence_share: float  # over the whole grid
    smallest_diverging_lr: float  # NaN: none diverged
    expected_best: np.ndarray  # E[best of k trials], k = 1 … len(lrs)


def lr_grid(choice: Choice) -> list:
    """The arm's options along the learning rate, at its chosen values of the other tuned settings."""
    best = choice.best.tuned
    return [option for option in choice.options
            if (option.tuned["optimizer"], option.tuned["optim_rest"]) == (best["optimizer"], best["optim_rest"])]


def lr_stability(choice: Choice, tolerance: float = WINDOW_TOLERANCE) -> LRStability:
    grid = lr_grid(choice)
    lrs = np.array([option.tuned["lr"] for option in grid], dtype=np.float64)
    means = np.array([option.mean for option in grid], dtype=np.float64)
    diverged = np.array([option.n_diverged for option in grid])
    runs = np.array([option.n_runs for option in grid])
    share, smallest = divergence_over_grid(lrs, diverged, runs)
    return LRStability(choice.arm, lrs, means, [option.scores for option in grid], diverged,
                       lr_window(lrs, means, diverged, tolerance), share, smallest, expected_max_curve(means))


def stability_records(choices: dict, tolerance: float = WINDOW_TOLERANCE) -> dict[str, LRStability]:
    """arm -> its LRStability, for every arm of a comparison set (selection.choose_per_arm)."""
    return {arm: lr_stability(choice, tolerance) for arm, choice in choices.items()}
