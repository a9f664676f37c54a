"""NumPy's BLAS thread count, read and set through ``ctypes`` (no new dependency).

Why the executor needs it: on 2 cores, two Python threads each running half a batch with a
one-thread BLAS beat one thread running the whole batch with a two-thread BLAS by about 15%,
because NumPy's non-GEMM work (im2col copies, bias, ReLU, adds, pools) is single-threaded and
releases the GIL. With BLAS at two threads each, the lanes fight for the cores and lose (issue 19's
measurements and ``benchmarks/bench_forward.py``). So a split run sets BLAS to one thread for
its duration and restores the count after.

Only OpenBLAS is handled: it is what NumPy's wheels ship on Linux and Windows, and its thread
count is global to the process (``openblas_set_num_threads`` is; the ``_local`` variant is not
per thread in pthreads builds). On any other BLAS, :func:`control` returns None and the executor
keeps one lane. The library is found the way threadpoolctl finds it: among the shared objects
the process has loaded (``/proc/self/maps``) or NumPy's own bundled library folders, by the
symbols OpenBLAS exports (``openblas_…`` or, in NumPy ≥ 2 wheels, ``scipy_openblas_…64_``).
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIXES = ("scipy_openblas", "openblas")
SUFFIXES = ("64_", "_64", "")


@dataclass(frozen=True)
class BlasThreads:
    """One loaded OpenBLAS: its path and its get/set thread-count functions."""

    path: str
    get: Any
    set: Any

    def threads(self) -> int:
        return int(self.get())


def _candidates() -> list[str]:
    """Paths of OpenBLAS libraries NumPy may be using: its wheel's own first (numpy.libs on Linux and
    Windows, numpy/.dylibs on macOS), then any the process has loaded. Empty when NumPy's build
    says its BLAS is not OpenBLAS (Accelerate, MKL: their thread counts are left alone)."""
    import numpy

    blas = numpy.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    if "openblas" not in str(blas.get("name", "")).lower():
        return []
    root = Path(numpy.__file__).parent
    found: list[str] = []
    for folder in (root.parent / "numpy.libs", root / ".dylibs"):
        if folder.is_dir():
            found += [str(p) for p in sorted(folder.iterdir()) if "openblas" in p.name.lower()]
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        maps = ""
    for line in maps.splitlines():
        path = line.split(maxsplit=5)[-1] if len(line.split(maxsplit=5)) == 6 else ""
        if "openblas" in Path(path).name.lower() and path not in found:
            found.append(path)
    return found


def _open(path: str) -> BlasThreads | None:
    try:
        library = ctypes.CDLL(path)
    except OSError:
        return None
    for prefix in PREFIXES:
        for suffix in SUFFIXES:
            get = getattr(library, f"{prefix}_get_num_threads{suffix}", None)
            set_ = getattr(library, f"{prefix}_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                get.restype, get.argtypes = ctypes.c_int, []
                set_.restype, set_.argtypes = None, [ctypes.c_int]
                return BlasThreads(path, get, set_)
    return None


_FOUND: list[BlasThreads | None] = []


def control() -> BlasThreads | None:
    """NumPy's OpenBLAS thread control, or None (another BLAS, or none found). Looked up once."""
    if not _FOUND:
        _FOUND.append(next(filter(None, map(_open, _candidates())), None))
    return _FOUND[0]


_LOCK = threading.Lock()
_HELD = [0, 0]  # [runs inside single_threaded() now, the thread count to restore when the last leaves]


@contextmanager
def single_threaded(blas: BlasThreads) -> Iterator[None]:
    """BLAS at one thread while any split run is inside; the count it had is restored when the
    last one leaves (several executors may overlap in a caller's threads)."""
    with _LOCK:
        if _HELD[0] == 0:
            _HELD[1] = blas.threads()
            blas.set(1)
        _HELD[0] += 1
    try:
        yield
    finally:
        with _LOCK:
            _HELD[0] -= 1
            if _HELD[0] == 0:
                blas.set(_HELD[1])


def _after_fork_in_child() -> None:
    """A child forked during a split run starts with no lanes: a fresh lock, nothing held, and
    BLAS given back the threads it had (the parent restores its own when its run ends)."""
    global _LOCK
    _LOCK = threading.Lock()
    if _HELD[0] and _FOUND and _FOUND[0] is not None:
        _FOUND[0].set(_HELD[1])
    _HELD[0] = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
