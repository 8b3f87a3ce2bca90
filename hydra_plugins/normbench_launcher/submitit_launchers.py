"""hydra-submitit-launcher's SlurmLauncher and LocalLauncher, collecting their jobs the normbench way:
the sweep waits for every job, logs progress on the submitting terminal, and tallies a job that ended
without a result as a failed run (normbench.launch.submitit_sweep). Selected by `_target_` in
configs/launcher/slurm.yaml and submitit_local.yaml; configured with hydra-submitit-launcher's own keys.

Hydra imports this module while it starts: it must stay light (no torch, no submitit).
"""

from hydra_plugins.hydra_submitit_launcher import submitit_launcher as _plugin

from normbench.launch.submitit_sweep import WaitingLauncher


class NormbenchSlurmLauncher(WaitingLauncher, _plugin.SlurmLauncher):
    poll_s = 5.0  # the ledger and the result files, on the shared file system
    state_check_s = 15.0  # one `sacct` call for all the sweep's jobs
    grace_s = 15.0  # submitit's own wait for a result file that a compute node wrote


class NormbenchLocalLauncher(WaitingLauncher, _plugin.LocalLauncher):
    poll_s = 1.0
    state_check_s = 1.0  # local jobs are child processes: asking costs nothing
    grace_s = 1.0
