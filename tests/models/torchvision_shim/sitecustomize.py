"""Test-only: lets torchvision's pure-Python model code import where its C extension cannot load.

Where the only torchvision wheel at hand is a CUDA build and torch is a CPU build (normbench's development
machines), torchvision's _C fails to load and its __init__ then fails on `register_fake("torchvision::nms")`.
normbench's torchvision models use no torchvision C op, so the tests declare the two schemas that import needs.
Installed only when the real import fails (tests/models/conftest.py); normbench itself never does this.
"""

import importlib.util


def _declare_missing_ops() -> None:
    import torch

    if hasattr(torch.ops, "torchvision") and hasattr(torch.ops.torchvision, "nms"):
        return
    _declare_missing_ops.library = library = torch.library.Library("torchvision", "DEF")
    library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")


if importlib.util.find_spec("torchvision") is not None:
    _declare_missing_ops()
