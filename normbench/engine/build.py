"""Build what a run needs from its config: data, the model with its norms, the optimizer and its learning-rate
schedule, the batches.

Everything is built before anything is written, so bad input fails here and leaves no trace.
"""

from dataclasses import dataclass

import torch

from normbench.config.schema import Switch
from normbench.config.validate import Options, validate
from normbench.data import Splits, load_data
from normbench.data.pipeline.batches import Batches
from normbench.data.pipeline.feed import feed
from normbench.engine.compiling import CompileChoice, choose_compile
from normbench.engine.device import resolve_device
from normbench.engine.precision import check_precision
from normbench.engine.seeding import reset_global_state
from normbench.engine.stopping import STOP
from normbench.models import InputSpec, build_model
from normbench.norms import NormFactory
from normbench.optim import build_optimizer
from normbench.optim._schedule import build_scheduler


@dataclass
class Built:
    options: Options
    data: Splits  # on `device`, or in host memory where the data exceed the device's budget (streamed)
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler  # stepped after every optimizer step
    batches: Batches
    max_steps: int
    device: torch.device
    norms: list[torch.nn.Module]  # every norm the model got from normbench (mixed precision keeps them in fp32)
    streamed: bool = False  # batches come from host memory (data.max_device_bytes), not from data on `device`
    compile: CompileChoice = CompileChoice(False, "trainer.compile=false")  # torch.compile the training forward?


def build(cfg) -> Built:
    options = validate(cfg)
    STOP.check()  # a stop asked for during composition: before the data is read
    data = load_data(options.data)  # before seeding: a data generator may reseed numpy's global RNG
    STOP.check()
    reset_global_state(cfg.seed, cfg.deterministic, cfg.num_threads)
    device = resolve_device(cfg.device)
    if device.type == "cuda" and device.index is None:  # name the GPU, as a tensor moved there would (cuda:0)
        device = torch.device("cuda", torch.cuda.current_device())
    fed = feed(data, options.data, cfg.batch_size, cfg.seed, device)
    check_precision(cfg.trainer.precision, device)
    spec = InputSpec(tuple(options.data.shape), options.data.num_classes)
    make_norm = NormFactory(options.norm, owner=f"model={options.model.name}")
    model = build_model(options.model, spec, make_norm).to(device)
    STOP.check()
    optimizer = build_optimizer(options.optim, model.parameters())
    batches = fed.batches
    max_steps = cfg.trainer.epochs * batches.per_epoch if cfg.trainer.epochs is not None else cfg.trainer.max_steps
    scheduler = build_scheduler(options.optim, optimizer, max_steps)
    return Built(options, fed.data, model, optimizer, scheduler, batches, max_steps, device, make_norm.made,
                 fed.streamed, choose_compile(Switch.parse(cfg.trainer.compile, "trainer.compile"), model, device))
