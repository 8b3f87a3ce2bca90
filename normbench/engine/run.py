"""One run, end to end: config -> data, model with its norms, optimizer -> training -> run directory.

`run_experiment` knows nothing of Hydra's runtime: it gets the composed config and the directory to
write, so tests and other launchers can call it directly.
"""

import logging
import math
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from omegaconf import OmegaConf

from normbench import __version__
from normbench.config.schema import Switch
from normbench.data.pipeline.validation import VAL_SEED
from normbench.engine.build import Built, build
from normbench.engine.cuda_graph import GraphUse
from normbench.engine.progress import Progress
from normbench.engine.stopping import STOP
from normbench.engine.trainer import Outcome, Settings, Trainer
from normbench.errors import ConfigError
from normbench.models.nets.swaps import NormSwapped
from normbench.rundir.atomic import refuse_planted_links, write_json_atomic, write_text_atomic
from normbench.rundir.checkpoint import (
    NotResumable,
    load_checkpoint,
    remove_checkpoint,
    restore_generators,
    save_checkpoint,
)
from normbench.rundir.contract import (
    BEST_VAL_STEP,
    EVENTS_PREFIX,
    FAILED,
    FINISHED,
    IDENTITY,
    IDENTITY_VERSION,
    INTERRUPTED,
    NORMS_FILE,
    RESULT_KEYS,
    SKIPPED,
    SUMMARY,
    VAL_CARVED,
    WRITTEN,
    train_loss_through,
)
from normbench.rundir.identity import (
    as_written_before,
    identity_record,
    run_hparams,
    run_norm_label,
    run_optimizer_label,
)
from normbench.rundir.lock import RunBusy, RunLock
from normbench.rundir.metrics_log import MetricsLog, record_problem, resume_problem
from normbench.rundir.recorded import Unreadable, recorded
from normbench.rundir.summary import write_summary
from normbench.trackers import TrackedRun, create_tracker

log = logging.getLogger("normbench")


def check_existing(cfg, run_dir: Path, config_hash: str) -> dict | None:
    """The finished summary to keep (skip this run), None to run; refuses to mix configurations.

    The directory's configuration is read from its summary.json, else from identity.json, else from its
    .hydra/config.yaml (rundir.recorded): a corrupt or missing summary never lets another configuration's
    run be overwritten, and a directory whose configuration cannot be read at all is refused.
    """
    if cfg.force:
        return None
    try:
        existing = recorded(run_dir)
    except Unreadable as error:
        raise ConfigError(
            f"{run_dir} holds a run whose configuration cannot be read ({error}); it was left as it is: "
            f"pass force=true to replace it, or move the directory away to keep it"
        ) from None
    if existing is None:
        return None
    if existing.identity_version != IDENTITY_VERSION:
        raise ConfigError(
            f"{run_dir} was written by an earlier normbench (run identity version "
            f"{existing.identity_version}, now {IDENTITY_VERSION}); run `normbench migrate "
            f"{run_dir.parent}` once to bring its runs up to date (nothing is re-run), then run this again"
        )
    if existing.config_hash != config_hash:
        before, changed = as_written_before(cfg)
        if changed and existing.config_hash == identity_record(before)["config_hash"]:
            raise ConfigError(_written_before(run_dir, changed))
        raise ConfigError(
            f"{run_dir} holds a run of a different configuration (config hash {existing.config_hash} != "
            f"{config_hash}, from its {existing.source}); pass force=true to replace it, or keep both: another "
            f"results_dir=DIR, or a study of your own (user_dir=DIR with DIR/configs/experiment/NAME.yaml "
            f"saying `experiment: NAME`, then experiment=NAME)"
        )
    if existing.doubts:
        log.warning("%s: %s; its %s names this configuration: running it", run_dir.name,
                    "; ".join(existing.doubts), existing.source)
    summary = existing.summary
    return summary if summary is not None and summary.get("status") in FINISHED else None


def _written_before(run_dir: Path, changed: dict) -> str:
    """Why a run directory holding this configuration as runs were made before `changed`'s keys existed is
    refused, and how to continue that study (the old values)."""
    now = " ".join(f"{key}={value}" for key, (value, _) in changed.items())
    legacy = " ".join(f"{key}={old}" for key, (_, old) in changed.items())
    return (f"{run_dir} holds this configuration as runs were made before {', '.join(changed)} existed; this run "
            f"has {now}, another computation: add {legacy} to continue that study as it was, or keep both: "
            f"another results_dir=DIR (force=true replaces it)")


def run_experiment(cfg, run_dir: Path, extra_files: dict[str, str] | None = None) -> dict:
    """Train one configuration into `run_dir` and return its summary (also written as summary.json).

    `extra_files` (relative path -> text, e.g. Hydra's .hydra/config.yaml) are written once the run is
    known to go ahead, so a refused or skipped run never overwrites what a directory already holds.

    The process holds the directory's lock (rundir.lock) from the first look at it to the last write: a
    run another process is training is skipped (`{"skipped": True, "reason": "being trained by pid N"}`).
    """
    run_dir = Path(run_dir)
    lock = RunLock(run_dir)
    try:
        lock.acquire()
    except RunBusy as busy:
        log.info("skipping %s: %s (that process finishes it)", run_dir.name, busy.holder)
        return {"skipped": True, "status": SKIPPED, "reason": busy.holder}
    except PermissionError as error:
        raise ConfigError(f"{run_dir}: cannot take the run's lock ({error.strerror}: {error.filename}); "
                          f"make the directory writable, or choose another results_dir=DIR") from None
    try:
        return _run_locked(cfg, run_dir, extra_files)
    finally:
        lock.release()


def _run_locked(cfg, run_dir: Path, extra_files: dict[str, str] | None) -> dict:
    # Before anything there is read or written: a planted link would be read as this run's record, or written through.
    refuse_planted_links(run_dir, (*WRITTEN, *(path.name for path in run_dir.glob(f"{EVENTS_PREFIX}*"))))
    identity = identity_record(cfg)
    kept = check_existing(cfg, run_dir, identity["config_hash"])
    if kept is not None:
        log.info("skipping %s: already %s (force=true runs it again)", run_dir.name, kept["status"])
        _warn_if_damaged(run_dir, kept)
        # A process killed between writing the summary and removing its checkpoint left one behind: the
        # finished run no longer needs it (and we hold the directory's lock).
        remove_checkpoint(run_dir)
        return {**kept, "skipped": True}
    built = build(cfg)  # checks for a stop (SIGTERM, Ctrl-C) between its long steps: engine/stopping.py
    # Read (safely) before anything is written: a checkpoint that cannot be trusted refuses the run.
    resume = None if cfg.force else _checkpoint_to_resume(run_dir, identity["config_hash"])
    STOP.check()  # the last moment a stop leaves the directory exactly as it was
    started_at, started = _now(), time.perf_counter()
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / SUMMARY).unlink(missing_ok=True)  # a stale failed/forced summary must not outlive this attempt
    for relative, text in (extra_files or {}).items():
        write_text_atomic(run_dir / relative, text)
    write_json_atomic(run_dir / IDENTITY, identity)
    if isinstance(built.model, NormSwapped):  # the norms normbench replaced in a model it did not write
        write_json_atomic(run_dir / NORMS_FILE, built.model.swap_records())
    resumed_from = resume["step"] if resume else 0
    trainer = None
    try:
        trainer = _trainer(cfg, built, run_dir, identity, resume)
        outcome = trainer.fit()
    except (Exception, KeyboardInterrupt) as error:
        # Recorded, then raised on: a failed run's error, or an interrupted run (Ctrl-C, SIGTERM) that keeps its
        # checkpoint, so the same command resumes it. Either way the summary has the steps this run got to.
        trained = trainer.step if trainer is not None else 0
        if isinstance(error, KeyboardInterrupt):
            stopped = Outcome(INTERRUPTED, trained, reason=f"interrupted ({str(error) or 'Ctrl-C'}) at step {trained}")
        else:
            stopped = Outcome(FAILED, trained, reason=f"{type(error).__name__}: {error}")
        graphs = trainer.graph_use if trainer is not None else None
        write_summary(run_dir, _summary(cfg, run_dir, identity, stopped, built, started_at,
                                        time.perf_counter() - started, resumed_from, graphs))
        raise
    summary = _summary(cfg, run_dir, identity, outcome, built, started_at, time.perf_counter() - started,
                       resumed_from, trainer.graph_use)
    write_summary(run_dir, summary)
    remove_checkpoint(run_dir)
    return summary


def _warn_if_damaged(run_dir: Path, summary: dict) -> None:
    """A finished run is skipped as it is; if its metrics.csv no longer holds its record, the report lists it as
    unreadable, so say so now, and how to train it again."""
    through = train_loss_through(summary)
    problem = through if isinstance(through, str) else record_problem(run_dir, through)
    if problem:
        log.warning("%s: skipped, but its record is damaged (%s), so the report lists it as unreadable: delete "
                    "its %s and run the same command again to re-train it (or pass force=true)", run_dir.name,
                    problem, SUMMARY)


def _checkpoint_to_resume(run_dir: Path, config_hash: str) -> dict | None:
    """This configuration's checkpoint, if its metrics.csv can be continued from it (else train from step 0)."""
    try:
        resume = load_checkpoint(run_dir, config_hash)
    except NotResumable as refused:
        log.warning("%s: not resuming from its checkpoint: %s; training from step 0",
                    run_dir.name, refused)
        return None
    if resume is None:
        return None
    problem = resume_problem(run_dir, resume["step"])
    if problem is not None:
        log.warning("%s: not resuming from the checkpoint at step %d: %s; training from step 0", run_dir.name,
                    resume["step"], problem)
        return None
    return resume


def _trainer(cfg, built: Built, run_dir: Path, identity: dict, resume: dict | None) -> Trainer:
    """A trainer writing into `run_dir` (and the selected tracker, logger=...), at the checkpoint's state if
    resuming, else at step 0. At the end of `fit` it records the run's final metrics and status and closes its
    log and progress."""
    start = resume["step"] if resume else None
    if resume is None:
        _remove_event_files(run_dir)
    hparams = run_hparams(cfg)
    tracked = TrackedRun(run_dir, Path(cfg.results_dir), run_dir.name, cfg.experiment, identity["config_hash"],
                         identity["group_hash"], hparams, start)
    tracker = create_tracker(OmegaConf.to_object(cfg.logger), tracked)
    trackers = () if tracker is None else (tracker,)
    metrics = MetricsLog(run_dir, resume_from_step=start, hparams=hparams, trackers=trackers)
    progress = Progress(built.max_steps, start or 0, cfg.progress, run_dir.name)
    save = lambda step, state: save_checkpoint(run_dir, identity["config_hash"], step, state)  # noqa: E731
    trainer = Trainer(built, Settings.from_config(cfg, built.options.norm), metrics, progress, on_checkpoint=save)
    if Switch.parse(cfg.trainer.compile, "trainer.compile") is not Switch.false:  # say what was decided, why
        log.info("%s: %s", run_dir.name, built.compile.reason)
    if resume:
        trainer.load_state_dict(resume)
        restore_generators(resume)
        log.info("%s: resuming from step %d", run_dir.name, start)
    return trainer


def _remove_event_files(run_dir: Path) -> None:
    """A run starting from step 0 (first attempt, no usable checkpoint, or force=true) replaces what an
    earlier attempt left: its TensorBoard events would show every step twice. metrics.csv is rewritten."""
    for path in run_dir.glob(f"{EVENTS_PREFIX}*"):
        path.unlink(missing_ok=True)


def _summary(cfg, run_dir: Path, identity: dict, outcome: Outcome, built: Built, started_at: str, wall: float,
             resumed_from: int = 0, graphs: GraphUse | None = None) -> dict:
    final = {key: _finite_or_none(outcome.final.get(key)) for key in RESULT_KEYS}
    final[BEST_VAL_STEP] = outcome.final.get(BEST_VAL_STEP)
    model = built.options.model
    return {
        "status": outcome.status,
        "experiment": cfg.experiment,
        "run_name": run_dir.name,
        "identity_version": identity["identity_version"],
        "config_hash": identity["config_hash"],
        "group_hash": identity["group_hash"],
        "model": model.name,
        "model_cell": model.variant(),
        "norm": run_norm_label(cfg),
        "data": cfg.data.name,
        "batch_size": cfg.batch_size,
        "seed": cfg.seed,
        "optimizer": run_optimizer_label(cfg),  # with its schedule, e.g. `adam warmup=100 cosine`
        "lr": cfg.optim.lr,  # the peak learning rate
        "lr_schedule": built.options.optim.schedule.value,
        "warmup_steps": built.options.optim.warmup_steps,
        "steps": outcome.steps,
        "max_steps": built.max_steps,
        **final,
        "diverged_step": outcome.diverged_step,
        "error": outcome.reason,
        "wall_time_s": round(wall, 3),
        "steps_per_s": _steps_per_s(outcome.steps - resumed_from, outcome.train_seconds),
        "resumed_from_step": resumed_from or None,
        "device": str(built.device),
        "precision": cfg.trainer.precision.value,
        "compiled": built.compile.compile,
        # Whether the training steps replayed a CUDA graph (trainer.cuda_graphs), and if not, why (one line).
        "cuda_graphs": graphs is not None and graphs.active,
        "cuda_graphs_reason": graphs.reason if graphs is not None else None,
        "num_threads": torch.get_num_threads(),
        "num_params": sum(p.numel() for p in built.model.parameters()),
        "norm_swaps": len(built.model.swaps) if isinstance(built.model, NormSwapped) else None,
        # What the data turned out to be (read from files: shape and classes inferred, inputs standardized).
        "data_shape": list(built.options.data.shape),
        "data_num_classes": built.options.data.num_classes,
        "data_standardization": built.data.standardization,
        "data_streamed": built.streamed,
        "data_fingerprint": identity["identity"]["data"].get("fingerprint"),
        **_validation_record(built),
        # Code run from outside normbench (factory module, user_dir files, plugin versions); None: normbench's only.
        "code_fingerprint": identity["identity"].get("code"),
        "torch_version": torch.__version__,
        "normbench_version": __version__,
        "started_at": started_at,
        "finished_at": _now(),
    }


def _validation_record(built: Built) -> dict:
    """How the run's validation split was made (contract.VAL_RECORD_KEYS): the same for every run of its data."""
    data = built.data
    return {"val_fraction": built.options.data.val_fraction,
            "val_seed": VAL_SEED if data.val_source == VAL_CARVED else None,
            "val_source": data.val_source,
            "val_size": len(data.y_val) if data.y_val is not None else 0}


def _steps_per_s(trained: int, seconds: float) -> float | None:
    """This attempt's steps over this attempt's time (a resumed run trained only the steps after its checkpoint):
    > 0, as the contract's range says, or None where this attempt trained no step (resumed at its last one)."""
    if trained <= 0 or seconds <= 0:
        return None
    rate = trained / seconds
    return round(rate, 2) if rate >= 1 else float(f"{rate:.3g}")  # a slow run's rate never rounds to 0


def _finite_or_none(value):
    return value if value is not None and math.isfinite(value) else None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
