"""Issue 20's round trips: a spec exported to a framework's file and imported back is the same spec.

For every bundled spec: ``export --to onnx`` -> ``import`` -> ``diff`` says identical, and
``identify`` on the exported file names the spec (or one it is layer-for-layer identical to: the
blog's ``resnet50`` and ``resnet50-2019`` build the same layers). Keras: the generated code is built
by Keras itself and saved with ``model.save`` -> ``.keras`` -> the same three steps. State dicts:
``weights convert`` -> ``.safetensors`` -> ``import`` is identical up to the ambiguities the import
states (a state dict carries no strides, so it cannot tell v1 from v1.5). The oracle is the bundled
spec and ``diff``'s own layer-by-layer comparison, not a number written here.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from resnet_inspect import bundled_specs, export_keras, export_onnx, identify, import_spec
from resnet_inspect.analysis.diff import diff_specs
from resnet_inspect.io.weightfiles import save_weights
from resnet_inspect.language.spec import load_spec
from resnet_inspect.model.graph import load_graph
from resnet_inspect.model.weights import random_weights

SPECS = sorted(bundled_specs())
FAST = {"resnet18", "resnet18-torchvision", "resnet50-keras3", "resnet50v2", "resnext50_32x4d"}
# the ten torchvision-layout specs: those that count parameters as torchvision does
TORCHVISION = [name for name in SPECS if load_spec(name).conventions.param_count == "torch"]


def speed(name: str):
    return pytest.param(name, marks=() if name in FAST else pytest.mark.slow)


def same_layers(a: Path | str, b: str, stated: tuple = ()) -> None:
    """``diff`` says identical; or, where the import stated that the file cannot tell block names
    (``stages.block_naming``: Keras' ``conv4_block2`` is ``res4b`` or ``res4b1``), every difference
    is a renamed layer with nothing else changed."""
    result = diff_specs(str(a), b)
    if result.identical:
        return
    renames_only = all(d.status == "changed" and not d.changes for d in result.layers) and not result.stride_moves
    assert renames_only and "stages.block_naming" in {s.field for s in stated}, \
        [(d.name, d.changes) for d in result.layers[:5]]


def names_the_spec(path: Path, name: str) -> None:
    found = identify(path)
    assert found.match == "exact", (found.match, found.spec, found.differences, found.reason)
    assert name == found.spec or name in found.also, (found.spec, found.also)


@pytest.mark.parametrize("name", [speed(n) for n in SPECS])
def test_onnx_export_imports_back_as_the_same_spec(name: str, tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    model = tmp_path / f"{name}.onnx"
    export_onnx(name, model)
    imported = import_spec(model)
    spec = tmp_path / "back.yaml"
    spec.write_text(imported.spec_text, encoding="utf-8")
    same_layers(spec, name, imported.ambiguities)
    names_the_spec(model, name)


@pytest.mark.parametrize("name", [speed(n) for n in TORCHVISION])
def test_a_converted_state_dict_imports_back_up_to_the_stated_ambiguity(name: str, tmp_path: Path) -> None:
    graph = load_graph(name)
    state = tmp_path / f"{name}.safetensors"
    save_weights(random_weights(graph, 0), state, graph)
    imported = import_spec(state)
    assert any(a.field.endswith("stride_on") or "stride" in a.field for a in imported.ambiguities), \
        [a.field for a in imported.ambiguities]  # the one thing a state dict cannot tell, said
    spec = tmp_path / "back.yaml"
    spec.write_text(imported.spec_text, encoding="utf-8")
    same_layers(spec, name)  # the torchvision default chosen for what it cannot tell is the spec's
    names_the_spec(state, name)


# the specs of keras.applications' code (their `framework:` says so)
KERAS_SPECS = [n for n in SPECS if load_spec(n).framework is not None]


@pytest.mark.keras
@pytest.mark.parametrize("name", [speed(n) for n in KERAS_SPECS])
def test_keras_export_saved_by_keras_imports_back_as_the_same_spec(name: str, tmp_path: Path) -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("these tests run Keras on torch")
    code = tmp_path / "model.py"
    export_keras(name, code)
    module_spec = importlib.util.spec_from_file_location(f"generated_{name.replace('-', '_')}", code)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module
    module_spec.loader.exec_module(module)
    keras.backend.clear_session()
    archive = tmp_path / f"{name}.keras"
    module.build_model().save(str(archive))
    imported = import_spec(archive)
    spec = tmp_path / "back.yaml"
    spec.write_text(imported.spec_text, encoding="utf-8")
    same_layers(spec, name, imported.ambiguities)
    names_the_spec(archive, name)
