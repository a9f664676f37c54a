"""``export``: every exported model checked live against its framework (issue 20).

Oracles, each independent of the code under test:
* ONNX: ``onnx.checker`` (full check), ``onnx.shape_inference`` (ONNX's own shape rules per op)
  against the trace, and ONNX Runtime's output against the NumPy executor's on the same weights.
* PyTorch: torch runs the generated module; torchinfo reports each module's output shape and
  parameters; torchvision's state-dict keys and shapes are derived below from torchvision's
  ``models/resnet.py`` logic (its builders' arguments, ``_make_layer``, ``Bottleneck.__init__``:
  ``width = int(planes * (base_width / 64.0)) * groups``), since torchvision cannot be installed
  beside this torch.
* Keras 3 (torch backend): the generated code builds; each layer's output shape and parameter
  count in the live model equal the trace's; ``predict`` on the ``.weights.h5`` this tool writes
  equals the executor's.

Parity bound (the issue's): max |theirs − ours| ≤ 1e-5 × max |ours| on the logits (the Dense
layer's output, before any softmax: a saturated softmax would hide a wrong network).
Expensive specs are ``slow`` (CI runs them); a representative set runs by default.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from resnet_inspect import load_graph, smallest_input, trace
from resnet_inspect.execute.executor import forward
from resnet_inspect.execute.export import export_keras, export_onnx, export_pytorch, onnx_model
from resnet_inspect.language.spec import bundled_specs
from resnet_inspect.model.naming import torch_modules
from resnet_inspect.model.weights import at_size, random_weights

SPECS = sorted(bundled_specs())
BOUND = 1e-5
TORCHVISION = ("resnet18-torchvision", "resnet34-torchvision", "resnet50-torchvision", "resnet101-torchvision",
               "resnet152-torchvision", "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d",
               "wide_resnet50_2", "wide_resnet101_2")


def held_out(spec: str) -> tuple[int, int]:
    """One size per spec besides 224, not the spec's own: square and not, above the smallest."""
    sizes = [(256, 256), (288, 224), (320, 320), (199, 199)]
    h, w = sizes[SPECS.index(spec) % len(sizes)]
    if load_graph(spec).spec.head.pool == "avg" and SPECS.index(spec) % 2 == 0:
        h, w = 448, 448  # a flatten head then reads a 2×2 map: the NHWC order of its vector is tested
    least = smallest_input(spec) or 1
    return (max(h, least), max(w, least))


def cases(default: tuple[str, ...]) -> list:
    return [pytest.param(spec, marks=() if spec in default else pytest.mark.slow) for spec in SPECS]


def logits_of(graph, weights, x) -> np.ndarray:
    """The executor's Dense output (before the softmax, if any) for NHWC ``x``."""
    dense = graph.spec.head.dense_name
    kept = {}
    forward(graph, weights, x, on_layer=lambda name, a: kept.__setitem__(name, np.array(a)) if name == dense else None)
    return kept[dense]


def ratio(theirs: np.ndarray, ours: np.ndarray) -> float:
    return float(np.abs(theirs - ours).max() / np.abs(ours).max())


# --------------------------------------------------------------------------- ONNX

onnx_cases = cases(("resnet18", "resnet18-torchvision", "resnet50v2"))


@pytest.mark.parametrize("spec", onnx_cases)
def test_onnx_graph_passes_the_checker_and_infers_the_traces_shapes(spec):
    onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
    graph = load_graph(spec)
    model = onnx_model(graph, random_weights(graph, 0), (224, 224), names="torchvision")
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version >= 17
    assert [i.name for i in model.graph.input] == ["input"]
    bare = onnx.ModelProto()
    bare.CopyFrom(model)
    del bare.graph.value_info[:]  # inference must find every shape itself
    inferred = onnx.shape_inference.infer_shapes(bare, strict_mode=True)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*inferred.graph.value_info, *inferred.graph.output]}
    ours = {info.name: info.output_shape for info in trace(spec, 224).layers}
    named = {node.name: node for node in model.graph.node}
    checked = 0
    for value in model.graph.value_info:  # our declared shape per layer (its node's output)
        declared = [d.dim_value for d in value.type.tensor_type.shape.dim]
        assert shapes[value.name] == declared, value.name
        checked += 1
    for node in model.graph.node:
        assert node.output[0] in shapes, f"{node.name}: no shape inferred"
    # the declared shapes are the trace's, NCHW (blog names: a layer's node is its name)
    blog = onnx_model(graph, random_weights(graph, 0), (224, 224))
    for value in blog.graph.value_info:
        shape = ours[value.name]
        nchw = [1, shape[2], shape[0], shape[1]] if len(shape) == 3 else [1, *shape]
        assert [d.dim_value for d in value.type.tensor_type.shape.dim] == nchw, value.name
    assert checked == len(graph.layers) - 2 and named  # every layer but the input and the output


@pytest.mark.parametrize("spec", cases(("resnet18", "resnet18-torchvision", "resnet50v2")))
def test_onnx_runtime_equals_the_executor_at_224_and_a_held_out_size(spec):
    pytest.importorskip("onnx", reason="the onnx extra is not installed")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime (the test extra) is not installed")
    from onnx import helper

    graph = load_graph(spec)
    for hw in ((224, 224), held_out(spec)):
        sized = at_size(graph, hw)
        weights = random_weights(sized, 0)  # verify's weights at this size
        model = onnx_model(graph, weights, hw, batch="dynamic")
        dense = graph.spec.head.dense_name
        model.graph.output.append(helper.make_tensor_value_info(dense, 1, None))
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        x = np.random.default_rng(1).normal(size=(2, *hw, 3)).astype(np.float32)
        theirs = session.run([dense], {"input": x.transpose(0, 3, 1, 2)})[0]
        assert ratio(theirs, logits_of(sized, weights, x)) <= BOUND, hw


def test_onnx_export_writes_the_file_with_names_and_a_file_of_weights(tmp_path):
    """The file itself: initializers under torchvision's names, the weights a file holds."""
    onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
    from resnet_inspect.io.weightfiles import load_weights, save_weights

    graph = load_graph("resnet18-torchvision")
    weights = random_weights(graph, 7)
    source = save_weights(weights, tmp_path / "w.npz", graph)
    done = export_onnx("resnet18-torchvision", tmp_path / "m.onnx", weights=source, names="torchvision")
    model = onnx.load(str(tmp_path / "m.onnx"))
    arrays = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    assert "layer1.0.conv1.weight" in arrays and "fc.bias" in arrays
    # OIHW, the file's numbers (HWIO in ours)
    np.testing.assert_array_equal(arrays["layer1.0.conv1.weight"], weights["res2a_branch2a"]["kernel"].transpose(3, 2, 0, 1))
    assert done.arrays == 102 and done.numbers == 11_689_512 + 9_600  # torchvision's resnet18: 11,689,512 params + BN stats
    assert load_weights(source, graph)  # the source is untouched


# --------------------------------------------------------------------------- PyTorch


def _import(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def torchvision_keys(block: str, layers: list[int], groups: int = 1, width_per_group: int = 64) -> list[tuple[str, tuple]]:
    """torchvision's ``ResNet(block, layers, groups=, width_per_group=).state_dict()`` keys and shapes,
    from torchvision/models/resnet.py's logic (not from our graph)."""
    expansion = 4 if block == "bottleneck" else 1
    keys: list[tuple[str, tuple]] = []

    def bn(prefix, c):
        keys.extend([(f"{prefix}.weight", (c,)), (f"{prefix}.bias", (c,)), (f"{prefix}.running_mean", (c,)),
                     (f"{prefix}.running_var", (c,)), (f"{prefix}.num_batches_tracked", ())])

    keys.append(("conv1.weight", (64, 3, 7, 7)))
    bn("bn1", 64)
    inplanes = 64
    for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers), 1):
        stride = 1 if i == 1 else 2
        for b in range(blocks):
            p = f"layer{i}.{b}"
            s = stride if b == 0 else 1
            if block == "bottleneck":
                width = int(planes * (width_per_group / 64.0)) * groups
                keys.append((f"{p}.conv1.weight", (width, inplanes, 1, 1)))
                bn(f"{p}.bn1", width)
                keys.append((f"{p}.conv2.weight", (width, width // groups, 3, 3)))
                bn(f"{p}.bn2", width)
                keys.append((f"{p}.conv3.weight", (planes * 4, width, 1, 1)))
                bn(f"{p}.bn3", planes * 4)
            else:
                keys.append((f"{p}.conv1.weight", (planes, inplanes, 3, 3)))
                bn(f"{p}.bn1", planes)
                keys.append((f"{p}.conv2.weight", (planes, planes, 3, 3)))
                bn(f"{p}.bn2", planes)
            if b == 0 and (s != 1 or inplanes != planes * expansion):
                keys.append((f"{p}.downsample.0.weight", (planes * expansion, inplanes, 1, 1)))
                bn(f"{p}.downsample.1", planes * expansion)
            inplanes = planes * expansion
    keys += [("fc.weight", (1000, 512 * expansion)), ("fc.bias", (1000,))]
    return keys


# torchvision's builders (models/resnet.py): block, layers, groups, width_per_group
BUILDERS = {
    "resnet18-torchvision": ("basic", [2, 2, 2, 2]), "resnet34-torchvision": ("basic", [3, 4, 6, 3]),
    "resnet50-torchvision": ("bottleneck", [3, 4, 6, 3]), "resnet101-torchvision": ("bottleneck", [3, 4, 23, 3]),
    "resnet152-torchvision": ("bottleneck", [3, 8, 36, 3]),
    "resnext50_32x4d": ("bottleneck", [3, 4, 6, 3], 32, 4), "resnext101_32x8d": ("bottleneck", [3, 4, 23, 3], 32, 8),
    "resnext101_64x4d": ("bottleneck", [3, 4, 23, 3], 64, 4),
    "wide_resnet50_2": ("bottleneck", [3, 4, 6, 3], 1, 128), "wide_resnet101_2": ("bottleneck", [3, 4, 23, 3], 1, 128),
}


@pytest.mark.torch
@pytest.mark.parametrize("spec", TORCHVISION)
def test_pytorch_state_dict_is_torchvisions(spec, tmp_path):
    torch = pytest.importorskip("torch", reason="the torch extra is not installed")
    export_pytorch(spec, tmp_path / "m.py")
    module = _import(tmp_path / "m.py", f"exported_{spec.replace('-', '_')}")
    with torch.device("meta"):  # keys and shapes only: no memory for the numbers
        model = module.build_model()
    ours = [(key, tuple(value.shape)) for key, value in model.state_dict().items()]
    assert ours == torchvision_keys(*BUILDERS[spec])


@pytest.mark.torch
@pytest.mark.parametrize("spec", cases(("resnet18", "resnet18-torchvision", "resnet50v2")))
def test_pytorch_module_runs_equals_the_executor_and_torchinfo_equals_the_trace(spec, tmp_path):
    torch = pytest.importorskip("torch", reason="the torch extra is not installed")
    torchinfo = pytest.importorskip("torchinfo", reason="torchinfo (the torch extra) is not installed")
    from resnet_inspect.io.torchvision import torch_state

    export_pytorch(spec, tmp_path / "m.py")
    module = _import(tmp_path / "m.py", f"exported_{spec.replace('-', '_')}")
    graph = load_graph(spec)
    weights = random_weights(graph, 0)
    model = module.build_model()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in torch_state(weights, graph).items()}, strict=True)
    # per layer: torchinfo's output shape and parameters are the trace's
    h, w, c = graph.spec.input_shape
    summary = torchinfo.summary(model, input_size=(1, c, h, w), verbose=0, col_names=("output_size", "num_params"))
    path_of = {id(m): name for name, m in model.named_modules()}
    blog_of = {path: blog for blog, path in torch_modules(graph).items()}
    rows = {info.name: info for info in trace(spec).layers}
    checked = 0
    for entry in summary.summary_list:
        blog = blog_of.get(path_of.get(id(entry.module), ""))
        if blog is None:
            continue
        row = rows[blog]
        out = tuple(entry.output_size[1:])
        assert ((*out[1:], out[0]) if len(out) == 3 else out) == row.output_shape, blog
        assert entry.trainable_params == row.trainable_params, blog
        checked += 1
    assert checked == len(blog_of)
    # logits: the fc's output equals the executor's on the same weights
    kept = {}
    model.fc.register_forward_hook(lambda m, i, out: kept.__setitem__("fc", out.detach().numpy()))
    x = np.random.default_rng(1).normal(size=(2, h, w, c)).astype(np.float32)
    with torch.no_grad():
        model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    assert ratio(kept["fc"], logits_of(graph, weights, x)) <= BOUND


# --------------------------------------------------------------------------- Keras


def keras_model(spec: str, tmp_path: Path):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("keras", reason="the keras extra is not installed")
    export_keras(spec, tmp_path / "k.py")
    sys.modules.pop("k", None)
    return _import(tmp_path / "k.py", f"keras_{spec.replace('-', '_')}").build_model()


@pytest.mark.keras
@pytest.mark.parametrize("spec", cases(("resnet18", "resnet50v2")))
def test_keras_code_builds_each_layer_is_the_traces_and_predict_equals_the_executor(spec, tmp_path):
    model = keras_model(spec, tmp_path)
    import keras

    from resnet_inspect.analysis.codegen import keras_names
    from resnet_inspect.io.weightfiles import load_weights, save_weights

    graph = load_graph(spec)
    rows = {info.name: info for info in trace(spec).layers}
    ours = {name: blog for blog, name in keras_names(graph, graph.spec.conventions.keras_layout).items() if name}
    checked = 0
    for layer in model.layers:
        blog = ours.get(layer.name)
        if blog is None:
            continue
        row = rows[blog]
        expected = row.output_shape
        if row.op == "global_avg_pool" and len(expected) == 3:
            expected = expected[2:]  # Keras' GlobalAveragePooling2D flattens; the trace keeps 1×1 (see the README)
        assert tuple(layer.output.shape[1:]) == expected, layer.name
        assert layer.count_params() == row.params, layer.name
        checked += 1
    assert checked >= len([r for r in rows.values() if r.params])
    # the .weights.h5 this tool writes loads by position and predicts the executor's logits
    weights = random_weights(graph, 0)
    path = save_weights(weights, tmp_path / "w.weights.h5", graph)
    model.load_weights(str(path))
    model.layers[-1].activation = keras.activations.linear  # logits, not a saturated softmax
    x = np.random.default_rng(1).normal(size=(2, *graph.spec.input_shape)).astype(np.float32)
    theirs = np.asarray(model.predict(x, verbose=0))
    assert ratio(theirs, logits_of(graph, load_weights(path, graph), x)) <= BOUND


# --------------------------------------------------------------------------- weights convert, CLI


@pytest.mark.parametrize("spec", ["resnet18-torchvision", "resnet50v2"])
def test_weights_convert_writes_the_pytorch_modules_state_dict(spec, tmp_path):
    """``weights convert SRC -o W.safetensors --names torchvision``: the exported module's keys and
    layouts (checked against the module built by torch), read back to the same numbers."""
    from typer.testing import CliRunner

    from resnet_inspect.cli import app
    from resnet_inspect.io.weightfiles import load_weights, save_weights

    graph = load_graph(spec)
    weights = random_weights(graph, 3)
    source = save_weights(weights, tmp_path / "w.npz", graph)
    out = CliRunner().invoke(app, ["weights", "convert", str(source), "-o", str(tmp_path / "w.safetensors"),
                                   "--spec", spec, "--names", "torchvision"])
    assert out.exit_code == 0, out.output
    back = load_weights(tmp_path / "w.safetensors", graph)
    for layer, arrays in weights.items():
        for key, array in arrays.items():
            np.testing.assert_array_equal(back[layer][key], array)
    torch = pytest.importorskip("torch", reason="the torch extra is not installed")
    from safetensors.torch import load_file

    export_pytorch(spec, tmp_path / "m.py")
    model = _import(tmp_path / "m.py", f"convert_{spec.replace('-', '_')}").build_model()
    state = load_file(str(tmp_path / "w.safetensors"))
    model.load_state_dict(state, strict=True)  # every key, every shape, nothing left over
    assert {k: tuple(v.shape) for k, v in state.items()} == {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert torch.equal(model.conv1.weight, torch.from_numpy(weights["conv1"]["kernel"].transpose(3, 2, 0, 1).copy()))


def test_export_cli_prints_the_api_record_and_refuses_misuse_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from resnet_inspect.cli import app

    runner = CliRunner()
    target = tmp_path / "m.py"
    out = runner.invoke(app, ["export", "resnet18-torchvision", "--to", "pytorch", "-o", str(target), "-f", "json"])
    assert out.exit_code == 0, out.output
    assert out.stdout.rstrip("\n") == export_pytorch("resnet18-torchvision", target).to_json()
    assert "def build_model():" in target.read_text()
    for args, words in [
        (["--to", "onnx", "-o", str(tmp_path / "m.onx")], "must end in .onnx"),
        (["--to", "onnx", "-o", str(tmp_path / "m.onnx"), "--batch", "0"], "batch must be"),
        (["--to", "pytorch", "-o", str(tmp_path / "m.py"), "--weights", "w.npz"], "--weights: not used here: applies to onnx"),
        (["--to", "onnx", "-o", str(tmp_path / "m.onnx"), "--input", "20"], "smallest input"),
    ]:
        out = runner.invoke(app, ["export", "resnet50", *args])
        assert out.exit_code == 2, (args, out.output)
        lines = [line for line in out.output.splitlines() if line.strip()]
        assert len(lines) == 1 and words in lines[0] and "Traceback" not in out.output, out.output
    assert not (tmp_path / "m.onnx").exists()  # nothing left behind by a refused export


def test_onnx_export_without_the_onnx_package_says_which_extra(tmp_path, monkeypatch):
    from resnet_inspect.core.errors import InspectError

    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    with pytest.raises(InspectError, match=r"resnet-inspect\[onnx\]"):
        export_onnx("resnet18", tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_a_hostile_spec_name_stays_inside_the_generated_docstrings(tmp_path):
    """A spec's name is user text: quotes, backslashes and control characters cannot end a
    docstring early and run as code in the generated file."""
    import ast

    text = (Path(__file__).resolve().parent.parent / "specs" / "resnet18-torchvision.yaml").read_text()
    import json

    hostile = 'x"""\nimport os; os.system("touch pwned")  # \x1b[31m\\'
    lines = [f"name: {json.dumps(hostile)}" if line.startswith("name:") else line for line in text.splitlines()]
    spec = tmp_path / "hostile.yaml"
    spec.write_text("\n".join(lines) + "\n")
    for writer in (export_pytorch, export_keras):
        target = tmp_path / f"{writer.__name__}.py"
        writer(str(spec), target)
        tree = ast.parse(target.read_text())
        imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        assert all(alias.name in ("torch", "keras", "nn", "layers") for node in imports for alias in node.names)
        assert "import os" in ast.get_docstring(tree)  # the name is text in the docstring, not code
        assert "\x1b" not in target.read_text()
