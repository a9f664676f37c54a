"""Property: any spec text gives a result or the one-line InspectError, never another exception.

Specs are generated three ways: the bundled YAML with values, keys, types and structure mutated;
the bundled text with characters mutated; arbitrary YAML documents. The default run tries a few
hundred; `pytest -m slow` (run by CI) tries over 10,000 through the library API.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from resnet_inspect import InspectError, build_graph, parse_spec, trace_graph
from resnet_inspect.analysis.check import check_spec
from resnet_inspect.cli import app
from resnet_inspect.analysis.diff import diff_specs
from resnet_inspect.language.spec import bundled_specs
from resnet_inspect.language.yamlsafe import load

TEXTS = [path.read_text(encoding="utf-8") for path in bundled_specs().values()]
DATA = [load(text, "bundled").data for text in TEXTS]
BASE_SPEC = parse_spec(TEXTS[0], "base.yaml")
RELAXED = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

KEYS = ["name", "stem", "stages", "head", "expect", "blocks", "filters", "stride", "kernel", "pool", "pad", "units",
        "stage", "first_block", "pool_size", "variables", "base", "shapes", "macs", "max_macs", "224", "0", "",
        "groups", "block", "stride_block", "strided_shortcut"]
EXPRESSIONS = st.text(alphabet="base0123456789+-*/%() .x_", max_size=20) | st.sampled_from(
    ["base", "4*base", "base/0", "base // 0", "bse", "base.__class__", "9**9**9", "2**-1", "10**40", "-base",
     "base % 0", "(", "1e400", "base/3", "__import__('os')", "[base]", "lambda: 1", "base if 1 else 2"])
SCALARS = st.one_of(
    st.integers(-3, 10), st.integers(), st.sampled_from([0, 1, 7, 224, 10**9, 10**12, -(10**12), 2**64]),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(), EXPRESSIONS,
    st.sampled_from(["avg", "global", "bottleneck", "basic", "identity", "conv", "1x1", "3x3", "softmax", "none",
                     "preact_bottleneck", "max_pool", "first", "last"]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3), max_leaves=8)


def paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value in nested dicts and lists."""
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths(value, prefix + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += paths(value, prefix + (index,))
    return found


def replace(data: Any, path: tuple, value: Any, mode: str) -> Any:
    """A copy of ``data`` with the value at ``path`` replaced, deleted, or given an extra key."""
    if not path:
        return value if mode == "replace" else data
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        copy = dict(data)
        if not rest and mode == "delete":
            copy.pop(head, None)
        elif not rest and mode == "replace":
            copy[head] = value  # also adds a new key
        else:
            copy[head] = replace(copy[head], rest, value, mode)
        return copy
    copy = list(data)
    if not rest and mode == "delete":
        del copy[head]
    elif not rest and mode == "duplicate":
        copy.insert(head, copy[head])
    else:
        copy[head] = replace(copy[head], rest, value, mode)
    return copy


@st.composite
def mutated_specs(draw: st.DrawFn) -> str:
    data = draw(st.sampled_from(DATA))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths(data)))
        mode = draw(st.sampled_from(["replace", "replace", "replace", "delete", "duplicate", "add"]))
        value = draw(VALUES)
        if mode == "add":
            target = path if isinstance(_at(data, path), dict) else path[:-1]
            if isinstance(_at(data, target), dict):
                path, mode = target + (draw(st.sampled_from(KEYS)),), "replace"
            else:
                mode = "replace"
        data = replace(data, path, value, mode)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _at(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


@st.composite
def mangled_texts(draw: st.DrawFn) -> str:
    """Bundled text with a few characters inserted, deleted or replaced."""
    text = draw(st.sampled_from(TEXTS))
    for _ in range(draw(st.integers(1, 5))):
        i = draw(st.integers(0, len(text)))
        piece = draw(st.text(alphabet=":-[]{}&*!|>#'\"\t\n ,0123456789abx.%@`\x00é", max_size=3))
        cut = draw(st.integers(0, 3))
        text = text[:i] + piece + text[i + cut:]
    return text


ANY_YAML = VALUES.map(lambda value: yaml.safe_dump(value, allow_unicode=True))
SPEC_TEXTS = st.one_of(mutated_specs(), mutated_specs(), mangled_texts(), ANY_YAML)


def outcome(text: str) -> str:
    """"ok" or "error"; any exception other than InspectError fails the property."""
    try:
        spec = parse_spec(text, "generated.yaml")
        result = trace_graph(build_graph(spec))
        check_spec(spec)
        diff_specs(BASE_SPEC, spec)
    except InspectError as exc:
        message = str(exc)
        assert message and "\n" not in message
        assert message.startswith("generated.yaml") or message.startswith("--input")
        return "error"
    assert all(isinstance(v, int) and v >= 0 for v in (result.totals.params, result.totals.macs))
    assert not any(isinstance(d, float) and math.isnan(d) for info in result.layers for d in info.output_shape)
    return "ok"


@settings(max_examples=300, **RELAXED)
@given(SPEC_TEXTS)
def test_generated_specs_give_a_result_or_one_line(text):
    outcome(text)


@settings(max_examples=40, **RELAXED)
@given(st.one_of(mutated_specs(), mangled_texts()))
def test_generated_specs_through_the_cli(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "generated.yaml"
        path.write_text(text, encoding="utf-8")
        result = CliRunner().invoke(app, ["trace", str(path), "--depth", "stage"])
        assert result.exit_code in (0, 2), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        if result.exit_code == 2:
            lines = result.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"error: {path}")
        checked = CliRunner().invoke(app, ["check", str(path), "--format", "json"])
        assert checked.exit_code in (0, 1) and checked.exception is None or isinstance(checked.exception, SystemExit)


def test_the_generators_reach_both_outcomes():
    """Guard against a vacuous property: some generated specs build, some fail."""
    seen: set[str] = set()

    @settings(max_examples=200, database=None, **RELAXED)
    @given(mutated_specs())
    def collect(text: str) -> None:
        seen.add(outcome(text))

    collect()
    assert seen == {"ok", "error"}


@pytest.mark.slow
@settings(max_examples=10_000, database=None, **RELAXED)
@given(SPEC_TEXTS)
def test_ten_thousand_generated_specs(text):
    outcome(text)
