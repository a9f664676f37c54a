"""Results show themselves through the display registry, never by importing a renderer."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import resnet_inspect
from resnet_inspect.core.display import HOOKS, Displayable, hook


def _all_modules() -> None:
    for info in pkgutil.walk_packages(resnet_inspect.__path__, "resnet_inspect."):
        if info.name.rsplit(".", 1)[-1] not in ("__main__",):
            importlib.import_module(info.name)


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_every_displayable_result_has_its_three_hooks():
    _all_modules()
    results = _subclasses(Displayable)
    assert {c.__name__ for c in results} >= {"TraceResult", "VerifyResult", "CheckReport", "DiffResult", "RunResult"}
    for cls in results:
        assert set(HOOKS.get(cls.__name__, {})) == {"repr", "rich", "html"}, cls
        # @dataclass writes its own __repr__ over the mixin's unless told repr=False
        assert cls.__repr__ is Displayable.__repr__, f"{cls.__name__}: declare @dataclass(repr=False)"


def test_an_unregistered_displayable_falls_back_to_object_repr():
    class Plain(Displayable):
        pass

    item = Plain()
    assert hook(item, "repr") is None and repr(item).startswith("<") and item._repr_html_() is None


def test_repr_rich_and_html_of_a_trace_come_from_the_renderers():
    result = resnet_inspect.trace("resnet50")
    assert repr(result).startswith("TraceResult(spec='resnet50', input=224×224×3, layers=179")
    assert result._repr_html_().startswith("<table>")
    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(result.__rich__())
    assert "res2a_branch2a" in console.export_text()


def test_importing_a_result_type_loads_no_renderer():
    code = ("import sys; import resnet_inspect.model.statistics, resnet_inspect.analysis.diff; "
            "print(sorted(m for m in sys.modules if m.startswith(('rich', 'resnet_inspect.render.')) "
            "and m != 'resnet_inspect.render.display'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
