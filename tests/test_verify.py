"""`verify`: the trace's shapes proven by a real NumPy forward pass, for every bundled spec.

Independent sources of the sizes used:
- 193 is resnet50's smallest input (README: the avg_pool 7×7 needs H >= 7 at stage 5;
  193 -> conv1 (193+6-7)//2+1 = 97 -> pool 49 -> 25 -> 13 -> 7).
- 197 is resnet50-2019's (no pad before the pool): 197 -> 99 -> (99-3)//2+1 = 49 -> 25 -> 13 -> 7,
  while 196 -> 98 -> 48 -> 24 -> 12 -> 6 fails.
- 299 (Inception's size) and 224×320 (non-square) are sizes the issue names.
The actual shapes are compared with ``resnet_inspect.trace`` (the engine) layer by layer, and
the count of layers with the graph; no shape is copied from the executor's own output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import resnet_inspect
from resnet_inspect.model import ops
from resnet_inspect.cli import app
from resnet_inspect.model.engine import smallest_input
from resnet_inspect.model.graph import load_graph
from resnet_inspect.core.errors import InspectError
from resnet_inspect.language.spec import bundled_specs
from resnet_inspect.execute.verify import verify

runner = CliRunner()

SIZES = {
    "resnet50": [224, 193, 299, "224x320"],
    "resnet50-2019": [224, 197, 299, "224x320"],
    "resnet50-torchvision": [224, 193, 299, "224x320"],
}


def test_the_resnet50_specs_with_extra_sizes_are_bundled():
    assert set(SIZES) <= set(bundled_specs())


BIG_MACS = 4.5e9  # a network costlier than ResNet-50 at 224 is verified at a smaller valid input


def verify_size(spec: str) -> int:
    """224, or for the big networks (ResNet-101 and up, ResNeXt, wide) the smaller of 224 and
    the smallest input they accept but at least 64: the same layers run, on fewer pixels."""
    if resnet_inspect.trace(spec, input=224).totals.macs <= BIG_MACS:
        return 224
    return min(224, max(64, smallest_input(load_graph(spec))))


HEAVY_PARAMS = 70_000_000  # the weights alone take seconds to draw; these run with -m slow (CI does)


def verify_cases() -> list:
    cases = []
    for spec in sorted(set(bundled_specs()) - set(SIZES)):
        heavy = resnet_inspect.trace(spec).totals.params > HEAVY_PARAMS
        cases.append(pytest.param(spec, marks=pytest.mark.slow) if heavy else spec)
    return cases


@pytest.mark.parametrize("spec", verify_cases())
def test_verify_passes_for_the_other_bundled_specs(spec):
    size = verify_size(spec)
    result = verify(spec, size)
    assert result.ok, result.failure()
    assert [c.actual for c in result.layers] == [i.output_shape for i in resnet_inspect.trace(spec, input=size).layers]


def test_only_the_big_specs_are_verified_smaller():
    # resnet101's avg_pool 7x7 needs 193 (see above); a global-pool network runs at 64.
    assert (verify_size("resnet50v2"), verify_size("resnet101"), verify_size("resnext101_32x8d")) == (224, 193, 64)


@pytest.mark.parametrize("spec,size", [(spec, size) for spec, sizes in SIZES.items() for size in sizes])
def test_verify_passes_and_actual_shapes_are_the_traced_ones(spec, size):
    result = verify(spec, size)
    traced = resnet_inspect.trace(spec, input=size)
    assert result.ok, result.failure()
    assert [(c.name, c.actual) for c in result.layers] == [(i.name, i.output_shape) for i in traced.layers]
    assert result.input_shape == traced.input_shape


def test_verify_float64_batch_and_timing():
    result = verify("resnet50-torchvision", 40, batch=3, seed=7, dtype="float64")
    assert result.ok and (result.batch, result.seed, result.dtype) == (3, 7, "float64")
    assert result.output_shape == (1000,)  # torchvision's fc: 1000 ImageNet logits
    stages = result.stage_seconds()
    assert list(stages) == ["stem", "stage2", "stage3", "stage4", "stage5", "head"]
    assert 0 < sum(stages.values()) <= result.total_seconds * 1.001


def test_verify_smaller_than_smallest_is_the_engines_error():
    with pytest.raises(InspectError, match="smallest input that works is 197"):
        verify("resnet50-2019", 196)


@pytest.fixture
def broken_max_pool(monkeypatch):
    """A deliberately wrong shape rule: max pool claims one extra row and column."""
    original = ops.MaxPool.output_shape

    def wrong(self, inputs):
        h, w, c = original(self, inputs)
        return (h + 1, w + 1, c) if self.kind == "max_pool" else (h, w, c)

    monkeypatch.setattr(ops.MaxPool, "output_shape", wrong)


def test_verify_names_the_first_wrong_prediction(broken_max_pool):
    result = verify("resnet50-torchvision", 64)
    assert not result.ok
    first = result.mismatches[0]
    # 64 -> conv1 32 -> pad 34 -> pool (34-3)//2+1 = 16, but the broken rule says 17
    assert (first.name, first.predicted, first.actual) == ("pool1", (17, 17, 64), (16, 16, 64))
    assert result.failure().startswith("layer pool1: predicted 17×17×64, actual 16×16×64")


def test_cli_verify_exit_1_names_the_layer(broken_max_pool):
    result = runner.invoke(app, ["verify", "resnet50-torchvision", "--input", "64"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: layer pool1: predicted 17×17×64, actual 16×16×64")
    assert "✗" in result.stdout and "Traceback" not in result.output


def test_cli_verify_table():
    result = runner.invoke(app, ["verify", "resnet50", "-i", "193", "--seed", "1"])
    assert result.exit_code == 0, result.output
    words = " ".join(result.stdout.split())  # Rich wraps the title
    assert "all shapes as predicted" in words and "✗" not in result.stdout
    assert "res2a_branch2a" in result.stdout and "forward" in result.stdout


def test_cli_verify_json():
    result = runner.invoke(app, ["verify", "resnet50-torchvision", "-i", "48x64", "-b", "2", "--dtype", "float64",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"spec", "input", "batch", "seed", "dtype", "ok", "mismatches", "layers", "stage_seconds",
            "total_seconds"} <= set(data)
    assert (data["spec"], data["input"], data["batch"], data["dtype"], data["ok"]) == \
        ("resnet50-torchvision", [48, 64, 3], 2, "float64", True)
    graph = resnet_inspect.build_graph(resnet_inspect.load_spec("resnet50-torchvision"))
    assert [layer["name"] for layer in data["layers"]] == [layer.name for layer in graph]
    assert set(data["layers"][0]) == {"name", "op", "stage", "predicted", "actual", "ok", "seconds"}
    # 48×64 -> conv1 24×32 -> pool 12×16 (hand calculation with pad 1: (26-3)//2+1, (34-3)//2+1)
    assert next(layer for layer in data["layers"] if layer["name"] == "pool1")["actual"] == [12, 16, 64]


def test_cli_verify_csv_and_markdown():
    csv = runner.invoke(app, ["verify", "resnet50-torchvision", "-i", "32", "-f", "csv"])
    assert csv.exit_code == 0 and csv.stdout.splitlines()[0] == "layer,op,predicted,actual,ok,ms"
    assert "pool1,max_pool,8x8x64,8x8x64,true," in csv.stdout  # 32 -> 16 -> (18-3)//2+1 = 8
    md = runner.invoke(app, ["verify", "resnet50-torchvision", "-i", "32", "-f", "markdown"])
    assert md.exit_code == 0 and "| pool1 | max_pool | 8×8×64 | 8×8×64 | ✓ |" in md.stdout


@pytest.mark.parametrize("args,message", [
    (["--max-memory", "1MB"], "needs about"),
    (["--max-memory", "lots"], "--max-memory: must be a size"),
    (["--dtype", "float16"], "float16"),
    (["--batch", "0"], "--batch"),
])
def test_cli_verify_misuse_exits_2_with_one_line(args, message):
    result = runner.invoke(app, ["verify", "resnet50-torchvision", "-i", "32", *args])
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output


def test_cli_verify_memory_error_as_json():
    result = runner.invoke(app, ["verify", "-i", "224", "--max-memory", "1MB", "-f", "json"])
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["field"] == "--max-memory" and "1.0 MiB" in error["message"]


# --------------------------------------------------------------------------- progress bar (issue 9)

MINIMAL = str(Path(__file__).resolve().parent / "specs" / "valid" / "minimal.yaml")  # global pool: any size


def test_verify_reports_every_layer_to_its_progress_callback():
    seen = []
    result = verify(MINIMAL, 64, on_layer=lambda name, array: seen.append((name, array.shape[1:])))
    assert [name for name, _ in seen] == [check.name for check in result.layers]
    assert all(shape == check.actual for (_, shape), check in zip(seen, result.layers))


def test_cli_verify_drives_the_same_bar_as_run(monkeypatch):
    # The CLI hands verify the hooks of inference_report.progress (the bar `run` shows); the bar
    # itself decides: drawn on a terminal for long runs, nothing when piped (test_run covers it).
    from contextlib import contextmanager

    from resnet_inspect.render import inference_report

    calls, layers = [], []

    @contextmanager
    def fake_progress(graph, input_hw, batch, runs, force=False):
        calls.append((graph.spec.name, input_hw, batch, runs))
        yield inference_report.Hooks(lambda name, _array: layers.append(name))

    monkeypatch.setattr(inference_report, "progress", fake_progress)
    result = runner.invoke(app, ["verify", MINIMAL, "--input", "64", "--batch", "2", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert calls == [("minimal", (64, 64), 2, 1)]
    assert layers == [layer["name"] for layer in json.loads(result.stdout)["layers"]]
    assert result.stderr == ""  # piped: no bar, no other noise
