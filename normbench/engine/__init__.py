"""One run, carried out: build (data, model, optimizer), train, probe, report progress."""
