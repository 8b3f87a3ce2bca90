"""Configuration: the typed schemas, the option registries, plugins, resolvers and the checks a type cannot express."""
