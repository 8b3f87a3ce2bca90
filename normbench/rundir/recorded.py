"""Which configuration a run directory already holds, from the best evidence it has.

summary.json says it for a finished (or failed) run. Without a readable one — a run killed before the end,
a summary cut short or corrupted — identity.json (written when the run started) says it; without that, the
run's own resolved config, `.hydra/config.yaml`, typed by today's schemas and hashed as a run's identity is;
last, the checkpoint's sidecar, which names its config hash. A directory holding a run's results
(contract.RUN_FILES, event files) but none of these readable is `unreadable`: nothing may decide it is free
to overwrite. A checkpoint alone holds no results: the checkpoint's own checks decide whether it is used.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from normbench.rundir.contract import (
    CHECKPOINT_SIDECAR,
    EVENTS_PREFIX,
    HYDRA_CONFIG,
    IDENTITY,
    IDENTITY_VERSION,
    RUN_FILES,
    SUMMARY,
)


@dataclass
class Recorded:
    source: str  # the file that said it: SUMMARY, IDENTITY, HYDRA_CONFIG or CHECKPOINT_SIDECAR
    config_hash: str | None
    identity_version: int | None
    summary: dict | None  # the readable summary, if the source is one
    doubts: tuple[str, ...] = ()  # better sources passed over as damaged (a corrupt summary), not merely missing


MISSING = "is missing"


class Unreadable(Exception):
    """The directory holds run files, but no readable record of which configuration they belong to."""


def holds_run(run_dir: Path) -> bool:
    run_dir = Path(run_dir)
    return any((run_dir / name).exists() for name in RUN_FILES) or any(run_dir.glob(f"{EVENTS_PREFIX}*"))


def recorded(run_dir: Path) -> Recorded | None:
    """What `run_dir` records about its run; None if it holds no run; Unreadable if it holds one nobody can place."""
    run_dir = Path(run_dir)
    if not holds_run(run_dir):
        return None
    problems = []  # what each better source lacked, in order
    summary, problem = _read_json(run_dir / SUMMARY)
    if summary is not None:
        return Recorded(SUMMARY, summary.get("config_hash"), summary.get("identity_version", 1), summary)
    problems.append(f"{SUMMARY} {problem}")
    identity, problem = _read_json(run_dir / IDENTITY)
    if identity is not None and identity.get("config_hash"):
        return Recorded(IDENTITY, identity["config_hash"], identity.get("identity_version", 1), None,
                        _damaged(problems))
    problems.append(f"{IDENTITY} {problem or 'has no config_hash'}")
    config_hash, problem = _hash_of_hydra_config(run_dir / HYDRA_CONFIG)
    if config_hash is not None:
        return Recorded(HYDRA_CONFIG, config_hash, IDENTITY_VERSION, None, _damaged(problems))
    problems.append(f"{HYDRA_CONFIG} {problem}")
    sidecar, problem = _read_json(run_dir / CHECKPOINT_SIDECAR)  # written with today's identity, like the run's
    if sidecar is not None and sidecar.get("config_hash"):
        return Recorded(CHECKPOINT_SIDECAR, sidecar["config_hash"], IDENTITY_VERSION, None, _damaged(problems))
    problems.append(f"{CHECKPOINT_SIDECAR} {problem or 'has no config_hash'}")
    raise Unreadable("; ".join(problems))


def _damaged(problems: list[str]) -> tuple[str, ...]:
    return tuple(problem for problem in problems if not problem.endswith(MISSING))


def _read_json(path: Path) -> tuple[dict | None, str | None]:
    """(the JSON object, None) or (None, what is wrong with the file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, MISSING
    except (OSError, UnicodeDecodeError) as error:
        return None, f"cannot be read ({type(error).__name__})"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"is corrupt ({error.msg} at line {error.lineno})"
    except RecursionError:  # nested deeper than the parser's recursion allows: no record looks like that
        return None, "is corrupt (nested too deeply)"
    if not isinstance(value, dict):
        return None, "is not a JSON object"
    return value, None


def _hash_of_hydra_config(path: Path) -> tuple[str | None, str | None]:
    """The config hash of the run's recorded config, as today's identity computes it; or (None, the problem)."""
    import yaml

    from normbench.config.typed import typed_config
    from normbench.errors import ConfigError
    from normbench.rundir.identity import identity_record

    try:
        resolved = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, MISSING
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        return None, f"cannot be read ({type(error).__name__})"
    if not isinstance(resolved, dict):
        return None, "is not a config"
    try:
        return identity_record(typed_config(resolved))["config_hash"], None
    except (ConfigError, KeyError, TypeError, ValueError, AttributeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return None, f"cannot be read with today's schemas ({first})"
