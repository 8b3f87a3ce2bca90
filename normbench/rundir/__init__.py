"""The run directory: its contract (file names, statuses, keys), identity, and the files a run writes."""
