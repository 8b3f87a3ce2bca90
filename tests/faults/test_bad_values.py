"""Bad values and keys: each refused before anything runs, in one line naming what is wrong and what is allowed."""

import pytest

from normbench.config.preflight import command_line_error
from normbench.config.validate import validate
from normbench.errors import ConfigError
from tests.core.conftest import TINY
from tests.core.conftest import make_cfg as make_cfg  # the fixture, shared with tests/core


@pytest.mark.parametrize("overrides, message", [
    (["trainer.grad_clip=nan"], "trainer.grad_clip=nan must be positive (and finite)"),
    (["norm.eps=nan"], "norm.eps=nan must be positive"),
    (["trainer.divergence_loss=-1"], "trainer.divergence_loss=-1.0 must be positive"),
    (["trainer.divergence_loss=nan"], "trainer.divergence_loss=nan must be a finite number"),
    (["optim.lr=inf"], "optim.lr=inf must be positive (and finite)"),
    (["optim.lr=nan"], "optim.lr=nan must be positive"),
    (["optim.betas=[0.9,nan]"], "optim.betas[i]=nan must be in [0.0, 0.999999]"),
    (["optim=sgd", "optim.momentum=nan"], "optim.momentum=nan must be in [0, 1)"),
    (["optim=sgd", "optim.momentum=1.5"], "optim.momentum=1.5 must be in [0, 1)"),
    (["optim=sgd", "optim.momentum=1"], "optim.momentum=1.0 must be in [0, 1)"),
    (["data=synthetic", "data.num_train=100000000"],
     "would be 47.7 GiB of inputs, past the limit data.max_generated_bytes=8589934592 (8 GiB); use fewer samples, "
     "or raise the limit (data.max_generated_bytes=BYTES, or null for none)"),
    (["data=mnist1d", "data.num_train=100000000"], "past the limit data.max_generated_bytes="),
    (["optim=sgd", "optim.momentum=0", "optim.nesterov=true"], "optim.nesterov=true needs optim.momentum > 0"),
    (["norm.momentum=1.5"], "norm.momentum=1.5 must be in [0.0, 1.0]"),
    (["norm.gamma_init=nan"], "norm.gamma_init=nan must be a finite number"),
    (["norm=batch_renorm", "norm.rmax=nan"], "norm.rmax=nan must be >= 1.0"),
    (["norm=ghost_batch", "norm.virtual_batch_size=1"], "norm.virtual_batch_size=1 must be >= 2"),
    (["norm=group", "norm.groups=0"], "norm.groups=0 must be positive"),
    (["num_threads=-3"], "num_threads=-3 must be >= 0"),
    (["trainer.epochs=3", "trainer.max_steps=10"], "trainer.epochs=3 and trainer.max_steps=10 both set the budget"),
    (["probe.max_scale=inf"], "probe.max_scale=inf must be finite"),
    (["data.num_train=0"], "data.num_train=0 must be positive"),
    (["model=mlp", "model.hidden=[]"], "model.hidden=[] must be a non-empty list"),
    (["+norm.groups=3"], "norm.groups is not a key of BatchNormConfig"),  # `+` slipped a key past the schema
    (["+foo=1"], "foo is not a key of Config"),
])
def test_bad_values_are_refused_in_one_line(make_cfg, overrides, message):
    with pytest.raises(ConfigError) as refused:
        validate(make_cfg(*overrides))
    assert message in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize("argv, message", [
    (["optimizer=sgd"], "there is no setting 'optimizer' (did you mean optim=sgd?)"),
    (["+trainer.max_stpes=5"], "trainer has no key 'max_stpes' (did you mean trainer.max_steps?)"),
    (["norm=group", "norm.grups=3"], "norm=group has no key 'grups' (did you mean norm.groups?)"),
    (["model=mlp", "model.cell=gru"],
     "model.cell=gru: model.cell is a key of model=rnn, not of model=mlp; choose model=rnn or drop it"),
    (["+model.cell=gru"], "model.cell is a key of model=rnn, not of model=mlp"),  # the default model, with a `+`
    (["model=mlp", "model.cel=gru"], "model.cel=gru: model=mlp has no key 'cel'; its keys: hidden, layer_norms, name, "
                                     "residual"),  # only the MLP's keys, no other model's
    (["norm.groups=4"], "norm.groups is a key of norm=group, not of norm=batch"),
    (["model=mpl"], "model=mpl is not a model in configs/model/; choose one of: cnn, factory, mlp, rnn, torchvision, transformer (did you mean model=mlp?)"),
    (["results_dir=/dev/null"], "results_dir=/dev/null is a file; give a directory"),
    (["results_dir=/dev/null/below"], "results_dir=/dev/null/below is below the file /dev/null"),
])
def test_unknown_keys_options_and_unusable_directories_get_one_line_before_hydra(argv, message):
    problem = command_line_error(argv)
    assert problem is not None and message in problem and "\n" not in problem


@pytest.mark.parametrize("argv", [
    ["model=rnn", "model.cell=gru"], ["model=mlp,rnn", "model.cell=gru"], ["norm=batch,group", "norm.groups=4"],
    ["experiment=bn_vs_ln", "model.cell=gru"],  # the study chooses the model: Hydra checks it once composed
    ["model=choice(mlp,rnn)", "model.cell=gru"],
])
def test_a_key_of_a_selected_option_passes_the_command_line_check(argv):
    assert command_line_error(argv) is None


def test_free_metadata_and_sweep_functions_pass_the_command_line_check():
    assert command_line_error(["+extra.note=pilot", "norm=choice(batch,layer)", "hydra.launcher.n_jobs=2"]) is None


def test_a_read_only_results_dir_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        problem = command_line_error([f"results_dir={locked / 'runs'}"])
    finally:
        locked.chmod(0o700)
    import os

    if os.geteuid() == 0:  # root may write anywhere: the check rightly passes
        assert problem is None
    else:
        assert "is not writable" in problem


@pytest.mark.parametrize("argv, message", [
    (["optim.lr=nan"], "normbench: error: optim.lr=nan must be positive (and finite)"),
    (["optimizer=sgd"], "normbench: error: optimizer=sgd: there is no setting 'optimizer' (did you mean optim=sgd?)"),
])
def test_the_cli_exits_2_with_one_line_and_writes_nothing(forked_normbench, tmp_path, argv, message):
    results = tmp_path / "results"
    out = forked_normbench.train(tmp_path / "logs", *argv, *TINY, "data=synthetic", f"results_dir={results}")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith(message)
    assert "Traceback" not in out.stderr
    assert not results.exists() or not any(p.is_file() for p in results.rglob("*"))


@pytest.fixture
def logging_restored():
    """Hydra configures logging when its app runs in this process: put every logger back afterwards, so the
    tests after this one still see normbench's log records."""
    import logging

    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    saved = [(lg, lg.level, list(lg.handlers), lg.propagate, lg.disabled) for lg in loggers]
    yield
    for logger, level, handlers, propagate, disabled in saved:
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate, logger.disabled = propagate, disabled


def test_a_full_disk_while_a_run_writes_ends_it_in_one_line(tmp_path, monkeypatch, capsys, logging_restored):
    """ENOSPC from the metrics log mid-run (simulated): exit 2, one line naming the file and the error, and the
    run's summary says failed with the steps it trained."""
    import errno
    import json
    import sys

    from normbench.cli.train import main
    from normbench.rundir.metrics_log import MetricsLog

    real_flush, calls = MetricsLog.flush, []

    def flush_until_full(self):
        calls.append(1)
        if len(calls) > 2:  # the first evaluations land; then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        real_flush(self)

    monkeypatch.setattr(MetricsLog, "flush", flush_until_full)
    results = tmp_path / "results"
    monkeypatch.setattr(sys, "argv", ["normbench train", *TINY, "data=synthetic", "trainer.eval_interval=10",
                                      f"results_dir={results}", "hydra/job_logging=disabled"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("normbench: error: OSError: ") and err[-1].endswith("metrics.csv: No space left on device")
    (summary,) = results.rglob("summary.json")
    record = json.loads(summary.read_text())
    assert record["status"] == "failed" and 0 < record["steps"] < 40 and "No space left" in record["error"]


def test_the_generated_data_limit_can_be_raised_or_lifted(make_cfg):
    for limit in ("null", str(64 * 2**30)):
        validate(make_cfg("data=synthetic", "data.num_train=100000000", f"data.max_generated_bytes={limit}"))
