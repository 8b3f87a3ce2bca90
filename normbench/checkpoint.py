"""Mid-run checkpoints, so a killed or preempted run resumes where it stopped instead of from zero.

Everything that decides what happens next is saved: weights, optimizer state, the batch order and all
random generators; a resumed run continues exactly as the uninterrupted one would have.
"""

import io
import random
from pathlib import Path

import numpy as np
import torch

from normbench.atomic import write_bytes_atomic

FILENAME = "checkpoint.pt"


def save_checkpoint(run_dir: Path, config_hash: str, step: int, trainer) -> None:
    state = {
        "config_hash": config_hash,
        "step": step,
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "batches": trainer.batches.state_dict(),
        "latest": dict(trainer.latest),
        "rng": {
            "python": random.getstate(),
            "numpy": np.random.get_state(),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        },
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes_atomic(Path(run_dir) / FILENAME, buffer.getvalue())


def load_checkpoint(run_dir: Path, config_hash: str) -> dict | None:
    """The saved state if it belongs to this configuration and can be read, else None (start afresh)."""
    path = Path(run_dir) / FILENAME
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # a truncated or foreign file: restarting cleanly is the safe answer
        return None
    return state if state.get("config_hash") == config_hash else None


def restore(state: dict, trainer) -> None:
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.batches.load_state_dict(state["batches"])
    trainer.latest.update(state["latest"])
    rng = state["rng"]
    random.setstate(rng["python"])
    np.random.set_state(rng["numpy"])
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
