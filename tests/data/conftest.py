from tests.core.conftest import make_cfg  # noqa: F401  (a fixture: compose configs/ as `normbench train` would)
