"""language: the YAML spec language, from text to a typed, evaluated ``Spec``."""
