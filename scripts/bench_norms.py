"""Forward+backward time and memory of every normbench norm, beside torch's native module for the same job.

    python scripts/bench_norms.py                 # CPU, all threads
    python scripts/bench_norms.py --device cuda   # GPU, peak memory from torch.cuda.max_memory_allocated
    python scripts/bench_norms.py --threads 2 --norms batch_renorm ghost_batch

Shapes (the roles the models feed): features (128, 256); map1d (64, 32, 40); map2d (32, 64, 16, 16);
step (64, 128) at one time step and (64, 40, 128), a 40-step sequence at once (max_time_steps 64).
Each norm is timed in training mode (statistics computed, running statistics updated, as in a training step)
as the best of 7 rounds of forward + backward of y·R, rounds alternating between normbench's module and the
native one so both meet the same machine load. Memory: on CUDA the peak allocated during
forward+backward above what was allocated before; on CPU (where allocator peaks are not exposed) the bytes
of the output plus every distinct tensor autograd saved for the backward pass: what a training step keeps
alive per layer.
The native comparison (ratio = normbench / native; target <= 1.5x where a native module exists):
  batch                              nn.BatchNorm1d/2d; in the step role BatchNorm1d over the T*F columns
                                     (per-step statistics, the op StepwiseBatchNorm uses)
  batch_renorm, ghost_batch, switch  no native module: shown beside that nn.BatchNorm for scale only
  layer                              nn.LayerNorm (feature vectors, steps); nn.GroupNorm(1, C) on maps
  group                              nn.GroupNorm (G=4; steps as N*T samples); instance: nn.InstanceNorm1d/2d
  rms                                nn.RMSNorm (feature vectors, steps); on maps nn.RMSNorm([C, *positions]),
                                     whose gain is per element: the nearest native op, not the same model
"""

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from normbench.norms import NORMS, NormSite, create_norm, norm_config  # noqa: E402

CASES = [  # (label, role, shape, t)
    ("features (128, 256)", "features", (128, 256), None),
    ("map1d (64, 32, 40)", "map1d", (64, 32, 40), None),
    ("map2d (32, 64, 16, 16)", "map2d", (32, 64, 16, 16), None),
    ("step (64, 128)", "step", (64, 128), 5),
    ("step (64, 40, 128)", "step", (64, 40, 128), 0),
]
NO_NATIVE = {"batch_renorm", "ghost_batch", "switch"}  # shown beside BatchNorm for scale; no native module


class Native(nn.Module):
    """torch's own module for the job, called like a normbench norm (step role: norm(x, t))."""

    def __init__(self, module: nn.Module, flatten_steps: bool = False, merge_steps: bool = False):
        super().__init__()
        self.module, self.flatten_steps, self.merge_steps = module, flatten_steps, merge_steps

    def forward(self, x, t=None):
        if x.dim() == 3 and t is not None:  # a (N, T, F) sequence in the step role
            if self.flatten_steps:  # (N, T*F): statistics per step and feature
                return self.module(x.reshape(x.shape[0], -1)).view(x.shape)
            if self.merge_steps:  # (N*T, F): every step of every sample on its own
                return self.module(x.reshape(-1, x.shape[-1])).view(x.shape)
        return self.module(x)


def native_for(name: str, role: str, shape: tuple) -> nn.Module | None:
    channels = shape[-1] if role in ("features", "step") else shape[1]
    if name in ("batch", "batch_renorm", "ghost_batch", "switch"):
        if role == "step":
            return Native(nn.BatchNorm1d(channels * (shape[1] if len(shape) == 3 else 1)), flatten_steps=True)
        return Native(nn.BatchNorm2d(channels) if role == "map2d" else nn.BatchNorm1d(channels))
    if name == "layer":
        return Native(nn.LayerNorm(channels) if role in ("features", "step") else nn.GroupNorm(1, channels))
    if name == "group":
        return Native(nn.GroupNorm(4, channels), merge_steps=True)
    if name == "instance":
        native = nn.InstanceNorm2d if role == "map2d" else nn.InstanceNorm1d
        return Native(native(channels, affine=True))
    if name == "rms":
        return Native(nn.RMSNorm(channels) if role in ("features", "step") else nn.RMSNorm(list(shape[1:])))
    return None


def call(module: nn.Module, x: torch.Tensor, t):
    return module(x, t) if t is not None else module(x)


def fwd_bwd(module, x, weights, t):
    def once():
        x.grad = None
        (call(module, x, t) * weights).sum().backward()

    return once


def time_pair(ours, native, device, min_seconds: float, rounds: int = 7) -> tuple[float, float | None]:
    """Seconds per forward+backward of each, the best of `rounds` rounds that alternate between the two, so
    both meet the same machine load; the minimum is the estimate least disturbed by other processes."""
    runs = [run for run in (ours, native) if run is not None]

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    iterations = []
    for run in runs:  # warm up, then size a round to ~min_seconds / rounds
        for _ in range(3):
            run()
        sync()
        start, count = time.perf_counter(), 0
        while time.perf_counter() - start < min_seconds / rounds or count < 2:
            run()
            count += 1
        sync()
        iterations.append(count)
    best = [float("inf")] * len(runs)
    for _ in range(rounds):
        for i, run in enumerate(runs):
            start = time.perf_counter()
            for _ in range(iterations[i]):
                run()
            sync()
            best[i] = min(best[i], (time.perf_counter() - start) / iterations[i])
    return best[0], (best[1] if native is not None else None)


def memory_bytes(module, x, weights, t, device) -> int:
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        (call(module, x, t) * weights).sum().backward()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    saved = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        y = call(module, x, t)
    existing = {t.untyped_storage().data_ptr() for t in (x, *module.parameters(), *module.buffers())}
    y.backward(weights)
    # The input, parameters and buffers exist anyway; count what this layer adds: its output and saved intermediates.
    extra = sum(size for ptr, size in saved.items() if ptr not in existing)
    return extra + y.untyped_storage().nbytes()


def prepare(module, shape, t, device):
    """(module on the device in train mode, its forward+backward closure, its memory in bytes)."""
    module = module.to(device).train()
    if hasattr(module, "on_train_step"):
        module.on_train_step(10**6, 10**6)  # batch renorm fully relaxed: r and d at work
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=generator).to(device).requires_grad_()
    weights = torch.randn(shape, generator=generator).to(device)
    return fwd_bwd(module, x, weights, t), memory_bytes(module, x, weights, t, device)


def build(name: str, role: str, shape) -> nn.Module:
    channels = shape[-1] if role in ("features", "step") else shape[1]
    own = {"group": {"groups": 4}, "ghost_batch": {"virtual_batch_size": 32}}.get(name, {})
    cfg = norm_config(name, **own)
    return create_norm(cfg, NormSite(role, channels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch's default)")
    parser.add_argument("--norms", nargs="*", default=None, help="norms to run (default: all but none)")
    parser.add_argument("--min-seconds", type=float, default=0.7, help="timing budget per module and shape")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available here")
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.norms or [n for n in NORMS.names() if n != "none"]
    memory_label = "peak MiB" if device.type == "cuda" else "out+saved MiB"
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, device {device}, threads {threads}; forward+backward in train mode")
    print(f"| norm | input | normbench µs | native µs | time ratio | normbench {memory_label} | native {memory_label} "
          "| memory ratio |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name in names:
        roles = NORMS.get(name).traits.roles
        for label, role, shape, t in CASES:
            if role not in roles:
                continue
            ours, ours_b = prepare(build(name, role, shape), shape, t, device)
            native_module = native_for(name, role, shape)
            native, native_b = prepare(native_module, shape, t, device) if native_module is not None else (None, None)
            ours_s, native_s = time_pair(ours, native, device, args.min_seconds)
            cells = [name, label, f"{ours_s * 1e6:.0f}"]
            if native is None:
                cells += ["—", "—", f"{ours_b / 2**20:.2f}", "—", "—"]
            else:
                mark = " (vs BN; no native)" if name in NO_NATIVE else ""
                cells += [f"{native_s * 1e6:.0f}", f"{ours_s / native_s:.2f}{mark}", f"{ours_b / 2**20:.2f}",
                          f"{native_b / 2**20:.2f}", f"{ours_b / max(native_b, 1):.2f}"]
            print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
