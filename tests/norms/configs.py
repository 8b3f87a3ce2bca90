"""Norm configs for tests: a norm's own schema with the given settings, as Hydra would merge them."""

from dataclasses import fields

from normbench.norms import NORMS, norm_config


def norm_cfg(name: str, **settings):
    """Norm `name`'s schema with `settings`; settings that belong to other norms only (a loop over norms
    passing e.g. groups=1 to every one) are dropped, and a setting no norm has is an error."""
    own = {f.name for f in fields(NORMS.get(name).config)}
    known = {f.name for option in NORMS.entries().values() for f in fields(option.config)}
    unknown = set(settings) - known
    if unknown:
        raise TypeError(f"no norm has the settings {sorted(unknown)}")
    return norm_config(name, **{key: value for key, value in settings.items() if key in own})
