"""Hydra's launcher plugins as normbench knows them: which are installed, what our presets select, and
a refusal of SLURM sweeps on a machine without SLURM or of launcher.* settings out of range.

submitit_slurm calls `sbatch`; without it on PATH every job would fail with a traceback. The sweep
callback (normbench.launch.tally) checks once the launcher is composed, before anything is submitted.
"""

import importlib.util
import shutil
import sys

from omegaconf import OmegaConf

from normbench.config.paths import config_dir
from normbench.errors import ConfigError
from normbench.launch.gpu_jobs import check_settings

# Hydra's launcher plugins: the name in `hydra/launcher=NAME` -> (pip package, module it installs).
LAUNCHER_PLUGINS = {
    "joblib": ("hydra-joblib-launcher", "hydra_plugins.hydra_joblib_launcher"),
    "submitit_local": ("hydra-submitit-launcher", "hydra_plugins.hydra_submitit_launcher"),
    "submitit_slurm": ("hydra-submitit-launcher", "hydra_plugins.hydra_submitit_launcher"),
    "ray": ("hydra-ray-launcher", "hydra_plugins.hydra_ray_launcher"),
    "ray_aws": ("hydra-ray-launcher", "hydra_plugins.hydra_ray_launcher"),
    "rq": ("hydra-rq-launcher", "hydra_plugins.hydra_rq_launcher"),
}


def plugin_installed(launcher: str) -> bool:
    _, module = LAUNCHER_PLUGINS[launcher]
    return importlib.util.find_spec(module) is not None


def installed_launchers() -> list[str]:
    return ["basic"] + [name for name in LAUNCHER_PLUGINS if plugin_installed(name)]


def preset_launcher(preset: str) -> str | None:
    """The Hydra launcher a `launcher=PRESET` config selects (its `override /hydra/launcher` default)."""
    path = config_dir() / "launcher" / f"{preset}.yaml"
    if not path.is_file():
        return None  # an unknown preset: Hydra's own error lists the available ones
    for entry in OmegaConf.load(path).get("defaults", []):
        if isinstance(entry, dict) or OmegaConf.is_dict(entry):
            for key, value in entry.items():
                if key.replace(" ", "") == "override/hydra/launcher":
                    return str(value)
    return None


def exit_if_slurm_unavailable(launcher_cfg) -> None:
    """Refuse a SLURM sweep on a machine without `sbatch`: submitit would fail job by job, with a traceback."""
    target = str((launcher_cfg or {}).get("_target_", ""))
    if target.endswith("SlurmLauncher") and shutil.which("sbatch") is None:
        print("normbench: error: launcher=slurm (hydra/launcher=submitit_slurm) submits with sbatch, which is not "
              "on PATH: run the sweep on a SLURM login node, or here with launcher=local or launcher=submitit_local",
              file=sys.stderr)
        sys.exit(2)


def exit_if_launcher_settings_bad(config) -> None:
    """Refuse launcher.jobs_per_gpu or gpu_mib_per_job out of range in one line, before Hydra instantiates the
    launcher: launcher=local's n_jobs is resolved from them, and a resolver's error would reach the user as a
    traceback."""
    try:
        check_settings(int(config.launcher.jobs_per_gpu), int(config.launcher.gpu_mib_per_job))
    except ConfigError as error:
        print(f"normbench: error: {error}", file=sys.stderr)
        sys.exit(2)
