"""normbench's Hydra launcher plugin: hydra-submitit-launcher's launchers, waiting for every job
(normbench.launch.submitit_sweep). Hydra instantiates launchers only from the `hydra_plugins` package."""
