"""Learning-rate schedules: a linear warm-up from 0, then constant, cosine or linear decay to 0 at the end of
the budget. Built as torch's LambdaLR with the optimizer; the trainer steps it after every optimizer step.

With W warm-up steps and a budget of S steps, the s-th optimizer step (s = 1..S) uses lr · f(s):
    warm-up   s ≤ W:  f = s / W                     (lr/W at the first step, the full lr at step W)
    after it  p = (s − W − 1) / (S − W), in [0, 1):
              constant  f = 1
              cosine    f = (1 + cos(π p)) / 2     (Loshchilov & Hutter 2017, without restarts)
              linear    f = 1 − p                  (as in BERT and Xiong et al. 2020)
The decays reach 0 exactly at the end of the budget, i.e. after the last step: no step is spent at lr 0,
and the cosine decays to 0 rather than to a floor (the common choice: the budget ends where the lr does).
"""

import math

import torch

from normbench.config.options import OptimConfig, Schedule
from normbench.errors import ConfigError


def lr_factor(done: int, warmup_steps: int, schedule: Schedule, max_steps: int) -> float:
    """f for the step after `done` completed steps (LambdaLR's count), as in the module docstring."""
    if done < warmup_steps:
        return (done + 1) / warmup_steps
    if schedule is Schedule.constant:
        return 1.0
    progress = min(1.0, (done - warmup_steps) / (max_steps - warmup_steps))
    if schedule is Schedule.cosine:
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return 1.0 - progress


def build_scheduler(cfg: OptimConfig, optimizer: torch.optim.Optimizer, max_steps: int):
    """The optimizer's LambdaLR for `cfg`'s warm-up and schedule over a budget of `max_steps` steps."""
    if cfg.warmup_steps >= max_steps:
        raise ConfigError(f"optim.warmup_steps={cfg.warmup_steps} must be smaller than the budget of {max_steps} "
                          f"steps (trainer.max_steps or trainer.epochs)")
    warmup, schedule = cfg.warmup_steps, cfg.schedule
    # A plain function, not a callable object: LambdaLR's state_dict then holds numbers only (checkpoints are
    # read with weights_only=True), and the schedule itself is rebuilt from the config on resume.
    def factor(done: int) -> float:
        return lr_factor(done, warmup, schedule, max_steps)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
