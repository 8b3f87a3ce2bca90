"""The one exception type that carries a user-facing, one-line message."""


class ConfigError(ValueError):
    """A bad configuration or input: the message names what is wrong and what is allowed."""
