"""The executor against PyTorch, without PyTorch: golden files made by ``scripts/make_golden.py``.

The expected arrays were computed by torch (a ResNet written by hand like torchvision's
``models/resnet.py``, in ``scripts/torch_resnet.py``) on two tiny networks, one in torchvision's
v1.5 layout and one in the blog's Keras v1 layout (conv bias, stride on the first 1×1, zero pad
before the max pool, average pool, softmax). The files carry their own input and weights, so
they hold whatever NumPy's random streams do. Tolerances are the issue's: float32 within
1e-4 × max|torch output|, float64 within 1e-9 × max|torch output|, at every stored layer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resnet_inspect import build_graph, load_spec
from resnet_inspect.execute.executor import forward

GOLDEN = Path(__file__).resolve().parent / "golden" / "executor"
TOLERANCE = {"float32": 1e-4, "float64": 1e-9}


def load(name: str):
    data = np.load(GOLDEN / f"{name}.npz", allow_pickle=False)
    weights: dict[str, dict[str, np.ndarray]] = {}
    for key in data.files:
        if key.startswith("weights/"):
            _, layer, name_ = key.split("/")
            weights.setdefault(layer, {})[name_] = data[key]
    return data, weights


@pytest.mark.parametrize("fold_bn", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["tiny-torchvision", "tiny-keras"])
def test_executor_matches_torch_golden(name, dtype, fold_bn):
    data, weights = load(name)
    graph = build_graph(load_spec(GOLDEN / f"{name}.yaml"))
    expected = {key.split("/", 1)[1]: data[key] for key in data.files if key.startswith(f"{dtype}/")}
    assert len(expected) == (6 if name == "tiny-torchvision" else 7)  # pool1, 4 stages, fc (, softmax)
    cast = {layer: {key: value.astype(dtype) for key, value in keys.items()} for layer, keys in weights.items()}
    seen: dict[str, np.ndarray] = {}

    def keep(layer: str, array: np.ndarray) -> None:
        if layer in expected:
            seen[layer] = array.copy()

    output = forward(graph, cast, data["input"].astype(dtype), dtype=dtype, fold_bn=fold_bn, on_layer=keep)
    assert output.dtype == np.dtype(dtype)
    assert set(seen) == set(expected)
    for layer, want in expected.items():
        got = seen[layer]
        assert got.shape == want.shape, layer
        error = np.abs(got.astype(np.float64) - want).max() / np.abs(want).max()
        assert error <= TOLERANCE[dtype], f"{layer}: relative error {error:.2e}"


def test_golden_files_stay_small():
    sizes = [path.stat().st_size for path in GOLDEN.glob("*.npz")]
    assert len(sizes) == 2 and sum(sizes) < 4_000_000
