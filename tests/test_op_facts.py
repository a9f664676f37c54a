"""Per-op facts live on the op (model/ops.py): a new op touches ops.py and the kernel table only.

Two proofs. Every op in ``OPS`` defines every fact, consistently with its own arithmetic (the
weight shapes hold exactly the parameters ``params`` counts, by hand: conv 3·3·16·32 + 32) and the
executor runs every kind. And a toy op, defined here and registered in ``OPS`` and ``KERNELS``
as a new op would be, is picked up by the weight shapes, random weights, torchvision's names,
Keras 3's groups, the diagrams, the memory model and the executor with no other edit.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np
import pytest

from resnet_inspect import build_graph
from resnet_inspect.analysis.memory import memory_profile
from resnet_inspect.execute.executor import KERNELS, Call, Scratch, forward
from resnet_inspect.model.engine import trace_graph
from resnet_inspect.model.keras import keras_groups
from resnet_inspect.model.naming import shown
from resnet_inspect.model.ops import OPS, BatchNorm, Conv2D, Dense, Op, Shape
from resnet_inspect.model.weights import random_weights, weight_shapes
from resnet_inspect.render.diagrams import op_text

# an input each op accepts: a map for the spatial ops, a vector for dense
INPUTS = {"dense": [(16,)], "add": [(6, 6, 16), (6, 6, 16)]}


def _inputs(kind: str) -> list[Shape]:
    return INPUTS.get(kind, [(6, 6, 16)])


@pytest.mark.parametrize("kind", sorted(OPS))
def test_every_op_defines_every_fact_and_has_a_kernel(kind):
    op = OPS[kind]()
    assert kind in KERNELS
    assert op.title and op.title != Op.title
    inputs = _inputs(kind)
    shapes = op.weight_shapes(inputs)
    params = op.params(inputs)
    # the arrays an op holds are exactly the parameters it counts
    assert sum(math.prod(shape) for shape in shapes.values()) == params.trainable + params.non_trainable
    if op.weighted:
        assert op.keras_class
        assert list(shapes) == [key for key in op.torch_params if key in shapes]  # Keras' variable order
        assert set(shapes) <= set(op.torch_params)
    else:
        assert op.keras_class is None and shapes == {}
    assert not (op.in_place and op.view)


def test_weight_shapes_by_hand():
    assert Conv2D(32, 3, bias=True).weight_shapes([(8, 8, 16)]) == {"kernel": (3, 3, 16, 32), "bias": (32,)}
    assert Conv2D(32, 1, bias=False, groups=4).weight_shapes([(8, 8, 16)]) == {"kernel": (1, 1, 4, 32)}
    assert list(BatchNorm().weight_shapes([(8, 8, 16)])) == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert Dense(10).weight_shapes([(16,)]) == {"kernel": (16, 10), "bias": (10,)}


@pytest.mark.parametrize("kind", sorted(kind for kind, op in OPS.items() if op.in_place))
def test_ops_marked_in_place_are_run_in_place_by_the_executor(kind):
    """The memory model's in-place flag against the executor itself: given leave to reuse input
    0, the kernel writes its output there (an independent check of the flag)."""
    x = np.random.default_rng(0).normal(size=(1, 4, 4, 8))
    inputs = [x, x.copy()] if kind == "add" else [x]
    params = {"scale": np.ones(8), "shift": np.zeros(8)} if kind == "batch_norm" else {}
    out = KERNELS[kind](OPS[kind](), Call(inputs, params, True, Scratch()))
    assert np.shares_memory(out, x)


@dataclasses.dataclass(frozen=True)
class Scale(Op):
    """A toy weighted op: one learned factor per channel, worked in place."""

    kind: ClassVar[str] = "toy_scale"
    title: ClassVar[str] = "Scale"
    keras_class: ClassVar[str | None] = "toy_scale"
    torch_params: ClassVar[dict[str, str]] = {"factor": "weight"}
    in_place: ClassVar[bool] = True

    def params(self, inputs: list[Shape]):
        return dataclasses.replace(super().params(inputs), trainable=inputs[0][-1])

    def weight_shapes(self, inputs: list[Shape]) -> dict[str, Shape]:
        return {"factor": (inputs[0][-1],)}


def _scale(op: Scale, call: Call) -> np.ndarray:
    return np.multiply(call.inputs[0], call.params["factor"], out=call.output())


@pytest.fixture
def toy_graph(monkeypatch):
    """resnet18 with its stem BatchNorm replaced by the toy op (registered as ops.py would)."""
    monkeypatch.setitem(OPS, Scale.kind, Scale)
    monkeypatch.setitem(KERNELS, Scale.kind, _scale)
    graph = build_graph("resnet18")
    layers = tuple(dataclasses.replace(layer, op=Scale()) if layer.name == "bn_conv1" else layer
                   for layer in graph.layers)
    return dataclasses.replace(graph, layers=layers)


def test_a_new_op_is_picked_up_everywhere_from_its_own_facts(toy_graph):
    layer = next(layer for layer in toy_graph if layer.name == "bn_conv1")
    assert weight_shapes(toy_graph)["bn_conv1"] == {"factor": (64,)}  # conv1 gives 64 channels
    assert shown(toy_graph, "torchvision").array("bn_conv1", "factor") == "bn1.weight"
    assert keras_groups(toy_graph)["toy_scale"] == ("bn_conv1", ("factor",))
    assert op_text(layer) == "Scale"
    # in place: its output takes no new memory, so the peak is what it was with the BatchNorm
    toy = memory_profile(trace_graph(toy_graph), 1, "float32")
    plain = memory_profile(trace_graph(build_graph("resnet18")), 1, "float32")
    assert toy.peak_activation_bytes == plain.peak_activation_bytes
    assert trace_graph(toy_graph).layer("bn_conv1").trainable_params == 64


def test_the_executor_runs_a_new_op_with_its_own_weights(toy_graph):
    """The toy layer's output is its input times its factor, per channel (checked with NumPy here),
    and the fast run (in place, fused) agrees with the layer-by-layer one."""
    weights = random_weights(toy_graph, seed=3, dtype="float64")
    assert weights["bn_conv1"]["factor"].shape == (64,)
    x = np.random.default_rng(3).normal(size=(1, 224, 224, 3))  # resnet18 has a 7×7 pool and flatten: 224 only
    seen = {}
    slow = forward(toy_graph, weights, x, dtype="float64", on_layer=lambda name, a: seen.update({name: a.copy()}))
    np.testing.assert_array_equal(seen["bn_conv1"], seen["conv1"] * weights["bn_conv1"]["factor"])
    np.testing.assert_allclose(forward(toy_graph, weights, x, dtype="float64"), slow, rtol=1e-12)
