"""Options from outside the package: `user_dir=DIR` (files and configs) and `normbench.plugins` entry points.

Commands run forked (tests/forked.py), a process each; the entry point's test spawns its own interpreter."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd

from tests.core.conftest import REPO, TINY

PLUGINS = REPO / "examples" / "plugins"
SMALL = [*TINY, "data=synthetic", "data.num_train=200", "data.num_test=100", "batch_size=50"]


def test_the_example_plugin_norm_trains_a_cnn(forked_normbench, tmp_path):
    out = forked_normbench.train(tmp_path / "logs", f"user_dir={PLUGINS}", "norm=mean_only", "model=cnn", "data.shape=[1,128]", *SMALL,
                  f"results_dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    (summary_path,) = tmp_path.rglob("summary.json")
    summary = json.loads(summary_path.read_text())
    assert summary["status"] == "completed" and summary["norm"] == "mean_only" and summary["steps"] == 40
    config = (summary_path.parent / ".hydra" / "config.yaml").read_text()
    assert "name: mean_only" in config and "eps:" in config  # the shared schema's keys, filled in
    losses = pd.read_csv(summary_path.parent / "metrics.csv").query("metric == 'loss' and split == 'train'")
    assert losses.step.tolist() == list(range(1, 41))


def test_a_plugin_norm_takes_the_shared_keys_and_refuses_others(forked_normbench, tmp_path):
    shown = forked_normbench.train(tmp_path / "logs", f"user_dir={PLUGINS}", "norm=mean_only", "norm.eps=0.5", "--cfg", "job")
    assert shown.returncode == 0, shown.stderr
    assert "eps: 0.5" in shown.stdout and "momentum" not in shown.stdout
    refused = forked_normbench.train(tmp_path / "logs", f"user_dir={PLUGINS}", "norm=mean_only", "norm.groups=2", "--cfg", "job")
    assert refused.returncode == 2 and refused.stderr.strip().splitlines()[-1] == (
        "normbench: error: norm.groups=2: norm.groups is a key of norm=group, not of norm=mean_only; choose norm=group "
        "or drop it")


def test_without_its_user_dir_a_plugin_option_is_refused_in_one_line(forked_normbench, tmp_path):
    out = forked_normbench.train(tmp_path / "logs", "norm=mean_only", "--cfg", "job")
    assert out.returncode == 2
    assert out.stderr.strip() == ("normbench: error: norm=mean_only is not a norm in configs/norm/; choose one of: "
                                  "batch, batch_renorm, ghost_batch, group, instance, layer, none, rms, switch")


def test_a_user_dir_that_is_not_a_directory_is_refused_in_one_line(forked_normbench, tmp_path):
    out = forked_normbench.train(tmp_path / "logs", f"user_dir={tmp_path / 'missing'}", "--cfg", "job")
    assert out.returncode == 2 and "is not a directory" in out.stderr and len(out.stderr.strip().splitlines()) == 1


MODEL_PLUGIN = '''
    from dataclasses import dataclass

    from torch import nn

    from normbench import ModelConfig, register_model


    @dataclass
    class TinyConfig(ModelConfig):
        width: int = 7


    @register_model("tiny", config=TinyConfig)
    def build(cfg, spec, make_norm):
        assert isinstance(cfg, TinyConfig)  # the builder gets its own schema, typed
        return nn.Sequential(nn.Flatten(), nn.Linear(spec.shape[-1], cfg.width), make_norm("features", cfg.width),
                             nn.ReLU(), nn.Linear(cfg.width, spec.num_classes))
'''


def test_a_user_model_has_its_own_schema_and_gets_make_norm(forked_normbench, tmp_path):
    user = tmp_path / "user"
    (user / "configs" / "model").mkdir(parents=True)
    (user / "tiny.py").write_text(textwrap.dedent(MODEL_PLUGIN))
    (user / "configs" / "model" / "tiny.yaml").write_text("name: tiny\nwidth: 9\n")
    shown = forked_normbench.train(tmp_path / "logs", f"user_dir={user}", "model=tiny", "--cfg", "job", "--package", "model")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip().splitlines() == ["# @package model", "name: tiny", "width: 9"]
    assert "hidden" not in shown.stdout  # only the model's own keys
    out = forked_normbench.train(tmp_path / "logs", f"user_dir={user}", "model=tiny", "norm=layer", *SMALL, f"results_dir={tmp_path / 'r'}")
    assert out.returncode == 0, out.stderr
    (summary_path,) = (tmp_path / "r").rglob("summary.json")
    summary = json.loads(summary_path.read_text())
    assert summary["model"] == "tiny" and summary["num_params"] == 128 * 9 + 9 + 2 * 9 + 9 * 10 + 10


ENTRY_POINT_PLUGIN = '''
    import torch
    from torch import nn

    from normbench import register_norm


    class Halve(nn.Module):
        def forward(self, x):
            return x * 0.5


    @register_norm("halve", roles=("features", "map1d", "map2d"), shifts=False)
    def build(cfg, site):
        return Halve()
'''


def test_an_installed_plugin_is_found_through_its_entry_point(tmp_path):
    site = tmp_path / "site"
    package = site / "halveplug"
    (package / "configs" / "norm").mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(ENTRY_POINT_PLUGIN))
    (package / "configs" / "norm" / "halve.yaml").write_text("name: halve\n")
    dist = site / "halveplug-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: halveplug\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[normbench.plugins]\nhalve = halveplug\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    out = subprocess.run([sys.executable, "-m", "normbench.cli.main", "train", "norm=halve", *SMALL,
                          f"results_dir={tmp_path / 'r'}"], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    (summary_path,) = (tmp_path / "r").rglob("summary.json")
    assert json.loads(summary_path.read_text())["norm"] == "halve"


def test_the_plugin_api_is_importable_from_the_package_top_without_torch():
    code = ("import sys, normbench; assert 'torch' not in sys.modules; "
            "from normbench import register_norm, register_model, register_dataset, register_optimizer, NormConfig; "
            "print(register_norm.__module__, NormConfig.__name__)")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["normbench.norms._registry", "NormConfig"]


def test_examples_are_documented():
    assert "mean_only" in (PLUGINS / "README.md").read_text()
    assert Path(PLUGINS / "configs" / "norm" / "mean_only.yaml").read_text().strip().endswith("name: mean_only")
