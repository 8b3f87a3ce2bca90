"""A sweep's ETA, weighing each run by its expected cost: a recurrent run or a longer one takes longer.

Each job's cost is its steps times the seconds a step of its model takes:
- measured: the total seconds over the total steps of the sweep's runs of that model that have trained so far
  (from their ledger records: the job's wall time and the steps its summary.json says it trained);
- else a prior, scaled to this machine: STEPS_PER_S_PRIOR (one core, batch 100, docs/sweeps.md) gives the
  models' relative speeds, and the runs measured so far say how much faster or slower this machine is.
Remaining time = elapsed × (cost of the jobs still to run) / (cost of the jobs that ran). The ratio carries
however many jobs run at once (the launcher's parallelism) and skipped jobs take no time. The plan (each
job's model and steps) is known for Hydra's basic sweeper; for other sweepers every remaining job is taken to
cost the mean of those that ran. Neither data set nor batch size is weighed beyond the steps they imply.
"""

from normbench.rundir.contract import INVALID, SKIPPED

# Steps/s of each model on one core at batch 100 (docs/sweeps.md): only their ratios matter.
STEPS_PER_S_PRIOR = {"mlp": 450.0, "cnn": 150.0, "rnn": 30.0}
DEFAULT_PRIOR = STEPS_PER_S_PRIOR["cnn"]  # a model without a prior of its own (torchvision, factory, plugins)


def _trained(record: dict) -> bool:
    """A record of a job that trained, with what its cost is measured from."""
    return (record["status"] not in (SKIPPED, INVALID) and bool(record.get("steps"))
            and record.get("seconds") is not None and record.get("model") is not None)


def _prior_seconds_per_step(model: str) -> float:
    return 1.0 / STEPS_PER_S_PRIOR.get(model, DEFAULT_PRIOR)


class CostModel:
    """Seconds per step for each model, from the records of the jobs that trained."""

    def __init__(self, records: list[dict]):
        ran = [record for record in records if _trained(record)]
        seconds, steps = {}, {}
        for record in ran:
            seconds[record["model"]] = seconds.get(record["model"], 0.0) + record["seconds"]
            steps[record["model"]] = steps.get(record["model"], 0) + record["steps"]
        self.measured = {model: seconds[model] / steps[model] for model in seconds}
        prior = sum(record["steps"] * _prior_seconds_per_step(record["model"]) for record in ran)
        # How this machine compares with the priors' (1.0 until a run has been measured).
        self.scale = sum(seconds.values()) / prior if prior > 0 else 1.0

    def seconds(self, model: str, steps: int) -> float:
        per_step = self.measured.get(model, self.scale * _prior_seconds_per_step(model))
        return steps * per_step


def remaining_seconds(records: list[dict], plan: list[dict] | None, total: int | None, elapsed: float) -> float | None:
    """The time the sweep still needs, or None before any job has trained (or when the size is unknown)."""
    ran = [record for record in records if _trained(record)]
    if not ran:
        return None
    costs = CostModel(records)
    done_cost = sum(costs.seconds(record["model"], record["steps"]) for record in ran)
    done = {int(record["job"]) for record in records}
    if plan is not None:
        remaining = sum(costs.seconds(job["model"], job["steps"]) for job in plan if int(job["job"]) not in done)
    elif total is not None:
        remaining = max(0, total - len(records)) * done_cost / len(ran)
    else:
        return None
    return elapsed * remaining / done_cost if done_cost > 0 else None


def job_plan(config, jobs: list[list[str]]) -> list[dict]:
    """Each job's model and steps, from its overrides on the sweep's config. No config is composed per job: a
    group override names the model, and the other overrides (e.g. batch_size) are merged onto the sweep's
    config so that a budget depending on them (`max_steps: ${nb_div:...}`) resolves to the job's own."""
    from omegaconf import OmegaConf

    base = OmegaConf.masked_copy(config, [key for key in config if key != "hydra"])
    plan = []
    for number, overrides in enumerate(jobs):
        pairs = [override.lstrip("+").split("=", 1) for override in overrides if "=" in override]
        model = next((value for key, value in reversed(pairs) if key == "model"), str(config.model.name))
        settings = [f"{key}={value}" for key, value in pairs if _is_setting(base, key)]
        try:
            steps = int(OmegaConf.merge(base, OmegaConf.from_dotlist(settings)).trainer.max_steps)
        except Exception:  # a value or budget that cannot be resolved without composing: the sweep's default
            steps = int(config.trainer.max_steps)
        plan.append({"job": number, "model": model, "steps": steps})
    return plan


def _is_setting(config, key: str) -> bool:
    """A plain value of the config (batch_size, trainer.max_steps), not a group choice (model=rnn) or Hydra's."""
    from omegaconf import OmegaConf

    if "/" in key or key.startswith("hydra"):
        return False
    node = OmegaConf.select(config, key, default=None, throw_on_resolution_failure=False)
    return node is not None and not OmegaConf.is_config(node)
