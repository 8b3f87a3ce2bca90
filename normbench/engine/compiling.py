"""Whether a run's training forward goes through torch.compile (`trainer.compile`): auto, true or false.

auto compiles where it is measured to pay: a model with a loop unrolled in Python (normbench.models.nets.unrolled),
on a CPU. Elsewhere compiling costs more than it saves: the MNIST-1D MLP and CNN ran 0.88-0.95x eager on one
CPU thread once compiled (their ops are few and large), and on CUDA a captured step (trainer.cuda_graphs)
removes the launch overhead that compiling would. Inductor needs a C++ compiler on a CPU; without one, auto
stays eager and says why. The first compile of a graph takes a minute or more on a small CPU; inductor caches
it on disk (by default /tmp/torchinductor_$USER), so the runs of a sweep that share a graph (the same model,
norm and batch size, any seed or learning rate) pay it once per machine.
"""

import os
import shutil
from dataclasses import dataclass

import torch

from normbench.config.schema import Switch
from normbench.errors import CompileFailed
from normbench.models.nets.unrolled import UnrolledLoop

CXX_NAMES = ("c++", "g++", "clang++")


@dataclass(frozen=True)
class CompileChoice:
    compile: bool
    reason: str  # one line: why, for the run's log


def choose_compile(setting: Switch, model: torch.nn.Module, device: torch.device) -> CompileChoice:
    if setting is not Switch.auto:
        return CompileChoice(setting is Switch.true, f"trainer.compile={setting.value}")
    if not any(isinstance(module, UnrolledLoop) for module in model.modules()):
        return CompileChoice(False, "trainer.compile=auto: eager (no loop unrolled in Python to fuse)")
    if device.type != "cpu":
        return CompileChoice(False, f"trainer.compile=auto: eager on {device.type} (compiling is measured to pay "
                                    f"on CPUs; trainer.compile=true forces it)")
    if not has_cxx_compiler():
        return CompileChoice(False, "trainer.compile=auto: eager, since inductor needs a C++ compiler and none "
                                    f"is on PATH ({', '.join(CXX_NAMES)} or $CXX)")
    return CompileChoice(True, "trainer.compile=auto: compiling the unrolled loop (the first compile of a graph "
                               "takes minutes, later runs load it from inductor's cache; trainer.compile=false "
                               "stays eager)")


def has_cxx_compiler() -> bool:
    candidates = [os.environ["CXX"]] if os.environ.get("CXX") else list(CXX_NAMES)
    return any(shutil.which(name) for name in candidates)


# Lines PyTorch appends to every compiler error: how to get more output, not what went wrong.
_PYTORCH_HINTS = ("Set TORCHDYNAMO_VERBOSE", "For even more developer context", "from user code:")


def explain_compile_failure(error: Exception, choice: CompileChoice) -> Exception:
    """A failure of torch.compile's compiler (dynamo tracing, inductor's codegen, the C++ compiler), which comes
    pages long, as one line with the way out; any other error as it is. Compiling happens at the first steps
    of a compiled run, so a toolchain that cannot build inductor's kernels (no OpenMP, say) fails there."""
    if not choice.compile or not _raised_by_compiler(error):
        return error
    lines = [line.strip() for line in str(error).splitlines()
             if line.strip() and not line.strip().startswith(_PYTORCH_HINTS)] or [type(error).__name__]
    said = lines[0] if len(lines) == 1 else f"{lines[0]}: {lines[-1]}"
    return CompileFailed(f"{choice.reason.split(':')[0]}: torch.compile could not compile the model on this machine "
                         f"({type(error).__name__}: {said[:300]}); trainer.compile=false trains eagerly")


def _raised_by_compiler(error: BaseException | None) -> bool:
    while error is not None:
        if type(error).__module__.startswith(("torch._dynamo", "torch._inductor")):
            return True
        error = error.__cause__
    return False
