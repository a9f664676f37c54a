"""execute: the NumPy reference executor, its inputs, ``verify`` and ``run``."""
