"""Write the golden files of Keras' own layer tables: what ``model.summary()`` shows, per layer.

Needs Keras 3 on the torch backend (``KERAS_BACKEND=torch``); ``tests/test_keras_layers.py``
reads the files without Keras. For each ``keras.applications`` ResNet that a bundled spec
reproduces, at 224×224 and at an odd, non-square 197×263, it builds the model with
``weights=None`` in a fresh Keras session (``keras.backend.clear_session()``: layers Keras names
by counter, ``input_layer`` and V2's ``max_pooling2d_N``, get the names a new session gives
them) and writes ``tests/golden/keras/layers/<Model>-<H>x<W>.json``: Keras' version and one row
per layer of ``model.layers``: name, output shape without the batch, "Connected to" (the names
of its inbound layers, in order) and ``count_params()``.

Run it from the repository root: ``KERAS_BACKEND=torch python scripts/make_golden_keras_layers.py``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from keras_layers import APPLICATIONS, keras_rows  # noqa: E402

OUT = ROOT / "tests" / "golden" / "keras" / "layers"
SIZES = ((224, 224), (197, 263))


def write(model_name: str, hw: tuple[int, int]) -> Path:
    keras.backend.clear_session()
    model = getattr(keras.applications, model_name)(weights=None, input_shape=(*hw, 3))
    path = OUT / f"{model_name}-{hw[0]}x{hw[1]}.json"
    rows = keras_rows(model)
    document = {"keras": keras.__version__, "model": f"keras.applications.{model_name}(weights=None)",
                "input_shape": [*hw, 3], "count_params": int(model.count_params()), "layers": rows}
    text = "{\n" + ",\n".join(f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in document.items()
                              if key != "layers")
    text += ',\n  "layers": [\n' + ",\n".join(f"    {json.dumps(row)}" for row in rows) + "\n  ]\n}\n"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for model_name in APPLICATIONS:
        for hw in SIZES:
            print("wrote", write(model_name, hw).relative_to(ROOT))


if __name__ == "__main__":
    main()
