"""The training loop: plain and readable (after nanoGPT), with logging that stays off the hot path.

Per step: forward, cross-entropy, backward, optimizer step, learning-rate scheduler step. The loss and the
predictions stay on the device until a log point, where a whole window is read back at once
(one host sync per window, not per step). On CUDA the step can be a replayed CUDA graph instead
(`trainer.cuda_graphs`, normbench/engine/cuda_graph.py): the same computation, kept in static buffers.
A non-finite loss, or one above `trainer.divergence_loss`, ends the run as `diverged` at the first such step:
nothing after it is logged and nothing is padded.
"""

import logging
import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from normbench.config.schema import Precision, Switch
from normbench.engine.build import Built
from normbench.engine.compiling import explain_compile_failure
from normbench.engine.cuda_graph import GraphedStep, GraphUse, StaticStep, graph_problem, window_capacity
from normbench.engine.precision import MixedPrecision
from normbench.engine.probes import probe_landscape, step_sizes
from normbench.engine.progress import Progress
from normbench.engine.stopping import STOP
from normbench.norms.layers.eval_stats import (
    evaluation_policy,
    evaluation_statistics,
    has_batch_statistics,
    norm_scalars,
    recompute_precise_statistics,
)
from normbench.norms.layers.hooks import TrainStepAware
from normbench.rundir.contract import BEST_VAL_ACC, BEST_VAL_STEP, COMPLETED, DIVERGED, FAILED, INTERRUPTED, VAL_SPLIT
from normbench.rundir.metrics_log import MetricsLog

log = logging.getLogger("normbench")


@dataclass
class Outcome:
    status: str  # one of contract.RUN_STATUSES
    steps: int  # optimizer steps done (up to and including a diverged step)
    final: dict = field(default_factory=dict)
    diverged_step: int | None = None
    reason: str | None = None
    train_seconds: float = 0.0


@dataclass(frozen=True)
class Settings:
    """The trainer's knobs as plain values: read in the hot loop, where an OmegaConf lookup costs ~5 µs."""

    batch_size: int
    seed: int
    log_interval: int
    eval_interval: int
    eval_batch_size: int
    checkpoint_interval: int
    grad_clip: float | None
    divergence_loss: float
    eval_stats: str
    precise_batches: int
    probe_every: int
    probe_etas: tuple
    precision: Precision = Precision.fp32
    cuda_graphs: Switch = Switch.auto

    @classmethod
    def from_config(cls, cfg, norm) -> "Settings":
        """From the run's config and its norm's typed config (which decides the evaluation statistics)."""
        t, p = cfg.trainer, cfg.probe
        etas = tuple(step_sizes(cfg.optim.lr, p.min_scale, p.max_scale, p.points))
        eval_stats, precise_batches = evaluation_policy(norm)
        return cls(cfg.batch_size, cfg.seed, t.log_interval, t.eval_interval, t.eval_batch_size, t.checkpoint_interval,
                   t.grad_clip, t.divergence_loss, eval_stats, precise_batches, p.every, etas, t.precision,
                   Switch.parse(t.cuda_graphs, "trainer.cuda_graphs"))


@dataclass
class _Window:
    """Per-step losses, predictions and targets since the last log point, still on the device. Predictions are
    compared with their targets once per window, not per step: one kernel per step (argmax) instead of three."""

    first_step: int
    started: float = field(default_factory=time.perf_counter)
    lr: float = 0.0  # the learning rate of the window's last step (logged as train/lr)
    losses: list = field(default_factory=list)
    predictions: list = field(default_factory=list)
    targets: list = field(default_factory=list)


class Trainer:
    """Trains `model` on `batches` for `max_steps` optimizer steps, logging to `log`.

    `built` gives the model, optimizer, data, batches and the budget in steps. `on_checkpoint(step, state)`
    (optional) is called at every checkpoint interval with `state_dict()`; `load_state_dict` resumes from
    such a state exactly where it was taken.
    """

    def __init__(self, built: Built, settings: Settings, log: MetricsLog, progress: Progress, on_checkpoint=None):
        self.settings = settings
        self.model, self.optimizer, self.data, self.batches = built.model, built.optimizer, built.data, built.batches
        self.device = built.device  # the data may stay in host memory (streamed): test batches are moved here
        self.scheduler = built.scheduler
        self.log, self.progress, self.on_checkpoint = log, progress, on_checkpoint
        self.max_steps, self.step = built.max_steps, 0
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.step_hooks = [m for m in self.model.modules() if isinstance(m, TrainStepAware)]
        self.batch_stats = has_batch_statistics(self.model)
        self.latest: dict = {}  # the last logged train/validation/test metrics: the run's final values
        self.best_val: dict = {}  # best_val_acc and its step: the first evaluation at the highest validation accuracy
        self.mixed = MixedPrecision(settings.precision, self.device, built.norms)
        # Only the training forward is compiled: evaluation stays eager, off the hot path and clear of inductor's
        # eval-mode BN/GN mismatches (PITFALLS); both share the model's parameters and buffers.
        self.compile_choice = built.compile
        self.train_forward = torch.compile(self.model) if built.compile.compile else self.model
        self.graphed, self.graph_refusal = self._graphed_step(built)

    def _graphed_step(self, built: Built) -> tuple[GraphedStep | None, str | None]:
        """The CUDA-graph step where `trainer.cuda_graphs` asks for it and the run allows it, else why not."""
        settings = self.settings
        problem = graph_problem(settings.cuda_graphs, built, settings)
        if problem is not None:
            if settings.cuda_graphs is Switch.true:
                log.warning("trainer.cuda_graphs=true: running eagerly, %s", problem)
            elif settings.cuda_graphs is Switch.auto and built.device.type == "cuda":
                log.info("trainer.cuda_graphs=auto: running eagerly, %s", problem)
            return None, problem
        capacity = window_capacity(self.max_steps, settings.log_interval, settings.eval_interval,
                                   settings.checkpoint_interval)
        static = StaticStep(self.model, self.optimizer, self.batches, self.mixed, settings.grad_clip, capacity,
                            settings.batch_size)
        return GraphedStep(static), None

    @property
    def graph_use(self) -> GraphUse:
        """Whether the steps replayed a CUDA graph (the run's summary records it), and if not, why."""
        return self.graphed.use if self.graphed is not None else GraphUse(False, self.graph_refusal)

    def state_dict(self) -> dict:
        """Everything that decides what training does next, except the global random generators."""
        optimizer = self.optimizer.state_dict()
        if self.graphed is not None:  # the eager form: a checkpoint resumes with graphs or without
            optimizer = self.graphed.export_optimizer_state(optimizer)
        return {"step": self.step, "model": self.model.state_dict(), "optimizer": optimizer,
                "scheduler": self.scheduler.state_dict(), "batches": self.batches.state_dict(),
                "latest": dict(self.latest), "best_val": dict(self.best_val), "scaler": self.mixed.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.step = state["step"]
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if "scheduler" in state:  # checkpoints written before schedules existed ran at a constant lr
            self.scheduler.load_state_dict(state["scheduler"])
        self.batches.load_state_dict(state["batches"])
        self.latest.update(state["latest"])
        self.best_val.update(state.get("best_val", {}))  # absent in checkpoints written before the validation split
        self.mixed.load_state_dict(state.get("scaler", {}))  # fp16's loss scale; absent in older checkpoints
        if self.graphed is not None:  # the optimizer's state tensors are new: a captured graph would miss them
            self.graphed.reset()

    def fit(self) -> Outcome:
        """Train to the end (or divergence). The log is told how the run ended (failed and interrupted too),
        and it and the progress are closed when this returns, even on an error."""
        outcome = Outcome(FAILED, 0)
        try:
            outcome = self._train()
        except KeyboardInterrupt:
            outcome = Outcome(INTERRUPTED, self.step)
            raise
        except Exception as error:
            explained = explain_compile_failure(error, self.compile_choice)
            if explained is error:
                raise
            raise explained from error
        finally:
            try:
                final = {f"hparam/{key}": value for key, value in outcome.final.items()}
                self.log.finish(outcome.status, final, outcome.steps or self.step)
            finally:
                self.log.close()
                self.progress.close()
        return outcome

    def _train(self) -> Outcome:
        settings = self.settings
        started = time.perf_counter()
        if self.step == 0:
            STOP.check()
            self.evaluate()
        self.model.train()
        window = _Window(self.step + 1)
        while self.step < self.max_steps:
            STOP.check()  # a SIGTERM or Ctrl-C since the last step: stop here, the last checkpoint complete
            self.step += 1
            at_eval = self._every(settings.eval_interval)
            # checkpoint_interval=0 is off: no checkpoint at the last step either (run.py removes it right after).
            at_checkpoint = (self.on_checkpoint is not None and settings.checkpoint_interval > 0
                             and self._every(settings.checkpoint_interval))
            # Windows also close at eval and checkpoint points, so neither ever sees an unchecked loss.
            at_log = self._every(settings.log_interval) or at_eval or at_checkpoint
            if self.graphed is not None:
                grad_norm = self._graphed_train_step(window)
            else:
                grad_norm = self._train_step(window, at_log)
            if at_log:
                if (outcome := self._close_window(window, grad_norm)) is not None:
                    outcome.train_seconds = time.perf_counter() - started
                    return outcome
                window = _Window(self.step + 1)
            if at_eval:
                self.evaluate()
            if at_checkpoint:
                # Every row and event up to this step on disk before the checkpoint says training got here:
                # a run resumed from it continues a record with no hole (metrics_log.resume_problem checks).
                self.log.sync()
                self.on_checkpoint(self.step, self.state_dict())
        return Outcome(COMPLETED, self.step, self._final_metrics(), train_seconds=time.perf_counter() - started)

    def _every(self, interval: int) -> bool:
        return self.step == self.max_steps or (interval > 0 and self.step % interval == 0)

    def _train_step(self, window: _Window, want_grad_norm: bool) -> torch.Tensor | None:
        for module in self.step_hooks:
            module.on_train_step(self.step, self.max_steps)
        x, y = self.batches.next()
        with self.mixed.autocast():
            logits = self.train_forward(x)
            loss = F.cross_entropy(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        self.mixed.backward(loss)
        probing = self.settings.probe_every and self._every(self.settings.probe_every)
        if probing or self.settings.grad_clip is not None or want_grad_norm:
            self.mixed.unscale(self.optimizer)
        if probing:  # in fp32, without autocast: the landscape of the model's own parameters
            for metric, value in probe_landscape(self.model, x, y, list(self.settings.probe_etas)).items():
                self.log.scalar(self.step, "probe", metric, value)
        grad_norm = None
        if self.settings.grad_clip is not None:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.settings.grad_clip)
        elif want_grad_norm:
            grad_norm = torch.nn.utils.get_total_norm([p.grad for p in self.params if p.grad is not None])
        window.lr = self.optimizer.param_groups[0]["lr"]  # the rate this step uses: the scheduler moves it next
        self.mixed.step(self.optimizer)
        self.scheduler.step()
        window.losses.append(loss.detach())
        window.predictions.append(logits.argmax(dim=1))
        window.targets.append(y)
        return grad_norm

    def _graphed_train_step(self, window: _Window) -> torch.Tensor:
        """The step as a replayed CUDA graph (warm-up and capture first): its loss and correct count stay in
        the graph's buffers until the window closes. Returns the step's gradient norm (a device tensor)."""
        window.lr = self.optimizer.param_groups[0]["lr"]
        self.graphed.step()
        self.scheduler.step()
        return self.graphed.static.grad_norm

    def _window_results(self, window: _Window) -> tuple[list[float], int]:
        """The window's per-step losses and its number of correct predictions, read back from the device."""
        if self.graphed is not None:
            return self.graphed.static.read_window()
        losses = torch.stack(window.losses).tolist()  # the window's host sync
        correct = (torch.stack(window.predictions) == torch.stack(window.targets)).sum().item()
        return losses, correct

    def _close_window(self, window: _Window, grad_norm) -> Outcome | None:
        losses, correct = self._window_results(window)
        bad = next((i for i, v in enumerate(losses) if not math.isfinite(v) or v > self.settings.divergence_loss), None)
        if bad is not None:
            return self._diverged(window, losses, bad)
        batch = self.settings.batch_size
        acc = correct / (batch * len(losses))
        lr = window.lr
        throughput = len(losses) * batch / max(time.perf_counter() - window.started, 1e-9)
        self.log.per_step(window.first_step, "train", "loss", losses)
        for metric, value in (("acc", acc), ("lr", lr), ("samples_per_s", throughput)):
            self.log.scalar(self.step, "train", metric, value)
        if grad_norm is not None:
            self.log.scalar(self.step, "train", "grad_norm", grad_norm.item())
        self.latest.update(train_loss=sum(losses) / len(losses), train_acc=acc)
        self.progress.update(self.step, losses[-1])
        return None

    def _diverged(self, window: _Window, losses: list, bad: int) -> Outcome:
        step = window.first_step + bad
        value = losses[bad]
        self.log.per_step(window.first_step, "train", "loss", losses[:bad], every_point=True)
        limit = self.settings.divergence_loss
        reason = (f"train loss became {value} at step {step}" if not math.isfinite(value)
                  else f"train loss {value:.4g} exceeded trainer.divergence_loss={limit:g} at step {step}")
        self.log.flush()
        return Outcome(DIVERGED, step, diverged_step=step, reason=reason)

    @torch.no_grad()
    def evaluate(self) -> None:
        """Validation and test loss/accuracy, both by the same code in eval mode; BN-family models also the test
        metrics under batch statistics (the train/eval gap)."""
        settings = self.settings
        if self.batch_stats and settings.eval_stats == "precise":
            recompute_precise_statistics(self.model, self._precise_batches(settings.precise_batches))
        self.model.eval()
        mode = "batch" if settings.eval_stats == "batch" else "running"  # precise statistics are running ones
        with evaluation_statistics(self.model, mode):
            loss, acc = self._metrics(self.data.x_test, self.data.y_test)
            val = self._metrics(self.data.x_val, self.data.y_val) if self.data.x_val is not None else None
        self.log.scalar(self.step, "test", "loss", loss)
        self.log.scalar(self.step, "test", "acc", acc)
        self.latest.update(test_loss=loss, test_acc=acc)
        if val is not None:
            self._log_validation(*val)
        if self.batch_stats and mode != "batch":
            with evaluation_statistics(self.model, "batch"):
                loss, acc = self._metrics(self.data.x_test, self.data.y_test)
            self.log.scalar(self.step, "test_batch_stats", "loss", loss)
            self.log.scalar(self.step, "test_batch_stats", "acc", acc)
        for key, value in norm_scalars(self.model).items():
            self.log.scalar(self.step, "norm", key, value)
        self.model.train()
        self.log.flush()

    def _log_validation(self, loss: float, acc: float) -> None:
        self.log.scalar(self.step, VAL_SPLIT, "loss", loss)
        self.log.scalar(self.step, VAL_SPLIT, "acc", acc)
        self.latest.update(val_loss=loss, val_acc=acc)
        if not self.best_val or acc > self.best_val[BEST_VAL_ACC]:
            self.best_val.update({BEST_VAL_ACC: acc, BEST_VAL_STEP: self.step})

    def _metrics(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """Mean loss and accuracy over (x, y), a batch at a time (moved to the device here where streamed)."""
        size = self.settings.eval_batch_size
        total_loss = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        for start in range(0, len(x), size):
            labels = y[start : start + size].to(self.device)
            with self.mixed.autocast():
                logits = self.model(x[start : start + size].to(self.device))
                batch_loss = F.cross_entropy(logits, labels, reduction="sum")
            total_loss += batch_loss
            correct += (logits.argmax(dim=1) == labels).sum()
        return total_loss.item() / len(x), correct.item() / len(x)

    def _precise_batches(self, count: int):
        """Training inputs for precise BN, drawn with their own generator so the training order is untouched."""
        generator = torch.Generator().manual_seed(self.settings.seed + 1)
        x = self.data.x_train
        for _ in range(count):
            index = torch.randint(len(x), (self.settings.batch_size,), generator=generator).to(x.device)
            yield x[index].to(self.device)

    def _final_metrics(self) -> dict:
        return {**{f"final_{key}": value for key, value in self.latest.items()}, **self.best_val}
