"""docs/your_model.md's worked example, shrunk: examples/your_model writes CIFAR-10-format files that data=cifar10
reads, and its factory trains on them with data.augment=standard."""

import importlib.util
import json

from normbench.engine.run import run_experiment
from tests.core.conftest import REPO

EXAMPLE = REPO / "examples" / "your_model"


def _make_tiny_cifar():
    spec = importlib.util.spec_from_file_location("make_tiny_cifar", EXAMPLE / "make_tiny_cifar.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_files_train_the_example_factory(make_cfg, tmp_path, monkeypatch):
    _make_tiny_cifar().main([str(tmp_path / "cifar"), "--per-batch", "8", "--test", "10"])
    monkeypatch.syspath_prepend(str(EXAMPLE))
    cfg = make_cfg("experiment=your_model", "model=factory", "model.target=tiny_net:small_cnn", "data=cifar10",
                   f"data.root={tmp_path / 'cifar'}", "data.augment=standard", "norm=group", "batch_size=8",
                   "extra.train_samples=24", "progress=false", f"results_dir={tmp_path}")
    summary = run_experiment(cfg, tmp_path / "run")
    assert summary["status"] == "completed" and summary["steps"] == 3 and summary["lr"] == 0.1 * 8 / 32
    assert summary["data_shape"] == [3, 32, 32] and summary["data_num_classes"] == 10
    identity = json.loads((tmp_path / "run" / "identity.json").read_text())["identity"]
    assert identity["data"]["augment"] == "standard" and identity["model"]["target"] == "tiny_net:small_cnn"
