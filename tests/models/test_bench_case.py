"""`normbench bench`'s ResNet-18 case is the issue's setup: torchvision's resnet18 with the CIFAR stem on
3x32x32 inputs at batch 32, every norm site holding the benched norm. (Its speed is the benchmark's business.)"""

import torch
from torch import nn

from normbench.cli.bench import MODELS, _compose
from normbench.engine.build import build


def test_the_resnet18_case_builds_the_cifar_resnet18_at_batch_32(tmp_path, torchvision_models):
    overrides, share = MODELS["resnet18"]
    cfg = _compose([*overrides, "norm=batch", "device=cpu", "trainer.max_steps=1", f"results_dir={tmp_path}"])
    built = build(cfg)
    model = built.model
    assert cfg.batch_size == 32 and tuple(built.data.x_train.shape[1:]) == (3, 32, 32)
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1) and isinstance(model.maxpool, nn.Identity)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 20  # resnet18's norm sites
    reference = torchvision_models.resnet18(num_classes=10)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference.parameters()) - (
        reference.conv1.weight.numel() - 64 * 3 * 3 * 3)  # only the stem's conv differs
    x, y = built.batches.next()
    assert x.shape == (32, 3, 32, 32) and model(x).shape == (32, 10) and y.dtype == torch.int64
    assert 0 < share < 1  # fewer steps than the small models' budget: one ResNet-18 step costs seconds on a CPU
