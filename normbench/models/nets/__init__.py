"""The networks the model options build: nn.Modules, torch.

Each option module (normbench/models/NAME.py) holds a schema and a builder and imports no torch; its builder
imports its network from here when a model is built, so composing and checking a config never waits for torch.
"""
