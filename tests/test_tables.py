"""Issue 9's tables: the summary block, ``--columns``, any terminal width, ``params --input``,
JSON's version key and strictness, and JUnit that validates against Jenkins' schema.

Independent numbers:
- Keras ``ResNet50().summary()``: Total params 25,636,712; trainable 25,583,592; non-trainable
  53,120; Keras prints the size as "(97.80 MB)", which is MiB: 25,636,712 · 4 / 2²⁰ = 97.80.
- torchinfo's "Input size (MB): 0.60" for a 1×3×224×224 float32 input: 150,528 · 4 = 602,112 bytes,
  MB = 10⁶ bytes (torchinfo divides by 1e6). Our "Params size" uses the same MB: 102,546,848 bytes.
- Keras' resnet.py: ``ZeroPadding2D(3)`` then ``Conv2D(64, 7, strides=2)`` (valid padding), and
  ``ZeroPadding2D(1)`` then ``MaxPooling2D(3, strides=2)``: conv1 is 7/2 with padding 0, pool1 3/2.
- ``params --input 448``: the 14×14 stage-5 map pools (7×7/7) to 2×2×2048, so fc1000 sees 8,192
  inputs: 8,192·1,000 + 1,000 = 8,193,000 params instead of 2,048·1,000 + 1,000 = 2,049,000;
  25,636,712 + 8,193,000 - 2,049,000 = 31,780,712 (hand calculation).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

import resnet_inspect
from resnet_inspect.render import formatting
from resnet_inspect.cli import app
from resnet_inspect.model.engine import trace
from resnet_inspect.language.spec import bundled_specs

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = str(ROOT / "tests" / "specs" / "valid" / "minimal.yaml")


def run(*args: str, columns: int | None = None):
    env = {"COLUMNS": str(columns)} if columns else {}
    return CliRunner().invoke(app, list(args), env=env)


# --------------------------------------------------------------------------- summary block


def test_summary_block_has_keras_and_torchinfo_numbers_with_their_conventions():
    out = run("trace", "resnet50", "--depth", "stage").stdout
    assert re.search(r"Total params\s+25,636,712 \(102\.55 MB\)", out)  # 102,546,848 bytes / 1e6
    assert re.search(r"Trainable params\s+25,583,592", out) and re.search(r"Non-trainable params\s+53,120", out)
    assert "Keras prints MiB: 97.80" in out  # Keras' own "(97.80 MB)"
    assert re.search(r"Input size\s+0\.60 MB", out)  # torchinfo's "Input size (MB): 0.60"
    assert re.search(r"MACs\s+3,857,973,248", out) and re.search(r"FLOPs\s+7,764,019,104", out)
    markdown = run("trace", "resnet50", "--depth", "stage", "-f", "markdown").stdout
    assert "| Total params | 25,636,712 (102.55 MB) |" in markdown
    assert "| Input size | 0.60 MB |" in markdown


def test_summary_block_has_the_activation_peak_and_torchinfos_figure():
    # torchinfo 1.8 on torchvision's resnet50 (1×3×224×224): "Forward/backward pass size (MB): 177.83".
    out = " ".join(run("trace", "resnet50-torchvision", "--depth", "stage").stdout.split())
    assert re.search(r"Activation peak \d+\.\d\d MB inference, batch 1", out)
    assert re.search(r"Forward/backward pass size:? 177\.83 MB torchinfo's convention", out)


def test_trace_json_sizes():
    data = json.loads(run("trace", "resnet50", "-f", "json").stdout)
    # 224·224·3 numbers · 4 bytes; 25,636,712 and 25,583,592 params · 4 bytes (float32)
    assert data["sizes"] == {"dtype": "float32", "input_bytes": 602_112, "params_bytes": 102_546_848,
                             "trainable_params_bytes": 102_334_368}


# --------------------------------------------------------------------------- terminal widths


def names_intact(out: str, names: list[str]) -> list[str]:
    """The names that do not appear whole in a cell (between borders and spaces)."""
    return [n for n in names if not re.search(rf"│ {re.escape(n)} +│", out)]


@pytest.mark.parametrize("spec", ["resnet50", "resnet152"])
@pytest.mark.parametrize("width", [60, 80, 120])
def test_trace_fits_the_terminal_and_cuts_nothing(spec, width):
    result = run("trace", spec, columns=width)
    assert result.exit_code == 0
    out = result.stdout
    assert "…" not in out  # no ellipsis anywhere: nothing cut
    assert max(cell_len(line) for line in out.splitlines()) <= width
    traced = trace(spec)
    assert names_intact(out, [layer.name for layer in traced.layers]) == []
    total = f"{traced.totals.params:,}"  # 25,636,712 (Keras) for resnet50
    assert re.search(rf"│ Total +│(.*│)? +{total} │", out)
    dropped = "left out to fit the terminal" in " ".join(out.split())
    assert re.search(r"┃ +MACs ┃", out)  # never dropped at these widths (issue 18)
    # The four default columns need 86 cells (resnet50) and 88 (resnet152's longer names) at
    # their natural widths; the op column wraps at spaces down to 77/79, so only 60 drops one.
    assert dropped == (width == 60)
    assert ("┃ Op " in out) == (width > 60)
    # resnet152's longer names leave no room for Output shape at 60: it goes before MACs, the headline
    assert ("shape ┃" in out) == (spec == "resnet50" or width > 60)


def test_at_80_columns_two_layers_no_longer_share_a_cut_name():
    out = run("trace", "resnet50", columns=80).stdout
    assert "res2a_branch2…" not in out
    assert "│ res2a_branch2a " in out and "│ res2a_branch2b " in out and "│ res2a_branch2a_relu " in out
    # The op column gave way by wrapping at a space, not by losing text:
    assert re.search(r"│ res2a_branch2b +│ conv 3×3/1, 64, +│.*\n│ +│ pad 1 +│", out)


def test_at_60_columns_the_caption_names_what_was_left_out():
    # issue 18: MACs, the headline number, stays; Op goes first, and "Output shape" wraps at its space
    raw = run("trace", "resnet50", columns=60).stdout
    out = " ".join(raw.split())
    assert "left out to fit the terminal: op (widen it or choose with --columns)" in out
    assert re.search(r"┃ +MACs ┃", raw) and re.search(r"│ Total +│.*│ +3\.86 G │", raw)
    assert max(cell_len(line) for line in raw.splitlines()) <= 60


def test_at_60_columns_a_wrapped_summary_note_stays_under_its_line():
    lines = run("trace", "resnet50-torchvision", columns=60).stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Forward/backward pass size"))
    note = lines[start + 1:]
    assert len([line for line in note if line.strip()]) >= 2  # the convention wraps at 60
    assert all(line.startswith("  ") for line in note if line.strip())  # every wrapped line indented


def test_chosen_columns_are_never_dropped_nor_cut():
    out = run("trace", "resnet50", "--columns", "op,output_shape,params,macs,flops", columns=60).stdout
    assert "left out" not in out and "…" not in out
    assert "FLOPs" in out
    # Names and numbers stay whole (issue 17): the `op` cells wrap at spaces, and when even that is
    # not enough the table is as wide as its names and numbers need; the terminal wraps the lines.
    assert max(cell_len(line) for line in out.splitlines()) > 60
    assert "│ res2a_branch2a_relu " in out
    assert re.search(r"│ conv1 +│ conv +│ +112×112×64 │ +9,472 │ 118.01 M │ 236.83 M │\n│ +│ 7×7/2, 64 +│", out)


def test_piped_without_columns_does_not_wrap():
    out = run("trace", "resnet50").stdout  # CliRunner: not a terminal, COLUMNS unset
    lines = out.splitlines()
    assert "left out" not in out
    assert max(cell_len(line) for line in lines) > 120  # the old fixed width no longer applies
    assert lines[0].strip() == "resnet50 — input 224×224×3"  # the title is one line


# --------------------------------------------------------------------------- --columns


def test_columns_are_the_same_in_every_format():
    args = ["trace", "resnet50", "--columns", "inputs,kernel,trainable"]
    table = run(*args, columns=200).stdout
    assert re.search(r"│ res2a +│ bn2a_branch2c, bn2a_branch1 +│", table)  # Keras' "Connected to"
    assert re.search(r"│ conv1 +│ conv1_pad +│ 7×7/2 +│", table)
    rows = list(csv.reader(io.StringIO(run(*args, "-f", "csv").stdout)))
    assert rows[0] == ["name", "inputs", "kernel", "trainable_params"]
    assert ["res2a", "bn2a_branch2c bn2a_branch1", "", "0"] in rows and ["pool1", "pool1_pad", "3x3/2", "0"] in rows
    layers = {layer["name"]: layer for layer in json.loads(run(*args, "-f", "json").stdout)["layers"]}
    assert layers["conv1"]["kernel"] == [7, 2, 0] and layers["pool1"]["kernel"] == [3, 2, 0]
    assert layers["res2a_branch2b"]["kernel"] == [3, 1, 1] and layers["res2a"]["kernel"] is None
    markdown = run(*args, "-f", "markdown").stdout
    assert "| Layer | Inputs | Kernel | Trainable |" in markdown
    assert "| res2a_branch2b | res2a_branch2a_relu | 3×3/1 p1 | 36,928 |" in markdown  # 3·3·64·64 + 64


def test_default_csv_keeps_its_contract():
    header = run("trace", "resnet50", "-f", "csv").stdout.splitlines()[0]
    assert header == "name,op,inputs,output_shape,params,trainable_params,non_trainable_params,macs,flops,stage,block"


def test_unknown_column_is_one_line_exit_2():
    result = run("trace", "resnet50", "--columns", "params,rf_typo")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --columns: unknown column 'rf_typo'; choose from op, ")


def test_every_registered_column_is_documented():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert [name for name in formatting.COLUMNS if f"| `{name}` |" not in readme] == []


def test_a_column_is_registered_once():
    with pytest.raises(ValueError, match="twice"):
        formatting.register(formatting.COLUMNS["params"])


# --------------------------------------------------------------------------- params --input


def test_params_depend_on_the_input_when_a_flatten_feeds_the_dense_layer():
    at_224 = json.loads(run("params", "resnet50", "-f", "json").stdout)
    at_448 = json.loads(run("params", "resnet50", "--input", "448", "-f", "json").stdout)
    fc_224, fc_448 = 2048 * 1000 + 1000, (2 * 2 * 2048) * 1000 + 1000
    assert at_224["params"] == 25_636_712
    assert at_448["params"] == 25_636_712 - fc_224 + fc_448 == 31_780_712
    assert at_448["by_stage"]["head"]["params"] == fc_448


# --------------------------------------------------------------------------- JSON


@pytest.mark.parametrize("args", [
    ["trace", "resnet50"], ["trace", "resnet50", "--depth", "block"], ["flops", "resnet50"], ["params", "resnet50"],
    ["list"], ["check", str(bundled_specs()["resnet50"])], ["diff", "resnet50", "resnet50-torchvision"],
    ["verify", MINIMAL, "--input", "32"], ["trace", "no-such-spec"],
], ids=lambda a: " ".join(a[:2]))
def test_every_json_output_leads_with_the_version(args):
    result = run(*args, "--format", "json")
    data = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert next(iter(data)) == "resnet_inspect" and data["resnet_inspect"] == resnet_inspect.__version__


def test_non_finite_numbers_become_null_never_bare_nan():
    text = formatting.to_json({"score": float("nan"), "top": [float("inf"), 0.5, -float("inf")], "n": 3})
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert data["score"] is None and data["top"] == [None, 0.5, None] and data["n"] == 3


# --------------------------------------------------------------------------- JUnit against the XSD


XSD = Path(__file__).resolve().parent / "data" / "junit-jenkins.xsd"


def junit_schema():
    xmlschema = pytest.importorskip("xmlschema")
    return xmlschema.XMLSchema(str(XSD))


def test_junit_validates_against_jenkins_schema(tmp_path):
    resnet50 = bundled_specs()["resnet50"].read_text(encoding="utf-8")
    head = resnet50[: resnet50.index("expect:")]
    (tmp_path / "good.yaml").write_text(resnet50)
    (tmp_path / "wrong.yaml").write_text(head + "expect: {params: 1, shapes: {res2a: [1, 1, 1]}}\n")
    (tmp_path / "broken.yaml").write_text(head.replace("blocks: 3, stride: 1", "blocks: 0, stride: 1"))
    (tmp_path / "evil.yaml").write_text(head.replace("name: resnet50", 'name: "e\\e[2J\\x07<&>\\x0c"')
                                        + "expect: {params: 2}\n")
    result = run("check", str(tmp_path), "--format", "junit")
    assert result.exit_code == 1
    schema = junit_schema()
    schema.validate(io.StringIO(result.stdout))  # raises naming the offending element and attribute

    tree = ElementTree.fromstring(result.stdout)
    assert all(float(suite.get("time")) >= 0 for suite in tree.iter("testsuite"))
    for suite in tree.iter("testsuite"):  # one classname per file, and it is the file
        assert {case.get("classname") for case in suite.iter("testcase")} == {suite.get("file")}
    failure = next(f for f in tree.iter("failure") if "res2a" in f.get("message"))
    assert re.match(r".*wrong\.yaml:\d+:\d+: shapes\.res2a", failure.text)  # the location, in the text


def test_the_schema_rejects_what_we_used_to_write():
    # Before issue 9 a testcase carried file= and line=, which junit-10.xsd does not allow.
    old = ('<testsuites><testsuite name="a.yaml" tests="1" failures="0" errors="0">'
           '<testcase classname="resnet50" name="params" file="a.yaml" line="3"/></testsuite></testsuites>')
    assert not junit_schema().is_valid(io.StringIO(old))
    assert junit_schema().is_valid(io.StringIO(old.replace(' file="a.yaml" line="3"', ' time="0.001"')))


# --------------------------------------------------------------------------- issue 18: conventions and notes


def test_a_torchvision_spec_leads_with_torchvisions_count():
    # sum(p.numel() for p in torchvision.models.resnet50().parameters()) = 25,557,032 (the spec's
    # expect, from torchvision); Keras' convention adds the 53,120 BN running statistics: 25,610,152.
    out = run("trace", "resnet50-torchvision", "--depth", "stage", columns=120).stdout
    assert re.search(r"│ Total +│.*│ +25,557,032 │", out)
    flat = " ".join(out.split())
    assert re.search(r"Total params:? 25,557,032 \(102\.23 MB\):? PyTorch's parameters\(\)", flat)
    assert re.search(r"With BN buffers:? 25,610,152 \(102\.44 MB\):? Keras' Total params", flat)
    bn = run("trace", "resnet50-torchvision", columns=200).stdout
    assert re.search(r"│ bn_conv1 +│.*│ +128 │", bn)  # gamma + beta of 64 channels, as torchinfo
    data = json.loads(run("trace", "resnet50-torchvision", "-f", "json").stdout)
    assert data["param_count"] == "torch"
    assert (data["totals"]["params"], data["totals"]["trainable_params"]) == (25_610_152, 25_557_032)  # unchanged
    keras = run("trace", "resnet50", "--depth", "stage", columns=120).stdout
    assert re.search(r"│ Total +│.*│ +25,636,712 │", keras)  # Keras' ResNet50().summary()
    assert json.loads(run("trace", "resnet50", "-f", "json").stdout)["param_count"] == "keras"


def test_a_pool_window_that_leaves_columns_out_is_a_note_and_a_json_warning():
    # 224x320: stage 5 is 7x10 (320/32); avg_pool 7x7/7 gives floor((10-7)/7)+1 = 1 column and
    # reads columns 0-6: the last 3 (7, 8, 9) reach no output (hand calculation).
    data = json.loads(run("trace", "resnet50", "--input", "224x320", "-f", "json").stdout)
    assert data["warnings"] == [{"kind": "window_leftover", "layer": "avg_pool", "rows": 0, "columns": 3,
                                 "message": "its 7×7/7 window on 7×10 leaves the last 3 columns out "
                                            "(they reach no output)"}]
    out = " ".join(run("trace", "resnet50", "--input", "224x320", columns=120).stdout.split())
    assert "note: avg_pool: its 7×7/7 window on 7×10 leaves the last 3 columns out" in out
    markdown = run("trace", "resnet50", "--input", "224x320", "-f", "markdown").stdout
    assert "note: avg_pool: its 7×7/7 window on 7×10 leaves the last 3 columns out" in markdown
    # 224: 7x7 pools to 1x1 exactly; zeros a pad layer added (pool1_pad) are not counted: no warning
    assert json.loads(run("trace", "resnet50", "-f", "json").stdout)["warnings"] == []
    # the blog's 2019 code has no pool1 padding: 3x3/2 on 112 reads rows 0-110, the last one is lost
    blog = json.loads(run("trace", "resnet50-2019", "-f", "json").stdout)["warnings"]
    assert [(w["layer"], w["rows"], w["columns"]) for w in blog] == [("pool1", 1, 1)]


def test_warnings_name_layers_as_the_scheme_does():
    data = json.loads(run("trace", "resnet50-2019", "--names", "keras3", "-f", "json").stdout)
    assert [(w["layer"], w["blog_layer"]) for w in data["warnings"]] == [("pool1_pool", "pool1")]


def test_explain_says_columns_when_they_are_columns():
    out = run("explain", "resnet50", "avg_pool", "--input", "224x320").stdout
    assert "the floor drops 3, so the last 3 columns start no window" in out
    assert "row" not in out.split("output W")[1].split("\n")[1]


def test_keras_layouts_say_both_smallest_inputs():
    # keras.applications.ResNet50V2(input_shape=(31, 31, 3)) raises "Input size must be at least
    # 32x32"; its layers build at 1x1 (GlobalAveragePooling2D takes any map).
    assert resnet_inspect.smallest_input("resnet50v2") == 1
    assert resnet_inspect.smallest_input("resnet50v2", framework=True) == 32
    assert resnet_inspect.smallest_input("resnet50", framework=True) == 193  # no framework floor: the layers'
    data = json.loads(run("trace", "resnet50v2", "--input", "16", "-f", "json").stdout)
    assert [w["kind"] for w in data["warnings"]] == ["below_framework_minimum"]
    assert "keras.applications.ResNet50V2 refuses inputs below 32×32" in data["warnings"][0]["message"]
    sweep = json.loads(run("flops", "resnet50-keras3", "--input", "16:48:16", "-f", "json").stdout)
    assert sweep["framework"] == {"name": "keras.applications.ResNet50", "min_input": 32}
    out = " ".join(run("flops", "resnet50-keras3", "--input", "16:48:16", columns=200).stdout.split())
    assert "keras.applications.ResNet50 itself refuses inputs below 32×32" in out


def test_the_shape_error_says_both_smallest_inputs(tmp_path):
    # resnet50's layers need 193 (tests/test_networks.py, by hand); a framework floor above that (a
    # made-up constructor's 197 here) is said beside it.
    text = (ROOT / "specs" / "resnet50.yaml").read_text(encoding="utf-8")
    text = text.replace("\nvariables:", "\nframework: {name: example.ResNet50, min_input: 197}\n"
                                        "variables:", 1)
    path = tmp_path / "floor.yaml"
    path.write_text(text, encoding="utf-8")
    result = run("trace", str(path), "--input", "150")
    assert result.exit_code == 2
    assert ("the smallest input that works is 193 (193×193); example.ResNet50 itself "
            "refuses inputs below 197×197") in " ".join(result.output.split())
    assert resnet_inspect.smallest_input(str(path), framework=True) == 197
