"""Moved to :mod:`resnet_inspect.analysis.memory`; this path keeps working for one release (see CHANGELOG 0.3.0)."""

from .analysis.memory import *  # noqa: F401,F403
