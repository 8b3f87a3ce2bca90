"""Command-line entry points: `normbench` and its subcommands; `train` is the Hydra app."""
