"""Moved to :mod:`resnet_inspect.execute.executor`; this path keeps working for one release (see CHANGELOG 0.3.0)."""

from .execute.executor import *  # noqa: F401,F403
