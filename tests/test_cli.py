"""Every core command through typer's CliRunner, and the JSON contract of the README."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


def run_json(*args):
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_trace_table_groups_by_stage_and_ends_with_totals():
    result = run("trace", "resnet50")
    assert result.exit_code == 0
    out = result.stdout
    for text in ("res2a_branch2a", "56×56×256", "stage3", "Total", "25,636,712", "3,857,973,248"):
        assert text in out
    assert out.index("stage2") < out.index("res2a_branch2a") < out.index("stage3")


def test_trace_json_contract():
    data = run_json("trace", "resnet50", "--input", "224")
    assert set(data) >= {"spec", "input", "layers", "totals"}
    assert data["spec"] == "resnet50" and data["input"] == [224, 224, 3]
    keys = {"name", "op", "inputs", "output_shape", "params", "trainable_params", "macs", "flops"}
    for layer in data["layers"]:
        assert keys <= set(layer)
        assert layer["params"] == layer["trainable_params"] + layer["non_trainable_params"]
    by_name = {layer["name"]: layer for layer in data["layers"]}
    assert by_name["res2a"]["inputs"] == ["bn2a_branch2c", "bn2a_branch1"]
    assert by_name["res2a"]["output_shape"] == [56, 56, 256]
    assert by_name["fc1000"]["output_shape"] == [1000]
    totals = data["totals"]
    assert set(totals) >= {"params", "trainable_params", "non_trainable_params", "macs", "flops"}
    # Totals are the sums of the rows (the contract), and Keras' numbers for this network.
    for key in ("params", "trainable_params", "macs", "flops"):
        assert totals[key] == sum(layer[key] for layer in data["layers"])
    assert (totals["params"], totals["non_trainable_params"]) == (25_636_712, 53_120)


def test_trace_depth_adds_groups_without_changing_totals():
    layer = run_json("trace", "resnet50")
    for depth in ("block", "stage"):
        data = run_json("trace", "resnet50", "--depth", depth)
        assert data["totals"] == layer["totals"] and data["layers"] == layer["layers"]
        assert data["depth"] == depth
        assert sum(g["macs"] for g in data["groups"]) == layer["totals"]["macs"]
    assert [g["name"] for g in run_json("trace", "resnet50", "--depth", "stage")["groups"]] == [
        "stem", "stage2", "stage3", "stage4", "stage5", "head"]


def test_trace_csv_and_markdown():
    rows = list(csv.DictReader(io.StringIO(run("trace", "resnet50-2019", "-f", "csv").stdout)))
    by_name = {row["name"]: row for row in rows}
    assert by_name["pool1"]["output_shape"] == "55x55x64"
    assert sum(int(row["macs"]) for row in rows) == 3_834_331_136
    md = run("trace", "resnet50", "--depth", "block", "--format", "markdown").stdout
    assert "| res2a | conv_block 12 layers | 56×56×256 |" in md
    assert "**25,636,712**" in md


def test_trace_non_square_and_bad_input():
    assert run_json("trace", "resnet50", "--input", "224x320")["input"] == [224, 320, 3]
    bad = run("trace", "resnet50", "--input", "big")
    assert bad.exit_code == 2 and "--input" in bad.stderr and "Traceback" not in bad.output
    small = run("trace", "resnet50", "--input", "100")
    assert small.exit_code == 2
    assert small.stderr.count("\n") == 1 and "avg_pool" in small.stderr and "193" in small.stderr


def test_errors_in_json_mode_are_json_on_stdout():
    result = run("trace", "resnet50", "--input", "100", "--format", "json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    head_line = Path(error["file"]).read_text().splitlines().index("head:") + 1  # the head declares avg_pool
    assert error["layer"] == "avg_pool" and error["file"].endswith("resnet50.yaml") and error["line"] == head_line


def test_unknown_spec():
    result = run("trace", "resnet51")
    assert result.exit_code == 2 and "unknown spec 'resnet51'" in result.stderr and "resnet50" in result.stderr


def test_flops_several_inputs():
    data = run_json("flops", "resnet50", "--input", "224", "--input", "299")
    assert [r["input"] for r in data["results"]] == [[224, 224, 3], [299, 299, 3]]
    first = data["results"][0]
    assert first["macs"] == 3_857_973_248
    assert sum(s["macs"] for s in first["by_stage"].values()) == first["macs"]
    assert sum(s["flops"] for s in first["by_stage"].values()) == first["flops"]
    assert data["results"][1]["macs"] > first["macs"]
    table = run("flops", "resnet50", "--input", "224").stdout
    assert "3,857,973,248" in table and "stage4" in table


def test_params():
    data = run_json("params", "resnet50-torchvision")
    # torchvision: 25,557,032 parameters; BN running stats (53,120) are buffers.
    assert data["trainable_params"] == 25_557_032 and data["non_trainable_params"] == 53_120
    assert sum(s["params"] for s in data["by_stage"].values()) == data["params"]
    assert "25,557,032" in run("params", "resnet50-torchvision").stdout


def test_list():
    data = run_json("list")
    names = [spec["name"] for spec in data["specs"]]
    assert {"resnet50", "resnet50-2019", "resnet50-torchvision"} <= set(names)
    assert all(spec["description"] for spec in data["specs"])
    assert "resnet50-2019" in run("list").stdout


def test_spec_by_path(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(
        "name: tiny\ninput: [32, 32, 3]\nblock: basic\nstem: {pad: 1, conv: {filters: 8, kernel: 3, stride: 1}, pool: null}\n"
        "stages:\n  - {stage: 2, filters: [8, 8], blocks: 2, stride: 1, first_block: identity}\n"
        "head: {pool: global, dense: {units: 10, name: fc10, activation: none}}\n")
    data = run_json("trace", str(spec))
    names = [layer["name"] for layer in data["layers"]]
    assert "res2a_branch1" not in names and names[-1] == "fc10"
    # Hand count: conv1 3*3*3*8+8 = 224, BN 4*8 = 32, two basic blocks of 2*(3*3*8*8+8 + 4*8) = 1232 each,
    # fc 8*10+10 = 90.
    assert data["totals"]["params"] == 224 + 32 + 2 * 1232 + 90


def test_python_module_entry_point_and_no_numpy_on_the_trace_path():
    code = ("import sys, runpy; sys.argv = ['resnet-inspect', 'trace', 'resnet50', '--format', 'json'];\n"
            "try:\n    runpy.run_module('resnet_inspect', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write('numpy' if 'numpy' in sys.modules else 'clean')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert json.loads(proc.stdout)["totals"]["params"] == 25_636_712
    assert proc.stderr.endswith("clean"), proc.stderr


@pytest.mark.parametrize("command", ["trace", "flops", "params", "list"])
def test_help(command):
    assert run(command, "--help").exit_code == 0


def test_installed_script_finds_bundled_specs_from_any_directory(tmp_path):
    # A newcomer's `pip install .` then `resnet-inspect trace resnet50` from anywhere: the specs
    # ship inside the package. Uses the console script installed beside this interpreter.
    script = Path(sys.executable).parent / "resnet-inspect"
    if not script.exists():
        pytest.skip("resnet-inspect console script not installed in this environment")
    proc = subprocess.run([str(script), "trace", "resnet50-2019", "--format", "json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    layers = {layer["name"]: layer for layer in json.loads(proc.stdout)["layers"]}
    assert layers["pool1"]["output_shape"] == [55, 55, 64]
