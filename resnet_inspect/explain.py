"""Moved to :mod:`resnet_inspect.analysis.explain`; this path keeps working for one release (see CHANGELOG 0.3.0)."""

from .analysis.explain import *  # noqa: F401,F403
