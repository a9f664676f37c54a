"""Moved to :mod:`resnet_inspect.model.naming`; this path keeps working for one release (see CHANGELOG 0.3.0)."""

from .model.naming import *  # noqa: F401,F403
