"""A marker for modules that unroll a loop in Python, such as a normalized recurrence stepping through time.

Eager PyTorch runs such a loop at the cost of the ops it launches per step, not of their size: normbench's
normalized GRU on MNIST-1D is ~10 small ops per step over 40 steps, each paying PyTorch's per-op overhead
(and as many autograd nodes backwards). torch.compile traces the whole unrolled loop and fuses each step's
pointwise ops and norm into a few kernels: measured 2.0-2.4x the eager training steps/s on one CPU thread
(README, "Performance"). `trainer.compile=auto` compiles the models that contain such a module.
A user's model opts in the same way: derive the looping module from `UnrolledLoop`.
"""


class UnrolledLoop:
    """Mixin for an nn.Module whose forward loops in Python over a fixed number of steps."""
