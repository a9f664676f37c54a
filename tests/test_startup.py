"""Start-up (issue 16): what `import resnet_inspect` and one command load, and the plain-text table
that lets a piped trace skip Rich while printing Rich's exact bytes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code`` (this checkout first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, env=env, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


# The display registry (ARCHITECTURE: __init__ imports it once) names its renderers as strings and
# imports them only when a result is shown: it is not a renderer.
REGISTRY = {"resnet_inspect.render", "resnet_inspect.render.display"}


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in ("numpy", "rich", "fastjsonschema")
                  or (m.startswith("resnet_inspect.render") and m not in REGISTRY))


def test_import_loads_no_numpy_rich_or_renderer():
    modules = loaded_after("import resnet_inspect")
    assert "resnet_inspect" in modules
    assert heavy(modules) == []


def test_the_check_can_fail():
    """The same probe sees a renderer (and Rich) once something asks for one."""
    assert "resnet_inspect.render.diagrams" in heavy(loaded_after("import resnet_inspect; resnet_inspect.Diagram"))


def test_a_piped_trace_loads_no_rich_and_builds_one_command():
    code = ("import sys, io\nsys.argv = ['resnet-inspect', 'trace', 'resnet50']\n"
            "from resnet_inspect import cli\nimport typer.main\nbuilt = []\n"
            "real = typer.main.get_command_from_info\n"
            "typer.main.get_command_from_info = lambda *a, **kw: built.append(1) or real(*a, **kw)\n"
            "out, sys.stdout = sys.stdout, io.StringIO()\n"
            "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
            "sys.stdout = out\nprint(len(built), file=sys.stderr)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("FORCE_COLOR", None)
    done = subprocess.run([sys.executable, "-c", code + "\nprint([m for m in sys.modules if m.startswith('rich.')])"],
                          capture_output=True, text=True, env=env, check=True)
    assert done.stderr.strip() == "1"  # only `trace` was turned into a click command
    assert done.stdout.strip() == "[]"


@pytest.fixture(scope="module")
def traces():
    from resnet_inspect import trace

    return [trace("resnet50"), trace("resnet18", 320), trace("resnet50v2")]


@pytest.mark.parametrize("depth", ["layer", "block", "stage"])
@pytest.mark.parametrize("columns", [None, ["all"], ["params"], ["op", "inputs", "kernel", "rf"]])
@pytest.mark.parametrize("width", [10_000, 130, 80])
def test_plain_table_is_richs_bytes_or_nothing(traces, depth, columns, width):
    from rich.console import Console

    from resnet_inspect.render.formatting import COLUMNS, TraceTable

    names = list(COLUMNS) if columns == ["all"] else columns
    for result in traces:
        table = TraceTable(result, depth, names)
        text = table.plain_text(width)
        out = io.StringIO()
        Console(width=width, file=out).print(table)
        assert text is None or text == out.getvalue()
    if width == 10_000 and columns is None and depth == "layer":
        assert text is not None  # the common case does take the fast path


def test_plain_table_leaves_user_markup_to_rich():
    from dataclasses import replace

    from resnet_inspect import trace
    from resnet_inspect.render.formatting import TraceTable

    result = trace("resnet18")
    assert TraceTable(result).plain_text(10_000) is not None
    for spec in ("net[v1]", "a:smile:b", "tab\there", "back\\slash"):
        assert TraceTable(replace(result, spec=spec)).plain_text(10_000) is None


# --------------------------------------------------------------------------- the JSON writer


def reference_json(data):
    """What to_json wrote before: non-finite floats to None, then json.dumps(indent=2)."""
    import math

    def finite(value):
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        if isinstance(value, dict):
            return {k: finite(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [finite(v) for v in value]
        return value

    return json.dumps(finite(data), indent=2, allow_nan=False)


@pytest.mark.parametrize("data", [
    {}, [], {"a": []}, {"a": {}}, {"nested": [[], [{}], [1, [2, [3]]]]},
    {"nan": float("nan"), "inf": [float("inf"), -float("inf")], "t": (1.5, -0.0, 1e16, 1e-7, 2.0)},
    {"text": "ümlaut ✓ \x1b[31m \u2028 \"q\" \\", "none": None, "bools": [True, False], "big": 10**30},
    {1: "int key", 2.5: "float key", True: "bool key", None: "none key"},
])
def test_json_writer_is_json_dumps(data):
    from resnet_inspect.core.jsontext import dumps

    assert dumps(data) == reference_json(data)


def test_json_writer_on_every_contract(traces):
    from resnet_inspect.core.jsontext import dumps
    from resnet_inspect.render.formatting import render_trace

    for result in traces:
        data = result.to_dict()
        assert dumps(data) == reference_json(data)
        assert json.loads(render_trace(result, "json", "block"))["depth"] == "block"


def test_json_writer_refuses_what_json_refuses():
    from resnet_inspect.core.jsontext import dumps

    with pytest.raises(TypeError):
        dumps({"x": object()})
    with pytest.raises(TypeError):
        dumps({(1, 2): 3})
    with pytest.raises(ValueError):
        dumps({float("nan"): 1})
