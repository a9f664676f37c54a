"""Write the golden files that check the NumPy executor against PyTorch on every test run.

Needs torch (``pip install '.[torch]'``); the tests that read the files do not. For each tiny
spec in ``tests/golden/executor/`` (torchvision's v1.5 layout and the blog's Keras v1 layout) it
makes seeded random weights, builds the network by hand in torch (``scripts/torch_resnet.py``, not from
our graph), and stores in ``tests/golden/executor/<spec>.npz``:

* ``input`` — an NHWC batch (float64),
* ``weights/<layer>/<key>`` — the weights in Keras layout (float64), so the files do not depend
  on NumPy's random streams staying the same,
* ``float64/<layer>`` and ``float32/<layer>`` — torch's outputs (NHWC) after the stem's max
  pool, after each stage, the fc layer and the network's output, computed in that precision.

Run it from the repository root: ``python scripts/make_golden.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

import torch_resnet
from resnet_inspect import build_graph, load_spec
from resnet_inspect.model.graph import block_letters
from resnet_inspect.model.weights import random_weights, torchvision_names

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "executor"
SPECS = {"tiny-torchvision": torch_resnet.TORCHVISION,
         "tiny-keras": torch_resnet.Layout(bias=True, stride_on_3x3=False, eps=1e-3, pool_size=2, softmax=True)}
BATCH, SEED = 2, 2024


def probes(spec) -> dict[str, str]:
    """torch module -> our layer whose output it produces (the last ReLU of each stage, …)."""
    naming = spec.conventions.block_naming
    stages = {f"layer{i}": f"res{stage.number}{block_letters(stage.blocks, naming, stage)[-1]}_relu"
              for i, stage in enumerate(spec.stages, start=1)}
    return {"maxpool": "pool1", **stages, "fc": spec.head.dense_name}


def golden(name: str, layout: torch_resnet.Layout) -> dict[str, np.ndarray]:
    spec = load_spec(GOLDEN / f"{name}.yaml")
    graph = build_graph(spec)
    weights = random_weights(graph, SEED, "float64")
    x = np.random.default_rng(SEED).normal(size=(BATCH, *spec.input_shape))
    arrays = {"input": x}
    arrays |= {f"weights/{layer}/{key}": value for layer, keys in weights.items() for key, value in keys.items()}
    blocks = [stage.blocks for stage in spec.stages]
    width, classes = spec.stages[0].filters[0], spec.head.units
    for dtype, torch_dtype in (("float64", torch.float64), ("float32", torch.float32)):
        cast = {layer: {key: value.astype(dtype) for key, value in keys.items()} for layer, keys in weights.items()}
        model = torch_resnet.build(blocks, layout, cast, torchvision_names(graph), width, classes, torch_dtype)
        seen: dict[str, np.ndarray] = {}
        for module, layer in probes(spec).items():
            getattr(model, module).register_forward_hook(
                lambda _m, _i, out, layer=layer: seen.__setitem__(layer, _nhwc(out)))
        seen[graph.output] = torch_resnet.run(model, x.astype(dtype), torch_dtype)
        arrays |= {f"{dtype}/{layer}": value for layer, value in seen.items()}
    return arrays


def _nhwc(t: torch.Tensor) -> np.ndarray:
    t = t.detach()
    return (t.permute(0, 2, 3, 1) if t.ndim == 4 else t).numpy().copy()


def main() -> None:
    torch.set_num_threads(1)  # deterministic reductions
    for name, layout in SPECS.items():
        path = GOLDEN / f"{name}.npz"
        arrays = golden(name, layout)
        np.savez_compressed(path, **arrays)
        print(f"wrote {path.relative_to(ROOT)}: {len(arrays)} arrays, {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
