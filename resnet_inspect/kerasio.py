"""Moved to :mod:`resnet_inspect.io.kerasio`; this path keeps working for one release (see CHANGELOG 0.3.0)."""

from .io.kerasio import *  # noqa: F401,F403
