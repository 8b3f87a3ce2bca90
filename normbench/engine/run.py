"""One run, end to end: config -> data, model with its norms, optimizer -> training -> run directory.

`run_experiment` knows nothing of Hydra's runtime: it gets the composed config and the directory to
write, so tests and other launchers can call it directly.
"""

import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

from normbench import __version__
from normbench.rundir.checkpoint import load_checkpoint, remove_checkpoint, restore, save_checkpoint
from normbench.rundir.atomic import write_text_atomic
from normbench.data import Splits, load_data
from normbench.data.batches import EpochBatches
from normbench.engine.device import resolve_device
from normbench.errors import ConfigError
from normbench.rundir.identity import config_hash, group_hash, model_label, norm_label
from normbench.rundir.metrics_log import MetricsLog
from normbench.models import InputSpec, build_model
from normbench.optim import build_optimizer
from normbench.engine.progress import Progress
from normbench.engine.seeding import reset_global_state
from normbench.rundir.summary import FINISHED, read_summary, write_summary
from normbench.engine.trainer import Outcome, Trainer
from normbench.config.validate import validate

log = logging.getLogger("normbench")


def check_existing(cfg, run_dir: Path) -> dict | None:
    """The finished summary to keep (skip this run), None to run; refuses to mix configurations."""
    existing = read_summary(run_dir)
    if existing is None or cfg.force:
        return None
    if existing.get("config_hash") != config_hash(cfg):
        raise ConfigError(
            f"{run_dir} holds a run of a different configuration (config hash {existing.get('config_hash')} != "
            f"{config_hash(cfg)}); pass force=true to replace it, or keep both: a new experiment=NAME "
            f"(configs/experiment/NAME.yaml) or another results_dir=DIR"
        )
    return existing if existing.get("status") in FINISHED else None


@dataclass
class Built:
    data: Splits
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    batches: EpochBatches
    max_steps: int


def build(cfg) -> Built:
    """Everything a run needs, built before anything is written: bad input fails here, leaving no trace."""
    validate(cfg)
    data = load_data(cfg.data)  # before seeding: a data generator may reseed numpy's global RNG
    reset_global_state(cfg.seed, cfg.deterministic, cfg.num_threads)
    device = resolve_device(cfg.device)
    data = data.to(device)
    model = build_model(cfg.model, cfg.norm, InputSpec(tuple(cfg.data.shape), cfg.data.num_classes)).to(device)
    optimizer = build_optimizer(cfg.optim, model.parameters())
    batches = EpochBatches(data.x_train, data.y_train, cfg.batch_size, torch.Generator().manual_seed(cfg.seed))
    max_steps = cfg.trainer.epochs * batches.per_epoch if cfg.trainer.epochs is not None else cfg.trainer.max_steps
    return Built(data, model, optimizer, batches, max_steps)


def run_experiment(cfg, run_dir: Path, extra_files: dict[str, str] | None = None) -> dict:
    """Train one configuration into `run_dir` and return its summary (also written as summary.json).

    `extra_files` (relative path -> text, e.g. Hydra's .hydra/config.yaml) are written once the run is
    known to go ahead, so a refused or skipped run never overwrites what a directory already holds.
    """
    run_dir = Path(run_dir)
    kept = check_existing(cfg, run_dir)
    if kept is not None:
        log.info("skipping %s: already %s (force=true runs it again)", run_dir.name, kept["status"])
        return {**kept, "skipped": True}
    built = build(cfg)
    # Read (safely) before anything is written: a checkpoint that cannot be trusted refuses the run.
    resume = None if cfg.force else load_checkpoint(run_dir, config_hash(cfg))
    started_at, started = _now(), time.perf_counter()
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "summary.json").unlink(missing_ok=True)  # a stale failed/forced summary must not outlive this attempt
    for relative, text in (extra_files or {}).items():
        write_text_atomic(run_dir / relative, text)
    try:
        outcome, resumed_from = _train(cfg, built, run_dir, resume)
    except Exception as error:
        summary = _summary(cfg, run_dir, Outcome("failed", 0, reason=f"{type(error).__name__}: {error}"),
                           built, started_at, time.perf_counter() - started)
        write_summary(run_dir, summary)
        raise
    summary = _summary(cfg, run_dir, outcome, built, started_at, time.perf_counter() - started, resumed_from)
    write_summary(run_dir, summary)
    remove_checkpoint(run_dir)
    return summary


def _train(cfg, built: Built, run_dir: Path, resume: dict | None) -> tuple[Outcome, int]:
    """Train from `resume` (a checkpoint's state) if given, else from step 0; the outcome and the start step."""
    max_steps = built.max_steps
    start = resume["step"] if resume else 0
    if not resume:
        _remove_event_files(run_dir)
    metrics = MetricsLog(run_dir, resume_from_step=start if resume else None)
    progress = Progress(max_steps, start, cfg.progress, run_dir.name)
    trainer = Trainer(cfg, built.model, built.optimizer, built.data, built.batches, metrics, progress, max_steps,
                      start_step=start)
    trainer.on_checkpoint = lambda step: save_checkpoint(run_dir, config_hash(cfg), step, trainer)
    if resume:
        restore(resume, trainer)
        log.info("%s: resuming from step %d", run_dir.name, start)
    try:
        outcome = trainer.fit()
        metrics.hparams(_hparams(cfg), {f"hparam/{k}": v for k, v in outcome.final.items()})
    finally:
        metrics.close()
        progress.close()
    return outcome, start


def _remove_event_files(run_dir: Path) -> None:
    """A run starting from step 0 (first attempt, no usable checkpoint, or force=true) replaces what an
    earlier attempt left: its TensorBoard events would show every step twice. metrics.csv is rewritten."""
    for path in run_dir.glob("events.out.tfevents.*"):
        path.unlink(missing_ok=True)


def _hparams(cfg) -> dict:
    return {"model": model_label(cfg), "norm": norm_label(cfg), "data": cfg.data.name, "batch_size": cfg.batch_size,
            "optimizer": cfg.optim.name, "lr": cfg.optim.lr, "seed": cfg.seed}


def _summary(cfg, run_dir: Path, outcome: Outcome, built: Built, started_at: str, wall: float,
             resumed_from: int = 0) -> dict:
    final = {key: _finite_or_none(outcome.final.get(key)) for key in
             ("final_train_loss", "final_train_acc", "final_test_loss", "final_test_acc")}
    return {
        "status": outcome.status,
        "experiment": cfg.experiment,
        "run_name": run_dir.name,
        "config_hash": config_hash(cfg),
        "group_hash": group_hash(cfg),
        "model": cfg.model.name,
        "model_cell": cfg.model.cell if cfg.model.name == "rnn" else None,
        "norm": norm_label(cfg),
        "data": cfg.data.name,
        "batch_size": cfg.batch_size,
        "seed": cfg.seed,
        "optimizer": cfg.optim.name,
        "lr": cfg.optim.lr,
        "steps": outcome.steps,
        "max_steps": built.max_steps,
        **final,
        "diverged_step": outcome.diverged_step,
        "error": outcome.reason,
        "wall_time_s": round(wall, 3),
        # This attempt's steps over this attempt's time: a resumed run trained only the steps after its checkpoint.
        "steps_per_s": (round((outcome.steps - resumed_from) / outcome.train_seconds, 2)
                        if outcome.train_seconds > 0 else None),
        "resumed_from_step": resumed_from or None,
        "device": str(built.data.x_train.device),
        "num_threads": torch.get_num_threads(),
        "num_params": sum(p.numel() for p in built.model.parameters()),
        "torch_version": torch.__version__,
        "normbench_version": __version__,
        "started_at": started_at,
        "finished_at": _now(),
    }


def _finite_or_none(value):
    return value if value is not None and math.isfinite(value) else None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
