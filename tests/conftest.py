"""Shared pytest hooks."""

from __future__ import annotations

import sys


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    """After the run, the hostile corpus's counts per class and its worst time and RSS (issue 7)."""
    hostile = sys.modules.get("hostile")
    if hostile is not None and hostile.measured():
        terminalreporter.write_line(hostile.summary())
