"""Runs read from their TensorBoard event files: the curves of any run without metrics.csv, and the whole
record of a run without summary.json (its status and final values inferred from the last logged points)."""

import math

import numpy as np

from normbench.report.discover import RunDir
from normbench.report.events import CorruptEventFile, read_events
from normbench.report.load.record import Curves, UnreadableRun
from normbench.report.load.run_config import config_from_hparams, config_from_hydra, identity_hashes
from normbench.report.load.summary_file import model_columns
from normbench.rundir.contract import COMPLETED, DIVERGED, FINAL_KEYS, HPARAM_KEYS, HYDRA_CONFIG, SUMMARY

EVENTS_ONLY_NOTE = (f"no {SUMMARY}: read from TensorBoard events; status and final values inferred from the "
                    "last logged points")


def read_events_only(run: RunDir, record: dict) -> tuple[dict, Curves]:
    """The record of a run that left only event files (an older normbench, another tool)."""
    curves, finals, hparams, diverged_step = event_curves(run)
    config = _event_run_config(run, hparams)
    config_hash, group_hash = identity_hashes(config)
    steps = max((int(s[-1]) for s, _ in curves.values() if len(s)), default=0)
    record.update(
        status=DIVERGED if diverged_step is not None else COMPLETED,
        source="events", loss_resolution="log-window mean", note=EVENTS_ONLY_NOTE,
        run_name=run.path.name, config_hash=config_hash, group_hash=group_hash,
        steps=steps, max_steps=steps, diverged_step=diverged_step,
        **model_columns(config["model"], config.get("model_cell")),
        **{key: config[key] for key in ("experiment", *HPARAM_KEYS) if key != "model"},
    )
    record.update(_final_values(curves, finals, diverged_step))
    return record, curves


def _event_run_config(run: RunDir, hparams: dict) -> dict:
    config = config_from_hparams(hparams) or config_from_hydra(run.path / HYDRA_CONFIG)
    if config is None:
        raise UnreadableRun(f"event files only, and neither their hparams nor {HYDRA_CONFIG} give the "
                            f"configuration ({', '.join(HPARAM_KEYS)}): cannot group it")
    config.setdefault("experiment", run.path.parent.name)  # results/<experiment>/<run-name>/
    return config


def _final_values(curves: Curves, finals: dict, diverged_step: int | None) -> dict:
    """FINAL_KEYS from the hparam/final_* scalars the trainer logs at the end, else the curves' last points; none
    for a diverged run (as its summary would say)."""
    values = {}
    for key in FINAL_KEYS:
        tag = key.removeprefix("final_").replace("_", "/", 1)  # final_test_acc -> test/acc
        values[key] = None if diverged_step is not None else finals.get(key, _last(curves.get(tag)))
    return values


def event_curves(run: RunDir) -> tuple[Curves, dict, dict, int | None]:
    """(finite curves, hparam/final_* values, hparams, first step with a non-finite train loss)."""
    try:
        data = read_events(run.path, run.event_files)
    except CorruptEventFile as error:
        raise UnreadableRun(f"corrupt event file {error}") from None
    curves, finals = {}, {}
    for tag, (steps, values) in data.scalars.items():
        if tag.startswith("hparam/"):
            finals[tag.removeprefix("hparam/")] = _last((steps, values))
        else:  # a diverged run's nan/inf points stay out of the curves; diverged_step records where they began
            finite = np.isfinite(values)
            curves[tag] = (steps[finite], values[finite])
    loss_steps, loss = data.scalars.get("train/loss", (np.array([], dtype=np.int64), np.array([])))
    non_finite = loss_steps[~np.isfinite(loss)]
    return curves, finals, data.hparams, int(non_finite[0]) if len(non_finite) else None


def _last(series) -> float | None:
    """The last value of (steps, values), None if there is none or it is not finite."""
    if series is None or len(series[1]) == 0:
        return None
    value = float(series[1][-1])
    return value if math.isfinite(value) else None
