"""Sweeps: the launchers normbench presets, per-job resources, and the sweep ledger and tally (Hydra callbacks)."""
