"""The nn.Modules and torch helpers the norm options build with."""
