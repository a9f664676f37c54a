"""Receptive fields against published values and hand calculations.

Sources:
- Google's receptive_field library (tensorflow/models, research/receptive_field, README table
  for TF-Slim's resnet_v1_50/101/152): 483, 1027 and 1507 px, effective stride 32, effective
  padding 239 for resnet_v1_50 (TF-Slim's SAME max pool pads only bottom/right).
- Araujo, Norouzi and Kornblith, "Computing Receptive Fields of Convolutional Neural Networks",
  Distill 2019: the same table (ResNet-50 v1: 483) and the centre formula
  ``center = -padding + index·stride + (size - 1)/2``.
"""

import json

import pytest
from typer.testing import CliRunner

from resnet_inspect import InspectError, trace
from resnet_inspect.cli import app
from resnet_inspect.analysis.receptive import ReceptiveField, parse_unit, receptive_fields, receptive_report


def last_stage(spec, size=224):
    report = receptive_report(trace(spec, size))
    return report.layer(report.last_stage_layer)


@pytest.mark.parametrize("spec, size, padding", [
    ("resnet50", 483, 241),       # Distill 2019 / Google's library: 483; padding 241 with the blog's symmetric pool pad
    ("resnet50-2019", 483, 239),  # no pool padding: 239, as TF-Slim's resnet_v1_50 in Google's library
    ("resnet101", 1027, 513),     # Google's library, resnet_v1_101: 1027
    ("resnet152", 1507, 753),     # Google's library, resnet_v1_152: 1507
])
def test_last_stage_matches_published_values(spec, size, padding):
    field = last_stage(spec)
    assert field == ReceptiveField((size, size), (32, 32), (padding, padding))


def test_torchvision_v15_is_smaller_by_hand():
    # Hand calculation. Stem (same as v1): conv 7×7/2 -> 7 px, stride 2; pool 3×3/2 -> 7 + 2·2 = 11, stride 4.
    # v1.5 strides the 3×3, so the first 3×3 of stages 3-5 still runs at the previous stage's stride:
    # stage 2: 3 blocks × 2·4 = 24 -> 35; stage 3: 2·4 + 3 × 2·8 = 56 -> 91;
    # stage 4: 2·8 + 5 × 2·16 = 176 -> 267; stage 5: 2·16 + 2 × 2·32 = 160 -> 427.
    # Padding: 3 + 1·2 = 5, then 4·3 = 12 -> 17, 4 + 3·8 = 28 -> 45, 8 + 5·16 = 88 -> 133, 16 + 2·32 = 80 -> 213.
    field = last_stage("resnet50-torchvision")
    assert field == ReceptiveField((427, 427), (32, 32), (213, 213))
    fields = receptive_fields(trace("resnet50-torchvision"))
    assert fields["res3d_relu"].size == (91, 91) and fields["res4f_relu"].size == (267, 267)


def test_basic_blocks_by_hand():
    # resnet18 (basic blocks, two 3×3 per block): stem 11 px at stride 4; stage 2: 4 convs × 2·4 = 32 -> 43;
    # stage 3: the 3×3/2 at stride 4 adds 8, three more at 8 add 48 -> 99; stage 4: 16 + 3·32 -> 211;
    # stage 5: 32 + 3·64 -> 435. torchvision's resnet101 is v1.5: 1027 − (8 + 16 + 32) = 971.
    assert last_stage("resnet18").size == (435, 435)
    assert last_stage("resnet101-torchvision").size == (971, 971)


def test_stem_by_hand():
    # conv1_pad 3 -> padding 3; conv1 7×7/2 -> size 7, stride 2; pool1_pad 1 at stride 2 -> padding 5;
    # pool1 3×3/2 -> 7 + (3 - 1)·2 = 11, stride 4.
    fields = receptive_fields(trace("resnet50"))
    assert fields["conv1"] == ReceptiveField((7, 7), (2, 2), (3, 3))
    assert fields["pool1"] == ReceptiveField((11, 11), (4, 4), (5, 5))
    # v1 strides the first 1×1 of res3a: its 3×3 runs at stride 8 and adds 2·8 = 16.
    assert fields["res3a_branch2b"].size == (35 + 16, 35 + 16)


def test_a_shortcut_never_widens_the_field():
    fields = receptive_fields(trace("resnet50"))
    assert fields["res3a_branch1"].size[0] < fields["res3a_branch2c"].size[0]
    assert fields["res3a"] == fields["bn3a_branch2c"]  # the add takes its widest input
    assert fields["res3b"] == fields["bn3b_branch2c"]  # an identity shortcut carries the narrower res3a_relu


def test_non_square_input_keeps_axes_apart():
    # Global average pool over a 7×10 map: 427 + 6·32 = 619 rows, 427 + 9·32 = 715 columns.
    fields = receptive_fields(trace("resnet50-torchvision", "224x320"))
    assert fields["res5c_relu"].size == (427, 427)
    assert fields["avg_pool"].size == (619, 715)
    assert fields["avg_pool"].to_dict()["size"] == [619, 715]


def test_coverage_of_the_input():
    # resnet50: the first unit sees up to -241 + 483 - 1 = 241 >= 223, the last -241 + 6·32 = -49 <= 0.
    assert receptive_report(trace("resnet50", 224)).covers_input
    # at 448 the first unit still stops at pixel 241 < 447
    assert not receptive_report(trace("resnet50", 448)).covers_input
    # torchvision's 427 px with padding 213 stops at pixel 213 < 223 already at 224
    assert not receptive_report(trace("resnet50-torchvision", 224)).covers_input


def test_unit_centre_follows_distill():
    # center = -padding + index·stride + (size - 1)/2: -241 + 3·32 + 241 = 96 and -241 + 4·32 + 241 = 128.
    unit = receptive_report(trace("resnet50"), (3, 4)).unit
    assert unit.center == (96.0, 128.0)
    assert unit.first == (-241 + 96, -241 + 128) and unit.last == (-241 + 96 + 482, -241 + 128 + 482)
    # With 239 padding the centres move by 2: -239 + 96 + 241 = 98.
    assert receptive_report(trace("resnet50-2019"), (3, 4)).unit.center == (98.0, 130.0)


def test_unit_outside_the_grid_is_an_error():
    with pytest.raises(InspectError, match="outside res5c_relu's 7×7 grid"):
        receptive_report(trace("resnet50"), (7, 0))
    with pytest.raises(InspectError, match="--unit"):
        parse_unit("a,b")
    assert parse_unit("3,4") == (3, 4) and parse_unit("2") == (2, 2)
    with pytest.raises(InspectError, match="--unit"):  # issue 17: ASCII digits only, no spaces
        parse_unit("3, 4")


def test_trace_json_gains_receptive_field():
    data = trace("resnet50").to_dict()
    by_name = {layer["name"]: layer for layer in data["layers"]}
    assert by_name["res5c_relu"]["receptive_field"] == {"size": [483, 483], "stride": [32, 32], "padding": [241, 241]}
    assert by_name["input"]["receptive_field"] == {"size": [1, 1], "stride": [1, 1], "padding": [0, 0]}


def test_rf_command():
    runner = CliRunner()
    result = runner.invoke(app, ["rf", "resnet101", "--unit", "3,4", "--format", "json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["last_stage"]["size"] == [1027, 1027] and data["last_stage"]["covers_input"] is True
    assert data["unit"]["center"] == [96.0, 128.0]
    table = runner.invoke(app, ["rf", "resnet50", "--unit", "3,4"])
    assert table.exit_code == 0 and "483 px" in table.stdout and "96,128" in table.stdout
    csv = runner.invoke(app, ["rf", "resnet50", "--format", "csv"])
    assert "res5c_relu,relu,7x7x2048,483,483,32,32,241,241" in csv.stdout
    bad = runner.invoke(app, ["rf", "resnet50", "--unit", "9,9"])
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and "--unit" in bad.stderr


def test_readme_table_of_last_stages_is_what_rf_computes():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    from resnet_inspect import bundled_specs

    rows = re.findall(r"^\| `([\w-]+)` \| (\d+) \| (\d+) \| (\d+) \| (yes|no) \|$", text, flags=re.M)
    assert sorted(spec for spec, *_ in rows) == sorted(bundled_specs())  # every bundled spec, once
    for spec, size, stride, padding, seen in rows:
        report = receptive_report(trace(spec, 224))
        field = report.layer(report.last_stage_layer)
        assert (field.size[0], field.stride[0], field.padding[0]) == (int(size), int(stride), int(padding))
        assert report.covers_input == (seen == "yes")


def test_rf_column_in_trace():
    runner = CliRunner()
    csv = runner.invoke(app, ["trace", "resnet50", "--columns", "output_shape,rf", "--format", "csv"])
    assert csv.exit_code == 0 and "res5c_relu,7x7x2048,483x483" in csv.stdout
    table = runner.invoke(app, ["trace", "resnet101", "--columns", "rf", "--depth", "stage"])
    assert table.exit_code == 0 and "1027" in table.stdout  # Google's library: resnet_v1_101
    layers = json.loads(runner.invoke(app, ["trace", "resnet50", "-c", "rf", "-f", "json"]).stdout)["layers"]
    assert layers[-1]["receptive_field"]["size"] == [675, 675]  # avg_pool 7×7 at stride 32: 483 + 6·32
