"""Print the pip requirement of the torchvision release built for the installed torch (used by setup.sh).

torch 2.X.Y pairs with torchvision 0.(X+15).Y for X >= 1 (2.1 <-> 0.16, 2.13 <-> 0.28). A local build suffix
(+cpu, +cu126) is kept, so a CUDA or CPU torch gets the torchvision of the same build.
"""

import sys


def torchvision_spec(torch_version: str) -> str:
    release, plus, local = torch_version.partition("+")
    parts = release.split(".")
    major, minor = int(parts[0]), int(parts[1])
    patch = "".join(ch for ch in (parts[2] if len(parts) > 2 else "0") if ch.isdigit()) or "0"
    if major != 2 or minor < 1:
        raise SystemExit(f"normbench setup: no known torchvision release for torch {torch_version}; "
                         f"set NORMBENCH_TORCHVISION_SPEC")
    return f"torchvision==0.{minor + 15}.{patch}{plus}{local}"


if __name__ == "__main__":
    if len(sys.argv) > 1:
        print(torchvision_spec(sys.argv[1]))
    else:  # the installed torch's version as pip records it (what setup.sh pins), not torch.__version__
        from importlib.metadata import version

        print(torchvision_spec(version("torch")))
