"""Strided views made the cheap way: what ``as_strided`` and ``sliding_window_view`` make, at a
tenth of their cost per call.

Why it matters: those two go through ``__array_interface__`` and argument checks, 20-60 µs a call,
and a ResNet-50 pass makes about fifty such views (im2col windows, Winograd tiles): 1-2 ms of a
batch-1 pass spent on bookkeeping. ``np.ndarray(..., buffer=base)`` builds the same view in about
2 µs. It needs ``base`` C-contiguous (it is: every activation and scratch buffer is); a view
that would reach past the buffer's end is refused by NumPy itself, so a wrong stride raises
instead of reading stray memory.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def view(base: np.ndarray, shape: tuple[int, ...], strides: tuple[int, ...], writeable: bool = False) -> np.ndarray:
    """``as_strided(base, shape, strides)``, read-only unless ``writeable``."""
    if not base.flags.c_contiguous:  # not the executor's own memory: the general (slower) path
        return as_strided(base, shape, strides, writeable=writeable and base.flags.writeable)
    out = np.ndarray(shape, base.dtype, buffer=base, strides=strides)
    if not writeable:
        out.flags.writeable = False
    return out
