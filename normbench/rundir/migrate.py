"""`normbench migrate DIR`: bring run directories written by earlier normbench versions up to date.

Identity version 1 (normbench 0.1) hashed the whole union config; version 2 hashes only the options a run
uses (normbench/rundir/identity.py). For every run directory under DIR whose summary.json (or, for an
unfinished run, identity.json) is older, the run's own recorded config (.hydra/config.yaml) is typed by
today's schemas and its identity recomputed. Then, each file written atomically, in this order:
  .hydra/config.v1.yaml  the recorded config as it was (once; never overwritten)
  .hydra/config.yaml     the same config in today's form (each option's own keys)
  identity.json          the new identity
  summary.json           config_hash, group_hash and identity_version replaced; the old ones kept
                         under `migrated_from`
summary.json last: it marks the run as migrated, so a run interrupted mid-migration is simply migrated
again, and a migrated run is left alone (idempotent). Nothing is re-run; metrics are untouched.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import yaml
from omegaconf import OmegaConf

from normbench.errors import ConfigError
from normbench.rundir.atomic import write_json_atomic, write_text_atomic
from normbench.rundir.contract import HYDRA_CONFIG, HYDRA_DIR, IDENTITY, IDENTITY_VERSION, SUMMARY

LEGACY_CONFIG = f"{HYDRA_DIR}/config.v1.yaml"


@dataclass
class Migration:
    run_dir: Path
    outcome: str  # migrated | current | unreadable
    detail: str = ""


def migrate_tree(root: Path, dry_run: bool = False) -> list[Migration]:
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root} is not a directory; give a results directory (e.g. results/ or results/bn_vs_ln)")
    return [migrate_run(path.parent.parent, dry_run) for path in sorted(root.rglob(HYDRA_CONFIG))
            if not any(part.startswith(".") for part in path.parent.parent.relative_to(root).parts)]


def migrate_run(run_dir: Path, dry_run: bool = False) -> Migration:
    """One run directory brought up to date. A summary.json that is there but cannot be read (corrupt, a
    directory) makes the run unreadable: migrating around it would leave a run that still cannot be used.
    A write that fails (a read-only file system) raises ConfigError: the other runs would fail alike."""
    summary, problem = _read_json(run_dir / SUMMARY)
    if problem:
        return Migration(run_dir, "unreadable", f"{SUMMARY} {problem}")
    identity, _ = _read_json(run_dir / IDENTITY)  # optional: rewritten from the recorded config anyway
    recorded = summary if summary is not None else identity
    if recorded is not None and recorded.get("identity_version") == IDENTITY_VERSION:
        return Migration(run_dir, "current")
    try:
        record = _new_identity(run_dir)
    except ConfigError as error:
        return Migration(run_dir, "unreadable", str(error))
    if dry_run:
        return Migration(run_dir, "migrated", f"would become {record['config_hash']}")
    old = (summary or {}).get("config_hash")
    try:
        _write(run_dir, record, summary)
    except OSError as error:
        raise ConfigError(f"{run_dir}: cannot write its files ({error.strerror or error}); "
                          f"runs not listed as migrated are as they were: make the directory writable and run "
                          f"`normbench migrate` again (a run half-migrated is simply migrated again)") from None
    return Migration(run_dir, "migrated", f"{old} -> {record['config_hash']}" if old else record["config_hash"])


def _new_identity(run_dir: Path) -> dict:
    from normbench.config.typed import typed_config
    from normbench.rundir.identity import identity_record

    source = run_dir / LEGACY_CONFIG
    if not source.is_file():
        source = run_dir / HYDRA_CONFIG
    try:
        resolved = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"{source}: cannot be read ({error})") from None
    if not isinstance(resolved, dict):
        raise ConfigError(f"{source}: not a config")
    cfg = typed_config(resolved)
    record = identity_record(cfg)
    record["config_yaml"] = OmegaConf.to_yaml(cfg)
    return record


def _write(run_dir: Path, record: dict, summary: dict | None) -> None:
    legacy = run_dir / LEGACY_CONFIG
    if not legacy.exists():
        write_text_atomic(legacy, (run_dir / HYDRA_CONFIG).read_text(encoding="utf-8"))
    write_text_atomic(run_dir / HYDRA_CONFIG, record.pop("config_yaml"))
    write_json_atomic(run_dir / IDENTITY, record)
    if summary is not None:
        previous = {key: summary.get(key) for key in ("config_hash", "group_hash")}
        previous["identity_version"] = summary.get("identity_version", 1)
        summary.update(config_hash=record["config_hash"], group_hash=record["group_hash"],
                       identity_version=IDENTITY_VERSION, migrated_from=previous)
        write_json_atomic(run_dir / SUMMARY, summary)


def _read_json(path: Path) -> tuple[dict | None, str | None]:
    """(the JSON object, None), (None, None) if there is no such file, or (None, what is wrong with it)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, None
    except IsADirectoryError:
        return None, "is a directory"
    except (OSError, ValueError, RecursionError) as error:  # ValueError: bad JSON or UTF-8; RecursionError: nesting
        return None, f"cannot be read ({type(error).__name__})"
    return (value, None) if isinstance(value, dict) else (None, "is not a JSON object")
