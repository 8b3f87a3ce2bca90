"""What happens to loaded splits on their way to the trainer: the validation split carved from the training
examples (validation.py), the training batches' order (batches.py), streaming from host memory (stream.py),
augmentation (augment.py) and which of these feed a run (feed.py). All of it uses torch: imported when a run
loads its data, never when a config is composed and checked (the data sets' own modules sit one level up)."""
