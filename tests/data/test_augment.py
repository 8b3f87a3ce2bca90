"""data.augment=standard: random crop with 4 px of zero padding and a horizontal flip, on the device, seeded
with a generator of its own (the batch order stays that of augment=none), resumable, images only."""

import pytest
import torch
import torch.nn.functional as F

from normbench.config.options import Augment
from normbench.data.pipeline.augment import PAD, CropFlipBatches, augmented, crop_flip
from normbench.data.pipeline.batches import EpochBatches
from normbench.engine.run import run_experiment
from normbench.errors import ConfigError
from normbench.rundir.identity import config_hash, run_name

from .resume import evaluations, interrupt_after_first_checkpoint, train_losses

STEPS = ["model=cnn", "norm=batch", "data=digits", "batch_size=16", "trainer.max_steps=12", "trainer.eval_interval=6",
         "trainer.log_interval=3", "progress=false", "num_threads=1"]


def _images(n=6, c=2, h=5, w=7):
    return torch.arange(n * c * h * w, dtype=torch.float32).reshape(n, c, h, w) + 1  # no zeros of its own


def _reference(x, offsets, flips):
    """One sample at a time, as torchvision's RandomCrop(padding=4) + RandomHorizontalFlip would do it."""
    h, w = x.shape[2:]
    out = []
    for sample, (top, left), flip in zip(x, offsets.tolist(), flips.tolist()):
        crop = F.pad(sample, (PAD,) * 4)[:, top : top + h, left : left + w]
        out.append(crop.flip(-1) if flip else crop)
    return torch.stack(out)


def test_a_centred_crop_keeps_the_image_and_a_flip_mirrors_it():
    x = _images()
    flips = torch.tensor([True, False, True, False, False, True])
    out = crop_flip(x, torch.full((6, 2), PAD), flips)
    assert out.shape == x.shape
    assert torch.equal(out[flips], torch.flip(x[flips], dims=[-1]))
    assert torch.equal(out[~flips], x[~flips])


def test_an_offset_crop_shifts_the_image_in_and_pads_with_zeros():
    x = _images()
    out = crop_flip(x, torch.tensor([[0, 0]] * 3 + [[2 * PAD, 2 * PAD]] * 3), torch.zeros(6, dtype=torch.bool))
    top_left, bottom_right = out[:3], out[3:]
    assert (top_left[:, :, :PAD, :] == 0).all() and (top_left[:, :, :, :PAD] == 0).all()
    assert torch.equal(top_left[:, :, PAD:, PAD:], x[:3, :, : 5 - PAD, : 7 - PAD])
    assert (bottom_right[:, :, -PAD:, :] == 0).all() and (bottom_right[:, :, :, -PAD:] == 0).all()
    assert torch.equal(bottom_right[:, :, : 5 - PAD, : 7 - PAD], x[3:, :, PAD:, PAD:])


def test_random_crops_and_flips_match_a_per_sample_reference():
    x = torch.randn(32, 3, 9, 11, generator=torch.Generator().manual_seed(0))
    batches = CropFlipBatches(EpochBatches(x, torch.zeros(32), 32, torch.Generator().manual_seed(0)), seed=3)
    offsets, flips = batches.draw(32)
    assert offsets.min() == 0 and offsets.max() == 2 * PAD and 0 < flips.sum() < 32  # the draws span their ranges
    assert torch.equal(crop_flip(x, offsets, flips), _reference(x, offsets, flips))


def test_the_order_is_that_of_no_augmentation_and_a_seed_repeats_the_draws():
    x, y = torch.randn(40, 1, 6, 6), torch.arange(40)
    plain = EpochBatches(x, y, 8, torch.Generator().manual_seed(5))
    first = CropFlipBatches(EpochBatches(x, y, 8, torch.Generator().manual_seed(5)), seed=5)
    again = CropFlipBatches(EpochBatches(x, y, 8, torch.Generator().manual_seed(5)), seed=5)
    other = CropFlipBatches(EpochBatches(x, y, 8, torch.Generator().manual_seed(5)), seed=6)
    different = 0
    for _ in range(7):  # across an epoch boundary
        (xp, yp), (x1, y1), (x2, _), (x3, _) = plain.next(), first.next(), again.next(), other.next()
        assert torch.equal(yp, y1) and torch.equal(x1, x2) and x1.shape == xp.shape
        different += not torch.equal(x1, x3)
    assert different == 7


def test_augmentation_state_resumes_mid_stream():
    x, y = torch.randn(40, 1, 6, 6), torch.arange(40)
    straight = CropFlipBatches(EpochBatches(x, y, 8, torch.Generator().manual_seed(1)), seed=1)
    for _ in range(3):
        straight.next()
    state = straight.state_dict()
    resumed = CropFlipBatches(EpochBatches(x, y, 8, torch.Generator().manual_seed(9)), seed=9)
    resumed.load_state_dict(state)
    for _ in range(6):
        (xa, ya), (xb, yb) = straight.next(), resumed.next()
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_a_resumed_augmented_run_equals_an_uninterrupted_one(make_cfg, tmp_path, monkeypatch):
    cfg = make_cfg(*STEPS, "data.augment=standard", "trainer.checkpoint_interval=6")
    interrupt_after_first_checkpoint(cfg, tmp_path / "run", monkeypatch)
    assert len(train_losses(tmp_path / "run")) == 6
    resumed = run_experiment(cfg, tmp_path / "run")
    straight = run_experiment(cfg, tmp_path / "straight")
    assert resumed["resumed_from_step"] == 6 and resumed["status"] == "completed"
    assert train_losses(tmp_path / "run") == train_losses(tmp_path / "straight")
    assert evaluations(tmp_path / "run") == evaluations(tmp_path / "straight")
    plain = run_experiment(make_cfg(*STEPS), tmp_path / "plain")
    assert plain["final_train_loss"] != straight["final_train_loss"]  # the augmentation was applied


def test_augment_is_an_added_identity_field_and_names_the_run(make_cfg):
    assert config_hash(make_cfg(*STEPS)) == config_hash(make_cfg(*STEPS, "data.augment=none"))
    augmented_cfg = make_cfg(*STEPS, "data.augment=standard")
    assert config_hash(augmented_cfg) != config_hash(make_cfg(*STEPS))
    assert run_name(augmented_cfg, ["data.augment=standard"]).endswith("_augment=standard")


def test_augmentation_of_data_that_are_not_images_is_refused_in_one_line(make_cfg, tmp_path):
    with pytest.raises(ConfigError) as refused:
        run_experiment(make_cfg("data=synthetic", "data.augment=standard", "progress=false"), tmp_path / "run")
    assert str(refused.value) == ("data.augment=standard crops and flips images of shape [C, H, W]; these samples "
                                  "have shape [128]: use data.augment=none")
    assert not (tmp_path / "run").exists()
    sequences = EpochBatches(torch.zeros(4, 1, 40), torch.zeros(4), 2, torch.Generator())
    with pytest.raises(ConfigError, match=r"have shape \[1, 40\]"):
        augmented(sequences, Augment.standard, (1, 40), 0)


def test_an_unknown_augmentation_is_refused_with_the_choices(make_cfg):
    with pytest.raises(Exception) as refused:
        make_cfg("data.augment=mixup")
    assert "expected one of [none, standard]" in str(refused.value.__cause__)
