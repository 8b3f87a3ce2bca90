"""Runs on the user's files: each format trains through run_experiment (one through the CLI), and the data's
contents, not only its path, are part of a run's identity."""

import json
import os
import pickle

import numpy as np
import pytest

from normbench.data import _files
from normbench.data._pickle import load_arrays_pickle
from normbench.engine.run import run_experiment
from normbench.errors import ConfigError
from normbench.rundir.identity import config_hash, identity_dict

from . import make_files

STEPS = ["trainer.max_steps=3", "trainer.eval_interval=3", "trainer.log_interval=1", "progress=false", "batch_size=8"]


@pytest.mark.parametrize("model, make, overrides", [
    ("mlp", lambda t: make_files.npz(t / "d.npz"), ["data=npz", "data.path={}"]),
    ("mlp", lambda t: make_files.csv(t / "d.csv", names=True), ["data=csv", "data.path={}", "data.label=kind"]),
    ("cnn", lambda t: make_files.image_folder(t / "img"), ["data=image_folder", "data.root={}", "data.image_size=8"]),
    ("cnn", lambda t: make_files.cifar10(t / "c"), ["data=cifar10", "data.root={}"]),
    ("mlp", lambda t: make_files.cifar100(t / "c"), ["data=cifar100", "data.root={}"]),
    ("cnn", lambda t: make_files.mnist(t / "m"), ["data=mnist", "data.root={}"]),
], ids=["npz", "csv", "image_folder", "cifar10", "cifar100", "mnist"])
def test_each_format_trains(make_cfg, tmp_path, model, make, overrides):
    path = make(tmp_path)
    cfg = make_cfg(*STEPS, f"model={model}", "norm=batch", f"results_dir={tmp_path}",
                   *(o.format(path) for o in overrides))
    summary = run_experiment(cfg, tmp_path / "run")
    assert summary["status"] == "completed" and summary["steps"] == 3
    identity = json.loads((tmp_path / "run" / "identity.json").read_text())
    assert len(identity["identity"]["data"]["fingerprint"]) == 16


def test_the_cli_trains_on_an_image_folder(forked_normbench, tmp_path):
    root = make_files.image_folder(tmp_path / "img", mode="L")
    out = forked_normbench.train(tmp_path / "logs", *STEPS, "model=cnn", "norm=group", "norm.groups=5",
                                 "data=image_folder", f"data.root={root}", f"results_dir={tmp_path / 'results'}")
    assert out.returncode == 0, out.stderr
    (summary,) = (tmp_path / "results").rglob("summary.json")
    assert json.loads(summary.read_text())["status"] == "completed"


def test_the_fingerprint_follows_the_contents_not_the_time_stamps(make_cfg, tmp_path, monkeypatch):
    path = make_files.npz(tmp_path / "d.npz")
    cfg = lambda p=path: make_cfg("data=npz", f"data.path={p}", f"data.cache_dir={tmp_path / 'cache'}")  # noqa: E731
    before = config_hash(cfg())
    reads = []
    sha256 = _files._sha256
    monkeypatch.setattr(_files, "_sha256", lambda p: reads.append(p) or sha256(p))
    assert config_hash(cfg()) == before and reads == []  # cached by (path, size, mtime, inode)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched: read again, same digest
    assert config_hash(cfg()) == before and reads == [path]
    data = bytearray(path.read_bytes())
    data[-30] ^= 0xFF  # one byte changed in place: same size, and the time stamp set back as it was
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    edited = config_hash(cfg())
    assert edited != before
    copy = tmp_path / "elsewhere.npz"
    copy.write_bytes(path.read_bytes())
    assert config_hash(cfg(copy)) == edited  # the contents are the identity, wherever the file lives


def test_built_in_data_has_no_fingerprint(make_cfg):
    for name in ("mnist1d", "digits", "synthetic"):
        assert "fingerprint" not in identity_dict(make_cfg(f"data={name}"))["data"]


def test_a_run_on_an_edited_file_is_not_taken_for_the_finished_one(make_cfg, tmp_path):
    path = make_files.npz(tmp_path / "d.npz")
    cfg = lambda *more: make_cfg(*STEPS, "model=mlp", "data=npz", f"data.path={path}", *more)  # noqa: E731
    run_dir = tmp_path / "run"
    first = run_experiment(cfg(), run_dir)
    assert run_experiment(cfg(), run_dir)["skipped"]  # unchanged file: finished, skipped
    make_files.npz(path, seed=1)  # same shapes, other values
    with pytest.raises(ConfigError, match="holds a run of a different configuration"):
        run_experiment(cfg(), run_dir)
    again = run_experiment(cfg("force=true"), run_dir)
    assert "skipped" not in again and again["config_hash"] != first["config_hash"]


class _Touches:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_the_unpickler_refuses_a_call_before_making_it(tmp_path):
    target = tmp_path / "pwned"
    (tmp_path / "batch").write_bytes(pickle.dumps({"data": _Touches(target)}, protocol=4))
    with pytest.raises(ConfigError, match=r"asks for (posix|nt|os)\.system, which a data file has no use for"):
        load_arrays_pickle(tmp_path / "batch", "a CIFAR batch")
    assert not target.exists()
    arrays = {"data": np.arange(6, dtype=np.uint8).reshape(2, 3), "labels": [1, 2], "name": b"x"}
    for protocol in (2, 4, 5):
        (tmp_path / "ok").write_bytes(pickle.dumps(arrays, protocol=protocol))
        loaded = load_arrays_pickle(tmp_path / "ok", "a CIFAR batch")
        assert np.array_equal(loaded["data"], arrays["data"]) and loaded["labels"] == [1, 2]
