"""The Python API as a notebook user meets it after `import resnet_inspect` alone (issue 16): the
README's documented paths, dir(), __all__, help(), inline diagrams, and errors in the API's words;
and the one parser of user numbers the CLI and the API share."""

from __future__ import annotations

import json
import os
import pydoc
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import resnet_inspect
from resnet_inspect.cli import app
from resnet_inspect.core import numbers
from resnet_inspect.core.errors import InspectError, ShapeError

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
# `resnet_inspect.verify.verify(`, `resnet_inspect.diagram(` ...: every dotted path the README calls or names.
DOCUMENTED = sorted(set(re.findall(r"resnet_inspect((?:\.[a-z_]+)+)", README)) - {".py"})


def test_the_readme_documents_the_api():
    assert {".verify.verify", ".sweep.sweep", ".receptive.receptive_fields", ".naming.name_table",
            ".memory.memory_profile", ".kerasio.keras_order", ".explain.explain", ".executor.forward",
            ".diagram", ".report_html", ".trace"} <= set(DOCUMENTED)


def test_every_documented_path_works_after_one_import():
    """In a fresh interpreter: `import resnet_inspect`, then each README path by attribute only."""
    code = ("import json, resnet_inspect\nfound = {}\n"
            f"for path in {DOCUMENTED!r}:\n"
            "    obj = resnet_inspect\n"
            "    for part in path.strip('.').split('.'):\n"
            "        obj = getattr(obj, part, None)\n"
            "    found[path] = obj is not None\n"
            "print(json.dumps(found))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    missing = [path for path, ok in json.loads(out).items() if not ok]
    assert missing == []


def test_dir_lists_the_api_and_all_is_curated():
    listed = set(dir(resnet_inspect))
    tops = {path.strip(".").split(".")[0] for path in DOCUMENTED}
    assert tops <= listed
    assert {"memory", "explain", "sweep", "receptive", "verify", "run", "Diagram", "TraceResult"} <= listed
    assert len(resnet_inspect.__all__) == len(set(resnet_inspect.__all__))
    for name in resnet_inspect.__all__:
        assert getattr(resnet_inspect, name) is not None, name
    # record types stay out of __all__ so help() is a guide, not their generated methods
    assert not {"TraceResult", "Totals", "LayerInfo", "Graph", "Layer", "Spec", "Diagram"} & set(resnet_inspect.__all__)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        resnet_inspect.nope  # noqa: B018


def test_help_opens_with_a_short_guide():
    text = pydoc.render_doc(resnet_inspect, renderer=pydoc.plaintext)
    head = text.split("PACKAGE CONTENTS", 1)[0]  # NAME (the one-line summary), then DESCRIPTION: the guide
    assert "resnet_inspect - resnet-inspect: trace a residual network" in head
    assert "Everything below works after ``import resnet_inspect`` alone" in head
    guide = resnet_inspect.__doc__
    assert "resnet_inspect.trace(" in guide and "diagram(" in guide and "verify.verify" in guide
    assert len(guide.splitlines()) < 50
    assert "class TraceResult" not in text and "__dataclass_fields__" not in text
    assert len(text.splitlines()) < 450  # 706 lines of dataclass methods before issue 16


def test_a_diagram_shows_inline_and_has_a_short_repr():
    picture = resnet_inspect.diagram("resnet50", level="block", block="res3a")
    svg = picture._repr_svg_()
    assert svg.startswith("<svg") and svg == picture.to_svg()
    text = repr(picture)
    assert text.startswith("<Diagram block ") and "\n" not in text and len(text) < 200


# --------------------------------------------------------------------------- errors: the API's words


@pytest.mark.parametrize("call", [
    lambda: resnet_inspect.trace("resnet50", input="x"),
    lambda: resnet_inspect.trace("resnet50", input="0"),
    lambda: resnet_inspect.diagram("resnet50", input="x"),
    lambda: resnet_inspect.report_html("resnet50", input="x"),
    lambda: resnet_inspect.explain.explain("resnet50", "conv1", input="x"),
])
def test_api_errors_name_the_argument_not_the_flag(call):
    with pytest.raises(ShapeError) as caught:
        call()
    assert caught.value.field == "input"
    assert str(caught.value).startswith("input: input must be a size like 224")
    assert "--" not in str(caught.value)


def test_the_cli_keeps_its_flag_in_the_same_error():
    result = CliRunner().invoke(app, ["trace", "resnet50", "--input", "x", "-f", "json"])
    error = json.loads(result.stdout)["error"]
    assert result.exit_code == 2
    assert error["field"] == "--input"
    assert error["text"] == "--input: --input must be a size like 224 or 224x320 (H×W, ASCII digits), got 'x'"


# --------------------------------------------------------------------------- one parser of user numbers


@pytest.mark.parametrize("text, expected", [("224", (224, 224)), ("224x320", (224, 320)), ("224X320", (224, 320)),
                                            ("224×320", (224, 320)), (7, (7, 7)), ((3, 5), (3, 5))])
def test_sizes(text, expected):
    assert numbers.size(text) == expected


@pytest.mark.parametrize("text", ["２２４", "2_24", " 224", "224.0", "9" * 19, "9" * 5000, "0", "1x0", True])
def test_sizes_refused_in_one_short_line(text):
    with pytest.raises(ShapeError) as caught:
        numbers.size(text)
    assert len(str(caught.value)) < 150 and "\n" not in str(caught.value)


def test_ranges_counts_pairs_and_memory_share_the_rules():
    assert list(numbers.size_range("160:224:32")) == [160, 192, 224]
    assert numbers.index_pair("3,4") == (3, 4) and numbers.index_pair("2") == (2, 2)
    assert numbers.integer("-3") == -3 and numbers.integer(5) == 5
    assert numbers.memory("4GB") == 4 << 30
    for bad in ("１６０:２２４", "160 :224", "9" * 5000 + ":1"):
        with pytest.raises(ShapeError):
            numbers.size_range(bad)
    for bad in ("３,４", "3,4,5", "-1", "9" * 5000, "3, 4"):  # issue 17: no spaces either
        with pytest.raises(InspectError):
            numbers.index_pair(bad)
    assert numbers.integer(str(2**70)) == 2**70  # a seed may be that big
    for bad in ("５", "1_0", " 5", "9" * 41, "5.0", True):
        with pytest.raises(InspectError):
            numbers.integer(bad)
    for bad in ("４GB", "9" * 5000, "1e99999"):
        with pytest.raises(InspectError) as caught:
            numbers.memory(bad)
        assert len(str(caught.value)) < 150


def test_the_cli_reads_counts_with_the_same_rules():
    result = CliRunner().invoke(app, ["memory", "resnet50", "--batch", "５"])
    assert result.exit_code == 2
    assert "'５' is not a valid int." in result.output
    assert CliRunner().invoke(app, ["memory", "resnet50", "--batch", "2", "-f", "json"]).exit_code == 0


def test_flat_parsers_are_the_one_parser():
    """The parsers the modules always had now delegate: same answers, same flag in the error."""
    from resnet_inspect.analysis.receptive import parse_unit
    from resnet_inspect.analysis.sweep import parse_sizes
    from resnet_inspect.execute.executor import parse_memory

    assert resnet_inspect.parse_input("224x320") == numbers.size("224x320")
    assert parse_unit("3,4") == numbers.index_pair("3,4")
    assert parse_memory("512MB") == numbers.memory("512MB")
    assert parse_sizes(["160:224:32"]) == [(s, s) for s in numbers.size_range("160:224:32")]
    with pytest.raises(ShapeError, match="^--input: --input must"):
        resnet_inspect.parse_input("２２４")
