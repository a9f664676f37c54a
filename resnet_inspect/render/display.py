"""The display hooks of every result type: which renderer makes its repr, Rich table and HTML.

Imported once by ``resnet_inspect/__init__.py``. Each hook imports its renderer only when it is
called, so registering costs nothing at start-up and ``import resnet_inspect`` loads no Rich and
no renderer. A result type without a row here shows as ``object.__repr__`` (a test checks that
every :class:`~resnet_inspect.core.display.Displayable` subclass has one).
"""

from __future__ import annotations

from typing import Any

from ..core.display import register


def _notebook(name: str) -> Any:
    def call(result: Any) -> Any:
        from . import notebook

        return getattr(notebook, name)(result)

    return call


def _trace_table(result: Any) -> Any:
    from .formatting import trace_table

    return trace_table(result)


def _verify_table(result: Any) -> Any:
    from .formatting import render_verify

    return render_verify(result, "table")


def _check_table(result: Any) -> Any:
    from .report import check_table

    return check_table(result)


def _diff_table(result: Any) -> Any:
    from .report import diff_table

    return diff_table(result)


def _run_table(result: Any) -> Any:
    from .inference_report import run_table

    return run_table(result)


# class name: (its repr, its Rich renderable, its notebook HTML)
DISPLAYS = {
    "TraceResult": (_notebook("trace_repr"), _trace_table, _notebook("trace_html")),
    "VerifyResult": (_notebook("verify_repr"), _verify_table, _notebook("verify_html")),
    "CheckReport": (_notebook("check_repr"), _check_table, _notebook("check_html")),
    "DiffResult": (_notebook("diff_repr"), _diff_table, _notebook("diff_html")),
    "RunResult": (_notebook("run_repr"), _run_table, _notebook("run_html")),
}

for _name, (_repr, _rich, _html) in DISPLAYS.items():
    register(_name, repr=_repr, rich=_rich, html=_html)
