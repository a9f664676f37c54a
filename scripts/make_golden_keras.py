"""Write the golden files that check our Keras weight readers and forward pass against Keras 3.

Needs Keras 3 on the torch backend (``pip install '.[keras]'``; ``KERAS_BACKEND=torch``); the
tests that read the files (``tests/test_golden_keras.py``) do not. For each tiny spec in
``tests/golden/keras/`` it builds the same network with Keras' own ``keras.applications``
code (``resnet.ResNet`` with ``stack_residual_blocks_v1``/``_v2``, not from our graph), gives it
seeded weights, and lets **Keras** write every file a user would have:

* ``<spec>.weights.h5`` — ``model.save_weights`` (Keras 3's native format),
* ``<spec>.keras`` — ``model.save`` (a zip holding ``model.weights.h5`` and ``config.json``),
* ``<spec>.h5`` — ``model.save`` to ``.h5`` (legacy, Keras 3 layer names: ``conv2_block1_1_conv``),
* ``<spec>.npz`` — ``input`` (NHWC, float32), ``output`` (Keras' own forward pass on it) and
  ``layers`` (the names of ``model.layers``, in Keras' order).

Run it from the repository root: ``KERAS_BACKEND=torch python scripts/make_golden_keras.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras.src.applications import resnet  # noqa: E402

from resnet_inspect import build_graph, load_spec  # noqa: E402
from resnet_inspect.io.weightfiles import save_weights  # noqa: E402
from resnet_inspect.model.weights import random_weights  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "keras"
BATCH, SEED = 2, 2026


def tiny_v1(x):
    x = resnet.stack_residual_blocks_v1(x, 8, 2, stride1=1, name="conv2")
    return resnet.stack_residual_blocks_v1(x, 16, 2, name="conv3")


def tiny_v2(x):
    x = resnet.stack_residual_blocks_v2(x, 8, 2, name="conv2")
    return resnet.stack_residual_blocks_v2(x, 16, 2, stride1=1, name="conv3")


MODELS = {"tiny-keras3": (tiny_v1, False), "tiny-keras3v2": (tiny_v2, True)}


def write(name: str) -> None:
    stack_fn, preact = MODELS[name]
    keras.backend.clear_session()  # a fresh session each: its InputLayer is input_layer, as our names say
    graph = build_graph(load_spec(str(GOLDEN / f"{name}.yaml")))
    model = resnet.ResNet(stack_fn, preact, True, weights=None, input_shape=graph.spec.input_shape, classes=10,
                          name=name.replace("-", "_"))
    seeded = GOLDEN / f"{name}.seed.weights.h5"  # seeded weights into Keras through our writer (Keras checks shapes)
    save_weights(random_weights(graph, SEED, "float32"), seeded, graph)
    model.load_weights(str(seeded))
    seeded.unlink()
    x = np.random.default_rng(SEED).normal(size=(BATCH, *graph.spec.input_shape)).astype("float32")
    output = np.asarray(model(x, training=False).detach().cpu().numpy())
    model.save_weights(str(GOLDEN / f"{name}.weights.h5"))
    model.save(str(GOLDEN / f"{name}.keras"))
    model.save(str(GOLDEN / f"{name}.h5"))
    np.savez_compressed(GOLDEN / f"{name}.npz", input=x, output=output,
                        layers=np.array([layer.name for layer in model.layers]))
    for suffix in (".weights.h5", ".keras", ".h5", ".npz"):
        path = GOLDEN / f"{name}{suffix}"
        print(f"wrote {path.relative_to(ROOT)}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    for spec_name in MODELS:
        write(spec_name)
