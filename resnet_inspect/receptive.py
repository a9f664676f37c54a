"""Moved to :mod:`resnet_inspect.analysis.receptive`; this path keeps working for one release (see CHANGELOG 0.3.0)."""

from .analysis.receptive import *  # noqa: F401,F403
