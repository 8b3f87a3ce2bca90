"""What a layer may offer the trainer, declared as protocols: the trainer calls exactly these, nothing else.

A layer opts in by deriving from the protocol (BatchRenorm does both); the trainer finds the layers that
do once, when it starts, and never probes modules for attributes.
"""

from typing import Protocol, runtime_checkable


@runtime_checkable
class TrainStepAware(Protocol):
    def on_train_step(self, step: int, max_steps: int) -> None:
        """Called before every training forward with the step about to run (1-based) and the run's length."""


@runtime_checkable
class ReportsScalars(Protocol):
    def scalars(self, name: str) -> dict[str, float]:
        """Scalars worth logging at evaluation points, as {tag: value}; `name` is the layer's module path."""
