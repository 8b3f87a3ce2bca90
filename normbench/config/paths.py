"""Where the Hydra configs live: inside the wheel when installed, at the repository top in a checkout."""

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # normbench/


def config_dir() -> Path:
    for candidate in (_PACKAGE_DIR / "configs", _PACKAGE_DIR.parent / "configs"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"normbench's configs/ not found next to {_PACKAGE_DIR}; reinstall the package")
