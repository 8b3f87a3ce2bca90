"""A small CNN for `model=factory model.target=tiny_net:small_cnn` (docs/your_model.md's worked example):
normbench calls it with `norm_layer`, the data's `num_classes` and `input_shape`, and `model.kwargs`."""

from torch import nn


def small_cnn(norm_layer, num_classes, input_shape, width=20):
    channels = input_shape[0]

    def block(inputs, outputs):  # conv -> norm -> ReLU, halving the resolution
        return [nn.Conv2d(inputs, outputs, 3, stride=2, padding=1), norm_layer(outputs), nn.ReLU()]

    return nn.Sequential(*block(channels, width), *block(width, 2 * width), *block(2 * width, 2 * width),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, num_classes))
