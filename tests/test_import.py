"""``import`` and ``identify`` on real framework files, made here at test time (issue 20).

Sources, all independent of our graph: torchvision's ResNets built in PyTorch from torchvision's
source (``tests/torch_resnets.py``), written as safetensors state dicts and exported to ONNX by
``torch.onnx.export`` (the legacy exporter, ``dynamo=False``, which folds BN into the convs as
most published ONNX ResNets are); Keras 3's own ``keras.applications.ResNet50``/``ResNet50V2``
(``KERAS_BACKEND=torch``) saved with ``model.save``. Each imported spec must trace layer for layer
(op, output shape, params) like the bundled spec it came from, ``diff`` must call them
identical, ``check`` must pass on the written file, and ``identify`` must name the spec (exit 0).
A network with one more block in a stage is the nearest spec "except stage N has M blocks"
(exit 1); a network that is no ResNet is exit 2 with one line naming its first node that does
not fit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from resnet_inspect import InspectError, identify, import_spec, trace
from resnet_inspect.analysis.check import check_paths
from resnet_inspect.analysis.diff import diff_specs
from resnet_inspect.io.importers import write_spec
from resnet_inspect.language.spec import load_spec

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")
import torch_resnets as tr

ROOT = Path(__file__).resolve().parent.parent
STATE_DICTS = ["resnet18-torchvision", "resnet50-torchvision", "resnext50_32x4d", "wide_resnet50_2"]
ONNX = ["resnet18-torchvision", "resnet50-torchvision"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("import")


def state_dict(files: Path, name: str, layers: list[int] | None = None) -> Path:
    path = files / f"{name}.safetensors"
    if not path.exists():
        block, default, groups, width = tr.TORCHVISION.get(name, tr.TORCHVISION["resnet50-torchvision"])
        tr.save_state_dict(tr.resnet(block, layers or default, groups, width), str(path))
    return path


def onnx_file(files: Path, name: str, layers: list[int] | None = None) -> Path:
    pytest.importorskip("onnx")
    path = files / f"{name}.onnx"
    if not path.exists():
        block, default, groups, width = tr.TORCHVISION.get(name, tr.TORCHVISION["resnet18-torchvision"])
        tr.export_onnx(tr.resnet(block, layers or default, groups, width), str(path))
    return path


def layers_of(spec) -> list[tuple]:
    """Each layer's op kind, output shape and params: the trace, names left out."""
    return [(row.op, row.output_shape, row.params) for row in trace(spec).layers]


def assert_same_network(imported_text: str, bundled: str, tmp: Path) -> None:
    path = tmp / "imported.yaml"
    path.write_text(imported_text)
    ours, theirs = load_spec(path), load_spec(bundled)
    assert layers_of(ours) == layers_of(theirs)
    assert trace(ours).totals == trace(theirs).totals
    assert diff_specs(path, bundled).identical
    assert check_paths([str(path)]).ok


# --------------------------------------------------------------------------- state dicts


@pytest.mark.torch
@pytest.mark.parametrize("name", STATE_DICTS)
def test_a_torchvision_state_dict_imports_as_its_bundled_spec(files, tmp_path, name):
    result = import_spec(state_dict(files, name))
    assert_same_network(result.spec_text, name, tmp_path)
    fields = {a.field for a in result.ambiguities}
    # a state dict carries no strides (v1 and v1.5 hold the same weights) and no BN epsilon
    assert {"conventions.stride_on", "conventions.bn_epsilon"} <= fields
    stride = next(a for a in result.ambiguities if a.field == "conventions.stride_on")
    assert stride.chosen == "3x3" and stride.alternatives == ("1x1",)
    assert "# Not in the file" in result.spec_text and "conventions.stride_on" in result.spec_text
    # torch counts parameters() (BN running stats are buffers), as the bundled torchvision specs say
    assert load_spec(name).conventions.param_count == "torch"
    assert "param_count: torch" in result.spec_text and "conventions.param_count" not in fields
    assert identify(state_dict(files, name)).line() == name


@pytest.mark.torch
def test_a_torchvision_state_dict_as_npz_imports_too(tmp_path):
    """The same names in an .npz (np.savez of state_dict().numpy()): read by NumPy's header parser."""
    import numpy as np

    model = tr.resnet("basic", [2, 2, 2, 2])
    path = tmp_path / "r18.npz"
    np.savez(path, **{k: v.numpy() for k, v in model.state_dict().items()})
    result = import_spec(path)
    assert_same_network(result.spec_text, "resnet18-torchvision", tmp_path)
    assert identify(path).line() == "resnet18-torchvision"


@pytest.mark.torch
def test_a_checkpoint_with_one_more_block_is_the_nearest_spec_with_the_difference(files):
    result = identify(state_dict(files, "modified", [3, 4, 8, 3]))
    assert (result.match, result.exit_code, result.spec) == ("nearest", 1, "resnet50-torchvision")
    assert result.line() == "resnet50-torchvision, except stage 4 has 8 blocks"
    assert [(d.field, d.file, d.spec) for d in result.differences] == [("stages.blocks", 8, 6)]


@pytest.mark.torch
def test_identify_cli_exit_codes_and_json(files):
    exact, near = state_dict(files, "resnet18-torchvision"), state_dict(files, "modified", [3, 4, 8, 3])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    one = subprocess.run([sys.executable, "-m", "resnet_inspect", "identify", str(exact)], check=False, capture_output=True,
                         text=True, env=env)
    assert (one.returncode, one.stdout, one.stderr) == (0, "resnet18-torchvision\n", "")
    two = subprocess.run([sys.executable, "-m", "resnet_inspect", "identify", str(near), "--format", "json"],
                         check=False, capture_output=True, text=True, env=env)
    assert two.returncode == 1
    data = json.loads(two.stdout)
    assert two.stdout.rstrip("\n") == identify(near).to_json()  # one home for the JSON contract
    assert data["match"] == "nearest" and data["spec"] == "resnet50-torchvision" and data["exit_code"] == 1
    assert data["differences"] == [{"field": "stages.blocks", "text": "stage 4 has 8 blocks", "file": 8, "spec": 6}]


@pytest.mark.torch
def test_import_cli_writes_a_spec_that_loads_and_notes_the_ambiguities(files, tmp_path):
    source = state_dict(files, "resnet18-torchvision")
    out = tmp_path / "r18.yaml"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "resnet_inspect", "import", str(source), "-o", str(out)],
                         check=False, capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"wrote {out}: basic, stages [2, 2, 2, 2]")
    assert "note: conventions.stride_on:" in run.stderr and "also possible: 1x1" in run.stderr
    assert load_spec(out).name == "resnet18-torchvision"
    assert [p.name for p in tmp_path.iterdir()] == ["r18.yaml"]  # atomic: no temporary left behind
    js = subprocess.run([sys.executable, "-m", "resnet_inspect", "import", str(source), "-o", str(out), "--format",
                         "json"], check=False, capture_output=True, text=True, env=env)
    assert js.stdout.rstrip("\n") == import_spec(source).to_json()
    assert json.loads(js.stdout)["stages"] == [2, 2, 2, 2]


@pytest.mark.torch
def test_weights_files_without_a_graph_are_identified_by_the_specs_they_fit(tmp_path):
    """`weights init` writes our own .npz (blog names) and Keras 3's .weights.h5 (by position):
    neither carries a graph, so identify names the bundled specs whose every array they fit."""
    pytest.importorskip("h5py")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for spec, name in (("resnet18-torchvision", "w.npz"), ("resnet18", "w.weights.h5")):
        made = subprocess.run([sys.executable, "-m", "resnet_inspect", "weights", "init", spec, "-o", name],
                              check=False, capture_output=True, text=True, env=env, cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        result = identify(tmp_path / name)
        assert (result.match, result.spec) == ("exact", spec), result.line()
        assert result.ambiguities[0].field == "weights"


def test_pickles_are_refused_unread(tmp_path):
    path = tmp_path / "model.pth"
    path.write_bytes(b"\x80\x04not read")
    with pytest.raises(InspectError, match="never loaded"):
        import_spec(path)


# --------------------------------------------------------------------------- ONNX


@pytest.mark.torch
@pytest.mark.parametrize("name", ONNX)
def test_a_torch_onnx_export_imports_as_its_bundled_spec(files, tmp_path, name):
    path = onnx_file(files, name)
    result = import_spec(path)
    assert result.source == "ONNX model"
    assert_same_network(result.spec_text, name, tmp_path)
    # torch.onnx folds BN into the convs (checked in the file itself): bias and epsilon are stated ambiguities
    import onnx

    assert not any(n.op_type == "BatchNormalization" for n in onnx.load(str(path), load_external_data=False).graph.node)
    assert {"conventions.conv_bias", "conventions.bn_epsilon"} <= {a.field for a in result.ambiguities}
    assert "param_count: torch" in result.spec_text  # torch.onnx writes producer_name "pytorch"
    assert (identify(path).match, identify(path).spec) == ("exact", name)


@pytest.mark.torch
def test_an_onnx_file_that_does_not_say_its_producer_leaves_param_count_open(files, tmp_path):
    """Without producer_name nothing says whose parameter count the file follows: the spec's
    default (keras) is written and said so, and identify leaves the field open (still exact)."""
    import onnx

    model = onnx.load(str(onnx_file(files, "resnet18-torchvision")), load_external_data=False)
    assert model.producer_name == "pytorch"
    model.producer_name = ""
    path = tmp_path / "anonymous.onnx"
    onnx.save(model, str(path))
    result = import_spec(path)
    assumed = next(a for a in result.ambiguities if a.field == "conventions.param_count")
    assert (assumed.chosen, assumed.alternatives) == ("keras", ("torch",))
    assert "param_count" not in result.spec_text.split("# Imported")[-1].split("\nname:")[1]
    assert identify(path).line() == "resnet18-torchvision"


def mean_head_onnx(files: Path, keepdim: bool) -> Path:
    """torchvision's resnet18 with its head written as a mean over H and W (``x.mean((2, 3))``,
    a vector, as Keras' GlobalAveragePooling2D; or ``keepdim=True`` then ``torch.flatten``, the
    1x1 map of AdaptiveAvgPool2d): torch.onnx writes a ReduceMean."""
    path = files / f"mean-head-{keepdim}.onnx"
    if path.exists():
        return path
    class MeanHead(tr.ResNet):
        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(x.mean((2, 3), keepdim=True), 1) if keepdim else x.mean((2, 3)))

    torch.manual_seed(0)
    model = MeanHead(tr.BasicBlock, [2, 2, 2, 2]).eval()
    tr.export_onnx(model, str(path))
    return path


@pytest.mark.torch
def test_a_torch_mean_head_maps_to_the_head_pool_its_shape_says(files):
    import onnx

    for keepdim, pool in ((False, "global_flat"), (True, "global")):
        path = mean_head_onnx(files, keepdim)
        assert "ReduceMean" in {n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node}
        assert import_spec(path).spec.head.pool == pool
    assert identify(mean_head_onnx(files, True)).line() == "resnet18-torchvision"
    flat = identify(mean_head_onnx(files, False))
    assert flat.line() == "resnet18-torchvision, except the head pools global_flat" and flat.exit_code == 1


@pytest.mark.torch
def test_an_onnx_resnet_with_one_more_block_is_nearest(files):
    result = identify(onnx_file(files, "r18-plus", [2, 2, 3, 2]))
    assert result.line() == "resnet18-torchvision, except stage 4 has 3 blocks"
    assert result.exit_code == 1


@pytest.mark.torch
def test_a_network_without_residual_blocks_is_none_with_one_line(files):
    path = files / "vgg.onnx"
    tr.export_onnx(tr.NotAResNet(), str(path), 32)
    with pytest.raises(InspectError) as caught:
        import_spec(path)
    text = str(caught.value)
    assert "\n" not in text and text.startswith(str(path)) and "not a ResNet" in text
    # the first node that does not fit: the second conv, where a block would start (Conv, ReLU, MaxPool are a stem)
    assert "node '/features/features.3/Conv'" in text
    result = identify(path)
    assert (result.match, result.exit_code, result.spec) == ("none", 2, None)


# --------------------------------------------------------------------------- Keras 3


@pytest.fixture(scope="module")
def keras_files(files: Path) -> dict[str, Path]:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("Keras is not on the torch backend")
    from keras.src.applications import resnet

    made = {}
    for name, build in {"resnet50-keras3": keras.applications.ResNet50,
                        "resnet50v2": keras.applications.ResNet50V2}.items():
        made[name] = files / f"{name}.keras"
        build(weights=None).save(made[name])

    def stack(x):  # keras.applications.ResNet50's stack_fn with 7 blocks in conv4 (6 there)
        x = resnet.stack_residual_blocks_v1(x, 64, 3, stride1=1, name="conv2")
        x = resnet.stack_residual_blocks_v1(x, 128, 4, name="conv3")
        x = resnet.stack_residual_blocks_v1(x, 256, 7, name="conv4")
        return resnet.stack_residual_blocks_v1(x, 512, 3, name="conv5")

    made["modified"] = files / "modified.keras"
    resnet.ResNet(stack, False, True, name="resnet50_7", weights=None).save(made["modified"])
    return made


@pytest.mark.keras
@pytest.mark.parametrize("name", ["resnet50-keras3", "resnet50v2"])
def test_a_keras_archive_imports_as_its_bundled_spec(keras_files, tmp_path, name):
    result = import_spec(keras_files[name])
    assert result.source == "Keras archive"
    assert_same_network(result.spec_text, name, tmp_path)
    assert [a.field for a in result.ambiguities] == ["conventions.preprocessing"]  # the rest is in config.json
    assert "bn_epsilon: 1.001e-05" in result.spec_text  # Keras applications' BatchNormalization(epsilon=1.001e-5)
    bundled = load_spec(name)
    # GlobalAveragePooling2D: a vector, no Flatten; Add()([shortcut, x]): the keras3 layout (the default)
    assert (result.spec.head.pool, result.spec.conventions.keras_layout) == ("global_flat", "keras3")
    assert result.spec.framework == bundled.framework  # keras.applications.ResNet50(V2), min_input 32
    assert result.spec.framework.min_input == 32 and result.spec.conventions.param_count == "keras"
    assert identify(keras_files[name]).line() == name


@pytest.mark.keras
def test_a_keras_resnet_with_one_more_block_is_nearest(keras_files):
    result = identify(keras_files["modified"])
    assert result.line() == "resnet50-keras3, except stage 4 has 7 blocks"
    assert result.exit_code == 1
    assert import_spec(keras_files["modified"]).spec.framework is None  # "resnet50_7" is no constructor's name


GOLDEN_KERAS = ROOT / "tests" / "golden" / "keras"


def keras_archive(tmp: Path, source: Path, edit) -> Path:
    """A copy of a Keras-written archive with its config.json edited (the other members as they were)."""
    import zipfile

    path = tmp / source.name
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info)
            if info.filename == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            new.writestr(info.filename, data)
    return path


@pytest.mark.parametrize("name", ["tiny-keras3", "tiny-keras3v2"])
def test_keras_written_golden_archives_import_as_their_specs(tmp_path, name):
    """The golden archives Keras 3 itself wrote (resnet.ResNet with two small stages; no Keras
    needed to read them): GlobalAveragePooling2D is ``global_flat``, Add()([shortcut, x]) the
    default keras3 layout, and a model name that is no keras.applications constructor's gives
    no ``framework``."""
    result = import_spec(GOLDEN_KERAS / f"{name}.keras")
    path = tmp_path / "imported.yaml"
    path.write_text(result.spec_text)
    assert diff_specs(path, str(GOLDEN_KERAS / f"{name}.yaml")).identical
    assert layers_of(load_spec(path)) == layers_of(load_spec(GOLDEN_KERAS / f"{name}.yaml"))
    spec = result.spec
    assert (spec.head.pool, spec.conventions.keras_layout, spec.framework) == ("global_flat", "keras3", None)
    assert "keras_layout" not in result.spec_text and "param_count" not in result.spec_text


def test_a_keras_applications_name_gives_the_framework_and_main_path_first_adds_the_blog_layout(tmp_path):
    """Renamed ``resnet50`` (keras.applications.ResNet50's model name), the archive reproduces that
    constructor: ``framework: {name: keras.applications.ResNet50, min_input: 32}`` as the bundled
    resnet50-keras3 says. With every Add's inputs swapped to [x, shortcut] (the blog's
    ``layers.add([x, shortcut])``) it is the blog layout, which keras.applications does not build:
    no framework then."""
    def rename(config):
        config["config"]["name"] = "resnet50"

    def blog(config):
        rename(config)
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "Add":
                layer["inbound_nodes"][0]["args"][0].reverse()

    source = GOLDEN_KERAS / "tiny-keras3.keras"
    applications = import_spec(keras_archive(tmp_path, source, rename)).spec
    assert applications.framework == load_spec("resnet50-keras3").framework
    assert (applications.framework.name, applications.framework.min_input) == ("keras.applications.ResNet50", 32)
    (tmp_path / "blog").mkdir()
    swapped = import_spec(keras_archive(tmp_path / "blog", source, blog))
    assert (swapped.spec.conventions.keras_layout, swapped.spec.framework) == ("blog", None)
    assert "keras_layout: blog" in swapped.spec_text
    assert [a.field for a in swapped.ambiguities] == ["conventions.preprocessing"]


def test_written_spec_goes_through_the_atomic_writer(files, tmp_path):
    """-o refuses a non-YAML name and the file it reads, before writing anything."""
    sd = state_dict(files, "resnet18-torchvision")
    result = import_spec(sd)
    with pytest.raises(InspectError, match="must end in"):
        write_spec(result, tmp_path / "spec.txt")
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- our own graphs, every spec


@pytest.mark.parametrize("name", sorted(__import__("resnet_inspect").bundled_specs()))
def test_every_bundled_specs_own_graph_is_recognised_as_that_spec(name, tmp_path):
    """The recogniser on our own graph of each bundled spec (what an ONNX file written with our
    layer names holds, BN kept): the recovered spec diffs identical with the bundled one, and it
    is built from the graph alone (block kinds, shortcuts, stride placement, head, epsilon, bias).
    The round trip through a real file is export's (issue 20): see the report's note."""
    from resnet_inspect.io.importers import emit_spec
    from resnet_inspect.language.spec import parse_spec
    from resnet_inspect.model.graph import load_graph
    from resnet_inspect.model.ops import Dense
    from resnet_inspect.model.recognise import NetGraph, graph_nodes, recognise

    graph = load_graph(name)
    dense = next(layer.name for layer in graph if isinstance(layer.op, Dense))
    found = recognise(NetGraph("our graph", "keras", graph_nodes(graph), dense_name=dense), name)
    path = tmp_path / f"{name}.yaml"
    path.write_text(emit_spec(found.data, found.assumed, path, "our graph"))
    assert parse_spec(path.read_text()).name == name
    result = diff_specs(path, name)
    assert result.identical, [d.name for d in result.layers[:5]]
    assert layers_of(load_spec(path)) == layers_of(load_spec(name))


def test_nearest_weighs_a_convention_lighter_than_the_shape():
    """keras.applications.ResNet101 (its config: BN epsilon 1.001e-5, GlobalAveragePooling2D; the
    numbers from keras/src/applications/resnet.py) is nearest the blog's resnet101 (same layers,
    the same shapes at 224), not resnet50-keras3 with 17 blocks fewer in stage 4."""
    from resnet_inspect.io.importers import rank
    from resnet_inspect.language.spec import parse_spec, resolve

    text = resolve("resnet101").read_text().replace("bn_epsilon: 1.0e-3", "bn_epsilon: 1.001e-5")
    text = text.replace("pool: avg\n  pool_size: 7", "pool: global_flat")  # a vector, no Flatten (issue 18)
    assert "1.001e-5" in text and "pool: global_flat" in text
    ranked = rank(parse_spec(text, "keras-resnet101.yaml"))
    assert ranked[0].spec == "resnet101"
    assert [d.text for d in ranked[0].differences] == ["the head pools global_flat", "bn_epsilon is 1.001e-05"]
    exact = [c.spec for c in rank(load_spec("resnet50-torchvision")) if not c.differences]
    assert exact == ["resnet50-torchvision"]
