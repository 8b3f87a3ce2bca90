"""Decision rules over a runs table: pure, torch-free functions that both `normbench report` and
`normbench advise` call (statistics across seeds, comparison sets, selection on validation data, racing).

Nothing here imports torch, the engine or the report: the flow is report → decide and advise → decide.
"""
