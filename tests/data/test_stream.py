"""Data above data.max_device_bytes stream from host memory through a DataLoader: the same full batches in the
same seeded order as the device-resident path, resumable, with the test set evaluated a batch at a time."""

import pytest
import torch

from normbench.data import Splits
from normbench.data.pipeline.batches import EpochBatches
from normbench.data.pipeline.stream import StreamedBatches, data_bytes, device_budget, must_stream
from normbench.engine.build import build
from normbench.engine.run import run_experiment
from normbench.rundir.identity import config_hash, run_name

from .resume import evaluations, interrupt_after_first_checkpoint, train_losses

STEPS = ["model=cnn", "norm=batch", "data=digits", "batch_size=64", "trainer.max_steps=30", "trainer.eval_interval=10",
         "trainer.log_interval=5", "trainer.eval_batch_size=100", "progress=false", "num_threads=1"]
CPU = torch.device("cpu")


def test_the_budget_streams_only_data_above_it():
    splits = Splits(torch.zeros(10, 3), torch.zeros(10, dtype=torch.int64), torch.zeros(4, 3),
                    torch.zeros(4, dtype=torch.int64))
    size = data_bytes(splits)
    assert size == (10 * 3 + 4 * 3) * 4 + 14 * 8
    assert device_budget(None, CPU) is None and not must_stream(splits, None, CPU)  # host data: never on the CPU
    assert not must_stream(splits, size, CPU) and must_stream(splits, size - 1, CPU)


@pytest.mark.parametrize("workers", [0, 2])
def test_streamed_batches_are_the_resident_ones(workers):
    x, y = torch.randn(50, 2, 3), torch.arange(50)
    resident = EpochBatches(x, y, 8, torch.Generator().manual_seed(4))
    streamed = StreamedBatches(x, y, 8, torch.Generator().manual_seed(4), CPU, workers)
    assert streamed.per_epoch == resident.per_epoch == 6
    expected = [resident.next() for _ in range(14)]  # over two epoch boundaries
    for step, (xr, yr) in enumerate(expected):
        xs, ys = streamed.next()
        assert torch.equal(xr, xs) and torch.equal(yr, ys) and len(ys) == 8, step
        if step == 8:  # a checkpoint taken while the loader is ahead records the batches handed out
            assert streamed.state_dict()["position"] == 3
            resumed = StreamedBatches(x, y, 8, torch.Generator().manual_seed(99), CPU, workers)
            resumed.load_state_dict(streamed.state_dict())
    for xr, yr in expected[9:]:
        xs, ys = resumed.next()
        assert torch.equal(xr, xs) and torch.equal(yr, ys)


def test_a_streamed_run_trains_exactly_as_a_resident_one(make_cfg, tmp_path):
    streamed_cfg = make_cfg(*STEPS, "data.max_device_bytes=1000")
    built = build(streamed_cfg)
    assert isinstance(built.batches, StreamedBatches) and built.data.x_test.device == CPU
    resident = run_experiment(make_cfg(*STEPS), tmp_path / "resident")
    streamed = run_experiment(streamed_cfg, tmp_path / "streamed")
    assert streamed["status"] == resident["status"] == "completed"
    assert streamed["data_streamed"] and not resident["data_streamed"]  # the summary says how data were fed
    assert len(train_losses(tmp_path / "streamed")) == 30
    assert train_losses(tmp_path / "streamed") == train_losses(tmp_path / "resident")
    assert evaluations(tmp_path / "streamed") == evaluations(tmp_path / "resident")


def test_a_resumed_streamed_run_equals_an_uninterrupted_one(make_cfg, tmp_path, monkeypatch):
    cfg = make_cfg(*STEPS, "data.max_device_bytes=0", "data.augment=standard", "trainer.checkpoint_interval=10")
    interrupt_after_first_checkpoint(cfg, tmp_path / "run", monkeypatch)
    resumed = run_experiment(cfg, tmp_path / "run")
    assert resumed["resumed_from_step"] == 10 and resumed["status"] == "completed"
    straight = run_experiment(make_cfg(*STEPS, "data.augment=standard"), tmp_path / "straight")  # resident
    assert train_losses(tmp_path / "run") == train_losses(tmp_path / "straight")
    assert evaluations(tmp_path / "run") == evaluations(tmp_path / "straight")
    assert resumed["final_train_loss"] == straight["final_train_loss"]


def test_how_data_reach_the_device_is_not_part_of_a_run(make_cfg):
    cfg = make_cfg(*STEPS, "data.max_device_bytes=0", "data.loader_workers=1")
    assert config_hash(cfg) == config_hash(make_cfg(*STEPS))
    overrides = ["data.max_device_bytes=0", "data.loader_workers=1"]
    assert run_name(cfg, overrides) == run_name(make_cfg(*STEPS), [])


@pytest.mark.parametrize("override, message", [
    ("data.max_device_bytes=-1", "data.max_device_bytes=-1 must be >= 0"),
    ("data.loader_workers=-2", "data.loader_workers=-2 must be >= 0"),
])
def test_bad_feeding_settings_are_refused_in_one_line(make_cfg, override, message):
    from normbench.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        build(make_cfg(*STEPS, override))
