"""Synthetic run directories in the trainer's contract, for the report's tests and its benchmark.

`write_run_dir` writes exactly what it is given (tests build curves whose metrics they know, e.g.
`flat_curves`);
`realistic_run` makes plausible curves (norm-dependent speed, noise, spikes, divergence at large
learning rates, BN's small-batch penalty); `synthesize_results` writes a whole sweep of them.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

Curves = dict[str, tuple[np.ndarray, np.ndarray]]


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def make_summary(**fields) -> dict:
    """A summary.json dict with the contract's keys; hashes derived from the configuration fields."""
    summary = {
        "status": "completed", "experiment": "synthetic", "model": "mlp", "model_cell": None, "norm": "batch",
        "data": "mnist1d", "batch_size": 100, "seed": 0, "optimizer": "adam", "lr": 0.01, "steps": 1000,
        "max_steps": 1000, "final_train_loss": None, "final_train_acc": None, "final_test_loss": None,
        "final_test_acc": None, "diverged_step": None, "error": None, "wall_time_s": 1.0, "steps_per_s": 1000.0,
        "device": "cpu", "num_params": 15210, "torch_version": "2.13.0", "started_at": "2025-01-01T00:00:00Z",
        "finished_at": "2025-01-01T00:00:01Z",
    }
    summary.update(fields)
    config = {key: summary[key] for key in ("experiment", "model", "model_cell", "norm", "data", "batch_size",
                                            "optimizer", "lr", "max_steps")}
    config.update(summary.get("extra_identity", {}))
    summary.setdefault("group_hash", _digest(config))
    summary.setdefault("config_hash", _digest({**config, "seed": summary["seed"]}))
    summary.setdefault("run_name", f"{summary['model']}_{summary['norm']}_{summary['data']}_bs{summary['batch_size']}"
                                   f"_{summary['optimizer']}-lr{summary['lr']:g}_s{summary['seed']}")
    summary.pop("extra_identity", None)
    return summary


def metrics_csv_text(curves: Curves) -> str:
    """metrics.csv text (header step,split,metric,value) for curves keyed "split/metric"."""
    parts = []
    for key, (steps, values) in curves.items():
        split, metric = key.split("/", 1)
        parts.append(pd.DataFrame({"step": np.asarray(steps, dtype=np.int64), "split": split, "metric": metric,
                                   "value": np.asarray(values, dtype=np.float64)}))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["step", "split", "metric", "value"])
    return frame.sort_values("step", kind="stable").to_csv(index=False, float_format="%.6g", lineterminator="\n")


def write_run_dir(directory: Path, summary: dict | None, curves: Curves | None) -> Path:
    """A run directory: summary.json (None: an incomplete run) and metrics.csv (None: none written)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if curves is not None:
        (directory / "metrics.csv").write_text(metrics_csv_text(curves))
    if summary is not None:
        (directory / "summary.json").write_text(json.dumps(summary, indent=2))
    return directory


def flat_curves(steps: int = 200, loss: float = 1.0, test_acc: float = 0.8, eval_every: int = 50,
                log_every: int = 10) -> dict:
    """Curves of a run whose per-step train loss is constant: every loss metric is known exactly."""
    t = np.arange(1, steps + 1)
    evals = np.arange(0, steps + 1, eval_every)
    logged = np.arange(log_every, steps + 1, log_every)
    return {
        "train/loss": (t, np.full(steps, loss)),
        "train/acc": (logged, np.full(len(logged), 0.9)),
        "train/grad_norm": (logged, np.full(len(logged), 1.0)),
        "test/loss": (evals, np.full(len(evals), loss)),
        "test/acc": (evals, np.full(len(evals), test_acc)),
    }


# --- plausible curves --------------------------------------------------------------------------------

# Per norm: loss time constant (steps), final loss floor, per-step noise, spike probability, final test acc.
_BEHAVIOUR = {
    "none": (700.0, 0.45, 0.10, 0.000, 0.70),
    "batch": (250.0, 0.30, 0.16, 0.004, 0.86),
    "layer": (420.0, 0.22, 0.08, 0.000, 0.85),
    "group": (400.0, 0.24, 0.08, 0.000, 0.84),
    "rms": (430.0, 0.23, 0.08, 0.000, 0.84),
}


def realistic_run(norm: str, batch_size: int, lr: float, seed: int, steps: int, *, model: str = "mlp",
                  eval_interval: int = 100, log_interval: int = 25, probe_interval: int = 0,
                  experiment: str = "synthetic") -> tuple[dict, Curves]:
    """(summary, curves) of a plausible run. BN suffers at small batches; `none` diverges at large lr."""
    rng = np.random.default_rng(int(_digest([norm, batch_size, lr, seed, model]), 16))
    tau, floor, noise, spike_p, acc = _BEHAVIOUR.get(norm, _BEHAVIOUR["layer"])
    small_batch = max(0.0, np.log2(64 / batch_size)) if norm == "batch" else 0.0
    floor, acc, noise = floor * (1 + 0.35 * small_batch), acc - 0.04 * small_batch, noise * (1 + 0.3 * small_batch)
    acc += rng.normal(0, 0.006)
    diverge_at = None
    if norm == "none" and lr >= 0.05 and rng.random() < 0.7:
        diverge_at = int(rng.integers(steps // 10, steps // 2))
    done = diverge_at - 1 if diverge_at else steps
    t = np.arange(1, done + 1)
    clean = floor + (2.3 - floor) * np.exp(-t / tau * (lr / 0.01) ** 0.3)
    loss = clean * np.exp(rng.normal(0, noise, done))
    loss[rng.random(done) < spike_p] *= 3.0
    curves = {"train/loss": (t, loss)}
    logged = np.r_[np.arange(log_interval, done + 1, log_interval), [done] if done % log_interval else []].astype(int)
    progress = 1 - np.exp(-logged / tau)
    curves["train/acc"] = (logged, np.clip((acc + 0.05) * progress + 0.1 * (1 - progress), 0, 1))
    curves["train/grad_norm"] = (logged, np.sqrt(clean[logged - 1]) * np.exp(rng.normal(0, 2 * noise, len(logged))))
    curves["train/lr"] = (logged, np.full(len(logged), lr))
    curves["train/samples_per_s"] = (logged, rng.normal(20000, 500, len(logged)))
    final_eval = [done] if done % eval_interval and not diverge_at else []  # a diverged run is not evaluated again
    evals = np.r_[np.arange(0, done + 1, eval_interval), final_eval].astype(int)
    eval_progress = 1 - np.exp(-evals / tau)
    test_acc = np.clip(acc * eval_progress + 0.1 * (1 - eval_progress) + rng.normal(0, 0.005, len(evals)), 0, 1)
    test_loss = np.r_[2.3, clean[evals[1:] - 1]] * 1.15 + 0.02 * evals / steps
    curves["test/loss"], curves["test/acc"] = (evals, test_loss), (evals, test_acc)
    if norm == "batch":
        curves["test_batch_stats/acc"] = (evals, np.clip(test_acc - 0.01 - 0.02 * small_batch, 0, 1))
        curves["test_batch_stats/loss"] = (evals, test_loss * 1.05)
    if probe_interval:
        probes = np.arange(probe_interval, done + 1, probe_interval)
        roughness = {"none": 1.0, "batch": 0.35}.get(norm, 0.6)
        curves["probe/loss_variation"] = (probes, roughness * np.sqrt(clean[probes - 1]) *
                                          np.exp(rng.normal(0, 0.1, len(probes))))
        curves["probe/grad_predictiveness"] = (probes, roughness * 2 * clean[probes - 1] *
                                               np.exp(rng.normal(0, 0.1, len(probes))))
        curves["probe/beta_smoothness"] = (probes, roughness * 5 * np.exp(rng.normal(0, 0.1, len(probes))))
    finals = {} if diverge_at else {
        "final_train_loss": float(loss[-log_interval:].mean()), "final_train_acc": float(curves["train/acc"][1][-1]),
        "final_test_loss": float(test_loss[-1]), "final_test_acc": float(test_acc[-1])}
    summary = make_summary(
        status="diverged" if diverge_at else "completed", experiment=experiment, model=model, norm=norm,
        batch_size=batch_size, seed=seed, lr=lr, steps=diverge_at or steps, max_steps=steps,
        diverged_step=diverge_at, error=f"train loss became nan at step {diverge_at}" if diverge_at else None,
        **finals)
    return summary, curves


def synthesize_results(root: Path, *, models=("mlp", "cnn"), norms=("none", "batch", "layer", "group", "rms"),
                       batch_sizes=(8, 16, 64, 128, 256), lrs=(0.01, 0.1), seeds=range(5), steps: int = 3000,
                       probe_interval: int = 250, experiment: str = "sweep") -> list[Path]:
    """A full sweep (default 2 × 5 × 5 × 2 × 5 = 500 runs) under root/<experiment>/<run-name>/."""
    written = []
    for model in models:
        for norm in norms:
            for batch_size in batch_sizes:
                for lr in lrs:
                    for seed in seeds:
                        summary, curves = realistic_run(norm, batch_size, lr, seed, steps, model=model,
                                                        probe_interval=probe_interval, experiment=experiment)
                        written.append(write_run_dir(Path(root) / experiment / summary["run_name"], summary, curves))
    return written
