"""identity.json: what a run computes, flattened to dotted keys, for the comparison sets of decide.comparable."""

import json
from pathlib import Path

from normbench.decide.comparable import flatten_identity


def read_identity(path: Path) -> str | None:
    """The run's identity flattened (`data.shape` -> "[28,28]") as JSON text; None when the file is missing or
    unreadable (the run is then compared by its summary's columns only, as before identities existed)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    identity = record.get("identity") if isinstance(record, dict) else None
    if not isinstance(identity, dict):
        return None
    return json.dumps(flatten_identity(identity), sort_keys=True)
