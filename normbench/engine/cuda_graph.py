"""CUDA graphs (`trainer.cuda_graphs`): the training step captured once and replayed.

normbench's default models are launch-bound on a GPU: a step is a few hundred small kernels, each launched
from Python. A CUDA graph launches the whole recorded step at once. This follows PyTorch's whole-network
capture recipe (torch.cuda.graphs docs): static input buffers, warm-up iterations on a side stream, gradients
set to None before capture so backward allocates them from the graph's pool, a capturable optimizer.

The step (`StaticStep.compute`) reads and writes static buffers only:
  - the batch's sample indices are copied into a static index buffer outside the graph
    (`EpochBatches.next_index`); the gather from the device-resident data happens inside it;
  - forward (under autocast, its weight-cast cache off: cached casts would outlive the capture), cross-entropy,
    backward, gradient clipping or else the gradient norm (both without a host sync), the optimizer's step;
  - the step's loss and correct-prediction count go into preallocated device buffers, at a slot (a device
    tensor) the step advances; the trainer reads a window of them at a log point: one host sync per window.
The same function runs eagerly, uncaptured, for the warm-up steps; on a CPU it is what the tests compare bit
for bit with the trainer's own eager step, which pins the buffers and the gather.

`GraphedStep` drives it: WARMUP_STEPS real training steps (they count: the loss curve is eager's), then the
capture and one replay per step. A captured Adam runs with capturable=True (its step counts on the device) and
reads its learning rate from a device tensor, filled from the scheduler's float before each replay; the
optimizer's param groups keep float rates otherwise. Checkpoints hold the eager form (float rates, capturable
off, step counts on the CPU), so a graphed run's checkpoint resumes with graphs or without; a graphed trainer
prepares the optimizer and captures again after loading one.

Where a run cannot be captured, `graph_problem` says why in one line and the trainer stays eager; a capture
that fails anyway (an op that syncs with the host, say) falls back to eager with its error as the reason.
"""

import contextlib
import logging
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from normbench.config.options import Augment, Schedule
from normbench.config.schema import Precision, Switch
from normbench.data.pipeline.batches import EpochBatches
from normbench.engine.precision import MixedPrecision
from normbench.models._registry import model_traits
from normbench.norms.layers.hooks import TrainStepAware

log = logging.getLogger("normbench")

# Eager steps before the capture (PyTorch's recipe uses a few): optimizer state exists, cuDNN and cuBLAS have
# chosen their algorithms and workspaces, autograd's buffers are allocated.
WARMUP_STEPS = 3
_CAPTURABLE_WARNING = "This instance was constructed with capturable=True"  # torch's note on eager capturable steps


@dataclass(frozen=True)
class GraphUse:
    """What happened, for the run's summary: whether steps replayed a graph, and if not, why (one line)."""

    active: bool
    reason: str | None = None


def graph_problem(mode: Switch, built, settings) -> str | None:
    """None where `built`'s training step can be captured under `settings` (the trainer's), else why not."""
    if mode is Switch.false:
        return "trainer.cuda_graphs=false"
    if built.device.type != "cuda":
        return "needs a CUDA device"
    if built.options.data.augment is not Augment.none:
        return (f"data.augment={built.options.data.augment.name} draws each batch's crops on the CPU with a generator "
                f"of its own")
    if built.streamed:
        return "the data stream from host memory (data.max_device_bytes): batches are not gathered on the device"
    if not isinstance(built.batches, EpochBatches):
        return f"batches of kind {type(built.batches).__name__} are not gathered from data on the device"
    if built.compile.compile:
        return f"{built.compile.reason}: torch.compile's kernels are not captured a second time"
    if settings.precision is Precision.fp16:
        return "trainer.precision=fp16: the gradient scaler decides on the host whether a step is skipped (use bf16)"
    if settings.probe_every:
        return "probe.every>0: the probes read losses on the host within steps"
    return _model_problem(built) or _optimizer_problem(built)


def _model_problem(built) -> str | None:
    # A model registers itself capturable (normbench.models._registry): normbench's own and torchvision's are;
    # one from a factory or a plugin may sync or branch on values, so it is refused rather than captured on trust.
    name = built.options.model.name
    if not model_traits(name).capturable:
        return (f"model={name} is not registered as capturable (its forward may sync with the host or branch on "
                f"values): register_model(..., capturable=True) declares it")
    for path, module in built.model.named_modules():
        if isinstance(module, TrainStepAware):
            return f"{path or 'the model'} ({type(module).__name__}) changes with the step number, on the host"
        if isinstance(module, nn.modules.dropout._DropoutNd) and module.p > 0:
            return f"{path} is dropout (p={module.p}): a replayed graph draws other random numbers than eager steps"
    return None


def _optimizer_problem(built) -> str | None:
    optimizer, optim = built.optimizer, built.options.optim
    if type(optimizer) is torch.optim.Adam:
        return None
    if type(optimizer) is torch.optim.SGD:
        if optim.schedule is Schedule.constant and optim.warmup_steps == 0:
            return None
        # SGD reads a tensor learning rate with .item(): a captured SGD cannot follow a schedule.
        return "optim=sgd with a learning-rate schedule (a captured SGD keeps the rate it was captured with)"
    return f"optimizer {type(optimizer).__name__} is not known to be capturable (Adam and SGD are)"


def window_capacity(max_steps: int, *intervals: int) -> int:
    """The most steps between two log points: windows close at every multiple of each positive interval (log,
    eval, checkpoint) and at the last step."""
    return min([interval for interval in intervals if interval > 0] + [max_steps])


class StaticStep:
    """One training step on static buffers (module docstring), run eagerly by `__call__` or captured.

    `losses[:n]` and `corrects[:n]` hold the last `n` steps since `read_window`; `grad_norm` the last step's
    gradient norm (before clipping)."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, batches: EpochBatches,
                 mixed: MixedPrecision, grad_clip: float | None, capacity: int, batch_size: int):
        self.model, self.optimizer, self.batches, self.mixed = model, optimizer, batches, mixed
        self.grad_clip = grad_clip
        self.params = [p for p in model.parameters() if p.requires_grad]
        device = batches.x.device
        self.index = torch.zeros(batch_size, dtype=torch.int64, device=device)
        self.slot = torch.zeros((), dtype=torch.int64, device=device)
        self.positions = torch.arange(capacity, device=device)
        self.losses = torch.zeros(capacity, device=device)
        self.corrects = torch.zeros(capacity, dtype=torch.int64, device=device)
        self.grad_norm = torch.zeros((), device=device)
        self.pending = 0  # steps since the last read_window (host side: the slot itself stays on the device)

    def load_batch(self) -> None:
        """The next batch's indices into the static index buffer: outside any graph, before each step."""
        if self.pending == len(self.losses):
            raise RuntimeError(f"{self.pending} steps without a log point: the window buffers hold {self.pending}")
        self.index.copy_(self.batches.next_index())
        self.pending += 1

    def __call__(self) -> None:
        """The eager step, as the trainer takes it: gradients set to None, then `compute`."""
        self.optimizer.zero_grad(set_to_none=True)
        self.compute()

    def compute(self) -> None:
        """Gather, forward, loss, backward, clip, optimizer step, bookkeeping: the work a graph captures."""
        x, y = self.batches.gather(self.index)
        with self.mixed.autocast(cache=False):
            logits = self.model(x)
            loss = F.cross_entropy(logits, y)
        loss.backward()
        if self.grad_clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip)
        else:
            norm = torch.nn.utils.get_total_norm([p.grad for p in self.params if p.grad is not None])
        self.optimizer.step()
        self.grad_norm.copy_(norm)
        # Elementwise writes at the slot: no indexing kernel, whose deterministic variants may sync or sort.
        here = self.positions == self.slot
        self.losses.copy_(torch.where(here, loss.detach().float(), self.losses))
        self.corrects.copy_(torch.where(here, (logits.argmax(dim=1) == y).sum(), self.corrects))
        self.slot.add_(1)

    def read_window(self) -> tuple[list[float], int]:
        """The losses and the correct count of the steps since the last read (one host sync), and a new window."""
        n = self.pending
        values = torch.cat([self.losses[:n].double(), self.corrects[:n].sum().double().view(1)]).tolist()
        self.slot.zero_()
        self.pending = 0
        return values[:-1], int(values[-1])


class GraphedStep:
    """The trainer's step when graphs are on: WARMUP_STEPS eager steps on a side stream, the capture, then
    replays. `step()` takes one training step; the window and the gradient norm are read from `static`."""

    def __init__(self, static: StaticStep):
        self.static, self.optimizer = static, static.optimizer
        self.graph: torch.cuda.CUDAGraph | None = None
        self.captured = False  # a graph was captured in this process (a reset captures again)
        self.failure: str | None = None  # why the capture failed: the steps stay eager
        self.warmed = 0
        self.prepared = False
        self.lr: list[torch.Tensor] = []  # the rates a captured Adam reads, one per param group
        self.side_stream = None

    @property
    def use(self) -> GraphUse:
        if self.failure is not None:
            return GraphUse(False, self.failure)
        if not self.captured:
            return GraphUse(False, f"the run ended within its first {WARMUP_STEPS} steps, before the capture")
        return GraphUse(True)

    def step(self) -> None:
        if not self.prepared:
            self._prepare()
        self.static.load_batch()
        if self.failure is not None:
            self.static()
        elif self.graph is not None:
            for rate, group in zip(self.lr, self.optimizer.param_groups):
                rate.fill_(group["lr"])
            self.graph.replay()
        elif self.warmed < WARMUP_STEPS:
            self._warm_up()
        else:
            self._capture()

    def reset(self) -> None:
        """After the optimizer's state was replaced (a checkpoint loaded): prepare and capture again."""
        self.graph, self.prepared, self.warmed = None, False, 0

    def _prepare(self) -> None:
        """Adam capturable, with its step counts on the device and a device tensor per group for the rate."""
        if type(self.optimizer) is torch.optim.Adam:
            for group in self.optimizer.param_groups:
                group["capturable"] = True
                for param in group["params"]:
                    state = self.optimizer.state.get(param)
                    if state and "step" in state:
                        state["step"] = state["step"].to(device=param.device, dtype=torch.float32)
            device = self.static.index.device
            self.lr = [torch.tensor(float(group["lr"]), device=device) for group in self.optimizer.param_groups]
        # Streams and captures belong to the current device: make it the run's (device=cuda:1, say).
        torch.cuda.set_device(self.static.index.device)
        self.side_stream = torch.cuda.Stream()
        self.prepared = True

    def _warm_up(self) -> None:
        """A real training step on a side stream, as the capture recipe warms up."""
        stream = self.side_stream
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream), _quiet_capturable():
            self.static()
        torch.cuda.current_stream().wait_stream(stream)
        self.warmed += 1

    def _capture(self) -> None:
        """Record the step, then replay it once: the capture itself runs nothing."""
        self.optimizer.zero_grad(set_to_none=True)  # backward allocates the gradients from the graph's pool
        graph = torch.cuda.CUDAGraph()
        rates = [group["lr"] for group in self.optimizer.param_groups]
        for rate, group in zip(self.lr, self.optimizer.param_groups):  # a captured Adam reads its rate here
            rate.fill_(group["lr"])
            group["lr"] = rate
        try:
            with torch.cuda.graph(graph):
                self.static.compute()
        except RuntimeError as error:
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            self.failure = f"capture failed: {first_line}"
        finally:
            for rate, group in zip(rates, self.optimizer.param_groups):
                group["lr"] = rate
        if self.failure is not None:
            log.warning("trainer.cuda_graphs: running eagerly, %s", self.failure)
            torch.cuda.synchronize()
            self.static()  # this step's work, which the failed capture did not run
            return
        self.graph, self.captured = graph, True
        graph.replay()

    def export_optimizer_state(self, state: dict) -> dict:
        """`state` (the optimizer's state_dict) in its eager form: capturable off, step counts on the CPU."""
        groups = [{**group, "capturable": False} if "capturable" in group else group for group in state["param_groups"]]
        per_param = {key: {**values, "step": values["step"].cpu()} if "step" in values else values
                     for key, values in state["state"].items()}
        return {**state, "state": per_param, "param_groups": groups}


@contextlib.contextmanager
def _quiet_capturable():
    """Eager steps of a capturable Adam warn that they are not captured: the warm-up's are meant not to be."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_CAPTURABLE_WARNING)
        yield
