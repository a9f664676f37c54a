"""The one place the version lives: pyproject reads it (``dynamic``), ``--version`` prints it."""

__version__ = "0.2.0"
