"""Input-size sweeps: the same numbers as a full trace per size, failures as rows, the range syntax."""

import json

import pytest
from typer.testing import CliRunner

from resnet_inspect import InspectError, load_graph, trace
from resnet_inspect.cli import app
from resnet_inspect.analysis.sweep import parse_sizes, sweep


def test_range_syntax_includes_stop():
    assert parse_sizes(["160:640:32"])[:2] == [(160, 160), (192, 192)]
    assert parse_sizes(["160:640:32"])[-1] == (640, 640) and len(parse_sizes(["160:640:32"])) == 16  # (640-160)/32 + 1
    assert parse_sizes(["224", "200:202", "224x320"]) == [(224, 224), (200, 200), (201, 201), (202, 202), (224, 320)]
    for bad in ("640:160:32", "0:10:1", "1:2:0", "a:b", "1:2:3:4"):
        with pytest.raises(InspectError, match="--input"):
            parse_sizes([bad])
    with pytest.raises(InspectError, match="at most"):
        parse_sizes(["1:1000000000:1"])


@pytest.mark.parametrize("spec", ["resnet50", "resnet50-torchvision"])
def test_sweep_rows_equal_a_full_trace_per_size(spec):
    # The oracle is the engine's own full trace (LayerInfo rows, totals) at each size.
    sizes = [(193, 193), (224, 224), (224, 320), (448, 448)]
    rows = sweep(load_graph(spec), sizes).rows
    for size, row in zip(sizes, rows):
        result = trace(spec, size)
        assert (row.macs, row.flops, row.params) == (result.totals.macs, result.totals.flops, result.totals.params)
        assert row.final_feature_map == result.layer("res5c_relu").output_shape and row.error is None


def test_params_change_where_a_flatten_feeds_the_dense_layer():
    # resnet50's head is avg_pool 7×7/7 -> flatten -> fc1000. At 448 the 14×14 map pools to 2×2,
    # so fc1000 takes 2·2·2048 = 8192 inputs: 8192·1000 + 1000 weights instead of 2048·1000 + 1000.
    rows = sweep(load_graph("resnet50"), [(224, 224), (448, 448)]).rows
    assert rows[1].params - rows[0].params == (8192 - 2048) * 1000
    # torchvision's global pool keeps params fixed at every size
    fixed = sweep(load_graph("resnet50-torchvision"), [(224, 224), (448, 448)]).rows
    assert fixed[0].params == fixed[1].params == 25_610_152


def test_a_size_that_does_not_work_is_a_row_that_says_why():
    result = sweep(load_graph("resnet50"), [(192, 192), (193, 193)])
    failed, worked = result.rows
    assert failed.macs is None and "avg_pool" in failed.error and "got 6" in failed.error
    assert worked.error is None and result.smallest_input == 193  # README: resnet50's smallest input is 193


def test_flops_command_with_a_range():
    runner = CliRunner()
    result = runner.invoke(app, ["flops", "resnet50", "--input", "160:640:32", "--input", "224x320", "--format", "json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert len(data["results"]) == 17 and data["results"][-1]["input"] == [224, 320, 3]
    first = data["results"][0]
    assert first["error"].startswith("layer avg_pool") and first["macs"] is None
    at224 = next(r for r in data["results"] if r["input"] == [224, 224, 3])
    assert at224["macs"] == 3_857_973_248 and at224["final_feature_map"] == [7, 7, 2048]  # README's bundled-spec table
    csv = runner.invoke(app, ["flops", "resnet50", "--input", "224:256:32", "--format", "csv"])
    assert csv.stdout.splitlines()[1] == "224,224,3857973248,7764019104,25636712,7x7x2048,"
    table = runner.invoke(app, ["flops", "resnet50", "--input", "192:224:32"])
    assert table.exit_code == 0 and "█" in table.stdout and "needs H >= 7" in table.stdout
    bad = runner.invoke(app, ["flops", "resnet50", "--input", "300:200:1"])
    assert bad.exit_code == 2 and "--input" in bad.stderr
