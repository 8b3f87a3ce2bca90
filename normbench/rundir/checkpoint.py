"""Mid-run checkpoints, so a killed or preempted run resumes where it stopped instead of from zero.

Everything that decides what happens next is saved: weights, optimizer state, the batch order and all
random generators; a resumed run continues exactly as the uninterrupted one would have.

Nothing in a run directory is ever executed. `checkpoint.pt` holds only tensors and plain containers and
is read with `torch.load(weights_only=True)`; the configuration it belongs to is read first from a plain
JSON sidecar, `checkpoint.json`, so a checkpoint of another configuration (or a file normbench did not
write) is never even opened as a tensor file.
"""

import io
import json
import random
import warnings
from pathlib import Path

import numpy as np
import torch

from normbench.errors import ConfigError
from normbench.rundir.atomic import write_bytes_atomic, write_json_atomic
from normbench.rundir.contract import CHECKPOINT, CHECKPOINT_SIDECAR

FORMAT = 2  # 1: the pickled checkpoints of normbench 0.1 (never loaded: unpickling them could run code)


def save_checkpoint(run_dir: Path, config_hash: str, step: int, training_state: dict) -> None:
    """`training_state` (the trainer's state_dict: tensors and plain values) with the global generators' states."""
    state = {**training_state, "config_hash": config_hash, "step": step, "rng": _rng_state()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    run_dir = Path(run_dir)
    # The sidecar first: it vouches for the configuration, which never changes within a run, so the tensor
    # file is never on disk without it. The step stored in the tensor file is the one that counts.
    write_json_atomic(run_dir / CHECKPOINT_SIDECAR, {"format": FORMAT, "config_hash": config_hash, "step": step})
    write_bytes_atomic(run_dir / CHECKPOINT, buffer.getvalue())


def remove_checkpoint(run_dir: Path) -> None:
    for name in (CHECKPOINT, CHECKPOINT_SIDECAR):
        (Path(run_dir) / name).unlink(missing_ok=True)


class NotResumable(Exception):
    """A checkpoint is on disk but is not this run's to resume (the message says why); the run starts at step 0."""


def read_sidecar(run_dir: Path) -> dict | None:
    """The checkpoint's plain-JSON description ({format, config_hash, step}), None if absent or unreadable."""
    try:
        sidecar = json.loads((Path(run_dir) / CHECKPOINT_SIDECAR).read_text())
    except (OSError, ValueError, RecursionError):
        return None
    return sidecar if isinstance(sidecar, dict) else None


def load_checkpoint(run_dir: Path, config_hash: str) -> dict | None:
    """The saved state of this configuration's interrupted run, or None where there is no checkpoint.

    Only a checkpoint whose sidecar names this configuration is opened, and only as tensors and plain
    containers: anything else in the file (a pickled object, a payload) is refused with a ConfigError. A
    checkpoint that is not this run's (no sidecar or a damaged one, another configuration's) raises
    NotResumable, saying why: it is never opened.
    """
    run_dir = Path(run_dir)
    path = run_dir / CHECKPOINT
    if not path.is_file():
        return None
    sidecar = read_sidecar(run_dir)
    if sidecar is None:  # none, or one normbench did not write: never unpickled
        missing = not (run_dir / CHECKPOINT_SIDECAR).exists()
        raise NotResumable(f"its {CHECKPOINT_SIDECAR} is {'missing' if missing else 'unreadable'}, so "
                           f"{CHECKPOINT} is not opened")
    if sidecar.get("format") != FORMAT:
        raise NotResumable(f"{CHECKPOINT_SIDECAR} gives format {sidecar.get('format')!r}, not {FORMAT}, so "
                           f"{CHECKPOINT} is not opened")
    if sidecar.get("config_hash") != config_hash:
        raise NotResumable(f"it belongs to another configuration (config hash {sidecar.get('config_hash')!r}, "
                           f"this run's is {config_hash})")
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickle protocols before refusing them
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(
            f"{path} is not a checkpoint normbench can load safely (it holds more than tensors and plain "
            f"values: {first_line}); it was not executed. Delete it to start this run afresh, or pass force=true"
        ) from None
    if not isinstance(state, dict) or state.get("config_hash") != config_hash:
        raise NotResumable(f"{CHECKPOINT} does not hold this configuration's state (its sidecar says it does)")
    return state


def restore_generators(state: dict) -> None:
    """Put python's, numpy's and torch's global generators back where the checkpoint took them."""
    _set_rng_state(state["rng"])


def _rng_state() -> dict:
    """Every generator's state as tensors and plain values, loadable with weights_only=True."""
    numpy_state = np.random.get_state(legacy=False)
    return {
        "python": random.getstate(),  # (version, tuple of ints, gauss): plain values
        "numpy": {"key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
                  "pos": int(numpy_state["state"]["pos"]), "has_gauss": int(numpy_state["has_gauss"]),
                  "gauss": float(numpy_state["gauss"])},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(rng: dict) -> None:
    python = rng["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    numpy = rng["numpy"]
    np.random.set_state({"bit_generator": "MT19937",
                         "state": {"key": numpy["key"].numpy().astype(np.uint32), "pos": numpy["pos"]},
                         "has_gauss": numpy["has_gauss"], "gauss": numpy["gauss"]})
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
