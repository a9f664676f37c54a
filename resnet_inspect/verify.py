"""Moved to :mod:`resnet_inspect.execute.verify`; this path keeps working for one release (see CHANGELOG 0.3.0)."""

from .execute.verify import *  # noqa: F401,F403
