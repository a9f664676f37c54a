"""Parity of every exported model with the NumPy executor, per format and bundled spec (issue 20).

    KERAS_BACKEND=torch python scripts/export_parity.py [SPEC ...] > parity.md

Prints one Markdown row per spec: max |framework − executor| / max |executor| on the logits (the
Dense output, before any softmax), with verify's seeded weights (seed 0) and one batch of
2 random inputs: ONNX Runtime at 224 and at the held-out size tests/test_export.py uses, the
generated PyTorch module (weights as `weights convert --names torchvision` writes them) and the
generated Keras code (weights from the .weights.h5 this tool writes).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_export import held_out, logits_of, ratio  # noqa: E402

from resnet_inspect import load_graph  # noqa: E402
from resnet_inspect.execute.export import export_keras, export_pytorch, onnx_model  # noqa: E402
from resnet_inspect.io.torchvision import torch_state  # noqa: E402
from resnet_inspect.io.weightfiles import save_weights  # noqa: E402
from resnet_inspect.language.spec import bundled_specs  # noqa: E402
from resnet_inspect.model.weights import at_size, random_weights  # noqa: E402


def _import(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def onnx_ratio(graph, hw) -> float:
    import onnxruntime as ort
    from onnx import helper

    sized = at_size(graph, hw)
    weights = random_weights(sized, 0)
    model = onnx_model(graph, weights, hw, batch="dynamic")
    dense = graph.spec.head.dense_name
    model.graph.output.append(helper.make_tensor_value_info(dense, 1, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).normal(size=(2, *hw, 3)).astype(np.float32)
    return ratio(session.run([dense], {"input": x.transpose(0, 3, 1, 2)})[0], logits_of(sized, weights, x))


def torch_ratio(graph, folder: Path, weights, x, ours) -> float:
    import torch

    export_pytorch(graph, folder / "m.py")
    model = _import(folder / "m.py", f"m_{graph.spec.name.replace('-', '_')}").build_model()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in torch_state(weights, graph).items()}, strict=True)
    kept = {}
    model.fc.register_forward_hook(lambda m, i, out: kept.__setitem__("fc", out.detach().numpy()))
    with torch.no_grad():
        model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    return ratio(kept["fc"], ours)


def keras_ratio(graph, folder: Path, weights, x, ours) -> float:
    import keras

    export_keras(graph, folder / "k.py")
    model = _import(folder / "k.py", f"k_{graph.spec.name.replace('-', '_')}").build_model()
    model.load_weights(str(save_weights(weights, folder / "w.weights.h5", graph)))
    model.layers[-1].activation = keras.activations.linear
    return ratio(np.asarray(model.predict(x, verbose=0)), ours)


def main(specs: list[str]) -> None:
    print("| spec | ONNX 224 | ONNX held-out | PyTorch 224 | Keras 224 |")
    print("|---|---|---|---|---|")
    for name in specs:
        graph = load_graph(name)
        weights = random_weights(graph, 0)
        x = np.random.default_rng(1).normal(size=(2, 224, 224, 3)).astype(np.float32)
        ours = logits_of(graph, weights, x)
        hw = held_out(name)
        with tempfile.TemporaryDirectory() as folder:
            cells = [f"{onnx_ratio(graph, (224, 224)):.1e}", f"{onnx_ratio(graph, hw):.1e} ({hw[0]}x{hw[1]})",
                     f"{torch_ratio(graph, Path(folder), weights, x, ours):.1e}",
                     f"{keras_ratio(graph, Path(folder), weights, x, ours):.1e}"]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or sorted(bundled_specs()))
