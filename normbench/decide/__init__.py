"""Decision rules over a runs table: pure, torch-free functions that both `normbench report` and
`normbench advise` call.

Modules, one concept each:
  stats         Student-t means, Welch contrasts
  comparable    comparison sets from the run identity (what may be ranked against what)
  selection     validation scores, the old-run fallback, each norm at its own best tuned setting
  equivalence   TOST: norms equivalent on accuracy within a margin
  recommend     the recommendation rule (accuracy, then stability, then validation loss; never speed)
  window        the trainable learning-rate window, divergence over the grid
  tuning_cost   the expected best validation accuracy after k random trials (Dodge et al. 2019)
  lr_stability  a norm's stability record across learning rates
  halving       advise's search: successive halving over a log grid of learning rates
  racing        advise's race between norms at their chosen learning rates (Welch, TOST)
  budget        advise's wall-clock budgets and the plan that fits them
  answer        advise's answer in words

Nothing here imports torch, the engine or the report: the flow is report → decide and advise → decide.
"""
