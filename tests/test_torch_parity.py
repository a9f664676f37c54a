"""The executor against live PyTorch, end to end, on the real resnet50 layouts (marker ``torch``).

The oracle is ``scripts/torch_resnet.py``: a ResNet written by hand like torchvision's
``models/resnet.py`` (Bottleneck, ``[3, 4, 6, 3]``), built from those numbers and not from our
graph; only the weights are shared (HWIO -> OIHW, dense transposed). Bounds are the issue's:
max|executor − torch| ≤ 1e-4 × max|torch| in float32 and ≤ 1e-9 × max|torch| in float64.
Skipped when torch is not importable; ``.ci/run`` installs the CPU build so CI runs it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import torch_resnet  # noqa: E402

from resnet_inspect import build_graph, load_spec  # noqa: E402
from resnet_inspect.execute.executor import forward  # noqa: E402
from resnet_inspect.model.weights import random_weights, torchvision_names  # noqa: E402

pytestmark = pytest.mark.torch
TOLERANCE = {"float32": 1e-4, "float64": 1e-9}
TORCH_DTYPE = {"float32": torch.float32, "float64": torch.float64}


def relative_error(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.abs(ours.astype(np.float64) - theirs).max() / np.abs(theirs).max())


def compare(spec_name: str, layout, hw: tuple[int, int], batch: int, dtype: str, fold_bn: bool = True,
            logits: bool = False, layers: tuple[int, ...] = (3, 4, 6, 3), **family):
    """Our output and torch's (and each one's fc output, when ``logits``: that run reports every
    layer, so it also exercises the layer-by-layer path; without it the fused fast path runs)."""
    graph = build_graph(load_spec(spec_name))
    weights = random_weights(graph, seed=11, dtype=dtype)
    x = np.random.default_rng(5).normal(size=(batch, *hw, 3)).astype(dtype)
    model = torch_resnet.build(list(layers), layout, weights, torchvision_names(graph), dtype=TORCH_DTYPE[dtype],
                               **family)
    fc: dict[str, np.ndarray] = {}
    model.fc.register_forward_hook(lambda _m, _i, out: fc.__setitem__("torch", out.detach().numpy().copy()))
    theirs = torch_resnet.run(model, x, TORCH_DTYPE[dtype])

    def keep(name: str, array: np.ndarray) -> None:
        if name == graph.spec.head.dense_name:
            fc["ours"] = array.copy()

    ours = forward(graph, weights, x, dtype=dtype, fold_bn=fold_bn, on_layer=keep if logits else None)
    return ours, theirs, fc


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_resnet50_torchvision_matches_torch(dtype):
    # 64×64 is valid for the global pool (stage 5 is 2×2) and keeps the test fast; batch 2.
    ours, theirs, _ = compare("resnet50-torchvision", torch_resnet.TORCHVISION, (64, 64), 2, dtype)
    assert ours.shape == theirs.shape == (2, 1000)
    assert relative_error(ours, theirs) <= TOLERANCE[dtype]


def test_resnet50_torchvision_unfolded_bn_matches_torch_float64():
    ours, theirs, _ = compare("resnet50-torchvision", torch_resnet.TORCHVISION, (48, 80), 2, "float64", fold_bn=False)
    assert relative_error(ours, theirs) <= TOLERANCE["float64"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_resnet50_keras_layout_matches_torch(dtype):
    # The blog's v1: conv bias, stride on the first 1×1, eps 1e-3, avg_pool 7×7 -> 193 is its
    # smallest input (README), softmax head. Both the logits and the probabilities are compared.
    ours, theirs, logits = compare("resnet50", torch_resnet.KERAS, (193, 193), 1, dtype, logits=True)
    assert ours.shape == theirs.shape == (1, 1000)
    assert relative_error(logits["ours"], logits["torch"]) <= TOLERANCE[dtype]
    assert relative_error(ours, theirs) <= TOLERANCE[dtype]
    np.testing.assert_allclose(ours.sum(axis=1), 1.0, rtol=1e-5)


# The rest of torchvision's family, built by the oracle from torchvision's own constructor
# arguments (resnet.py: resnext50_32x4d is Bottleneck, [3, 4, 6, 3], groups=32, width_per_group=4;
# wide_resnet50_2 width_per_group=128; resnet18 BasicBlock, [2, 2, 2, 2]), never from our graph.
FAMILY = {
    "resnet18-torchvision": dict(layers=(2, 2, 2, 2), block="basic"),
    "resnet34-torchvision": dict(layers=(3, 4, 6, 3), block="basic"),
    "resnext50_32x4d": dict(groups=32, width_per_group=4),
    "wide_resnet50_2": dict(width_per_group=128),
}


@pytest.mark.parametrize("spec", FAMILY)
def test_torchvision_family_matches_torch(spec):
    ours, theirs, _ = compare(spec, torch_resnet.TORCHVISION, (64, 96), 2, "float32", **FAMILY[spec])
    assert ours.shape == theirs.shape == (2, 1000)
    assert relative_error(ours, theirs) <= TOLERANCE["float32"]


def test_resnext_unfolded_float64_matches_torch():
    ours, theirs, _ = compare("resnext50_32x4d", torch_resnet.TORCHVISION, (64, 64), 1, "float64", fold_bn=False,
                              logits=True, groups=32, width_per_group=4)
    assert relative_error(ours, theirs) <= TOLERANCE["float64"]


@pytest.mark.parametrize("spec", FAMILY)
def test_torchvision_family_per_module_shapes_and_params_at_a_non_square_size(spec):
    """Each module the torchvision column names: its parameter count (weights + bias, torch's
    parameters()) is our trainable count, and its output shape (forward hook) our traced shape."""
    from resnet_inspect import trace
    from resnet_inspect.model.naming import names_in

    family = dict(FAMILY[spec])
    layers = family.pop("layers", (3, 4, 6, 3))
    graph = build_graph(load_spec(spec))
    weights = random_weights(graph, seed=2)
    model = torch_resnet.build(list(layers), torch_resnet.TORCHVISION, weights, torchvision_names(graph), **family)
    modules = dict(model.named_modules())
    shapes = {}
    for name, module in modules.items():
        module.register_forward_hook(lambda m, i, out, name=name: shapes.__setitem__(name, tuple(out.shape[1:])))
    torch_resnet.run(model, np.zeros((1, 160, 224, 3), np.float32))
    ours = trace(load_spec(spec), input="160x224")
    checked = 0
    for blog, path in names_in(graph, "torchvision").items():
        if path is None:
            continue
        info = ours.layer(blog)
        assert sum(p.numel() for p in modules[path].parameters()) == info.trainable_params, path
        theirs = shapes[path]
        theirs = (*theirs[1:], theirs[0]) if len(theirs) == 3 else theirs  # CHW -> HWC
        assert theirs == info.output_shape, path
        checked += 1
    assert checked == len(torchvision_names(graph)) + 2  # + maxpool and avgpool
