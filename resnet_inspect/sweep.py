"""Moved to :mod:`resnet_inspect.analysis.sweep`; this path keeps working for one release (see CHANGELOG 0.3.0)."""

from .analysis.sweep import *  # noqa: F401,F403
