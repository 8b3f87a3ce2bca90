"""A network (for `model=factory`) that signals its own process from inside a `__del__`, at a chosen training
step: where a signal handler that raises loses its exception ("Exception ignored in ..."), as a SIGTERM that
lands in a garbage-collector or weakref callback does."""

import os
import signal

from torch import nn


class _SignalsWhenCollected:
    def __init__(self, signum: int):
        self.signum = signum

    def __del__(self):
        os.kill(os.getpid(), self.signum)
        sum(range(1000))  # more bytecode: Python runs the signal's handler here, inside __del__


class SignalsMidTraining(nn.Module):
    def __init__(self, norm_layer, num_classes, input_shape, signal_name, at_step):
        super().__init__()
        width = input_shape[0]
        self.body = nn.Sequential(nn.Linear(width, 16), norm_layer(16), nn.ReLU(), nn.Linear(16, num_classes))
        self.signum, self.at_step, self.train_calls = signal.Signals[signal_name], at_step, 0

    def forward(self, x):
        if self.training and x.shape[0] > 2:  # a training step (the dry run has two samples, evaluation is eval())
            self.train_calls += 1
            if self.train_calls == self.at_step:
                _SignalsWhenCollected(self.signum)  # collected at once: its __del__ signals
        return self.body(x)


def net(norm_layer, num_classes, input_shape, signal_name="SIGTERM", at_step=30):
    return SignalsMidTraining(norm_layer, num_classes, input_shape, signal_name, at_step)
