"""`resnet-inspect run` and `weights` end to end through typer's CliRunner, on the tiny test specs.

Independent sources: preprocessing values are worked out by hand from Keras' "caffe" mode
(BGR, minus [103.939, 116.779, 123.68]) and torchvision's Normalize (mean [0.485, 0.456, 0.406],
std [0.229, 0.224, 0.225]); logits come from PyTorch running torchvision's module structure
(tests/tiny_torch.py) on the same weights; softmax probabilities from exp(z)/sum(exp(z)).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from resnet_inspect import build_graph, load_spec
from resnet_inspect.cli import app
from resnet_inspect.execute.inference import imagenet_classes, top_k
from resnet_inspect.execute.inputs import load_image
from resnet_inspect.render.inference_report import progress

DATA = Path(__file__).resolve().parent / "data"
TINY = str(DATA / "tiny-run.yaml")
TINY_TORCHVISION = str(DATA / "tiny-run-torchvision.yaml")
runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def ok_json(*args: str) -> dict:
    result = cli(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def failure(*args: str) -> str:
    """The one error line of a command that must fail with exit 2."""
    result = cli(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


@pytest.fixture(scope="module")
def keras_weights(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("w") / "tiny.npz"
    assert cli("weights", "init", TINY, "-o", path, "--seed", 3).exit_code == 0
    return path


def solid_png(path: Path, rgb=(200, 100, 50), size=(50, 40)) -> Path:
    PIL = pytest.importorskip("PIL.Image")
    PIL.new("RGB", size, rgb).save(path)
    return path


# --------------------------------------------------------------------------- preprocessing


def test_caffe_and_torch_preprocessing_by_hand(tmp_path):
    png = solid_png(tmp_path / "solid.png")  # 50x40, resized to 32x32: a solid colour stays exact
    caffe = load_image(png, (32, 32), "caffe")
    assert caffe.shape == (1, 32, 32, 3) and caffe.dtype == np.float32
    # BGR order, minus the ImageNet mean: B 50 - 103.939, G 100 - 116.779, R 200 - 123.68.
    np.testing.assert_allclose(caffe[0, 7, 9], [-53.939, -16.779, 76.32], rtol=1e-6)
    torch_mode = load_image(png, (32, 32), "torch")
    # RGB / 255, then (x - mean) / std: R (0.78431 - 0.485) / 0.229 = 1.30705, G -0.28501, B -0.93298.
    np.testing.assert_allclose(torch_mode[0, 31, 0], [1.30705, -0.28501, -0.93298], atol=1e-5)


def test_top_k_of_logits_is_their_softmax():
    # softmax([0, ln 3, ln 6]) = [1, 3, 6] / 10
    logits = np.log(np.array([[1.0, 3.0, 6.0]]))
    (best,) = top_k(logits, 2, is_softmax=False)
    assert [(p.index, p.name) for p in best] == [(2, None), (1, None)]  # 3 classes: no ImageNet names
    assert [round(p.score, 12) for p in best] == [0.6, 0.3]


def test_imagenet_class_names_are_shipped():
    names = imagenet_classes()
    # Well-known ILSVRC-2012 indices: 0 tench, 281 tabby cat, 954 banana, 999 toilet tissue.
    assert len(names) == 1000
    assert (names[0], names[281], names[954], names[999]) == ("tench", "tabby", "banana", "toilet_tissue")


# --------------------------------------------------------------------------- run


def test_run_image_matches_torch_end_to_end(tmp_path):
    """safetensors mapping + image preprocessing + forward pass, checked against PyTorch."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    PIL = pytest.importorskip("PIL.Image")
    from safetensors.torch import save_file
    from tiny_torch import logits, tiny_resnet

    model = tiny_resnet(seed=5)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "tv.safetensors"))
    # The spec's size with Keras' stretch: no resize at all (torchvision's own resize-and-crop is
    # checked against torchvision's rules in tests/test_preprocessing.py); normalisation stays torch's.
    rgb = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    PIL.fromarray(rgb).save(tmp_path / "noise.png")
    data = ok_json("run", TINY_TORCHVISION, "--weights", tmp_path / "tv.safetensors", "--resize", "caffe",
                   "--image", tmp_path / "noise.png", "--save-output", tmp_path / "y.npy", "--top", "3")

    x = ((rgb / 255.0 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]).astype(np.float32)[None]
    expected = logits(model, x)  # torch, NCHW, torchvision's module structure
    ours = np.load(tmp_path / "y.npy")
    assert data["output"] == "logits" and ours.shape == (1, 1000) == tuple(data["output_shape"])
    np.testing.assert_allclose(ours, expected, atol=1e-4 * np.abs(expected).max())
    probabilities = np.exp(expected[0] - expected[0].max())
    probabilities /= probabilities.sum()
    assert [t["index"] for t in data["top"]] == list(np.argsort(-probabilities)[:3])
    np.testing.assert_allclose([t["score"] for t in data["top"]], np.sort(probabilities)[::-1][:3], rtol=1e-4)
    assert data["top"][0]["class"] == imagenet_classes()[data["top"][0]["index"]]
    del torch


def test_run_image_table(tmp_path, keras_weights):
    result = cli("run", TINY, "--weights", keras_weights, "--image", solid_png(tmp_path / "s.png"))
    assert result.exit_code == 0, result.output
    for text in ("tiny-run", "Probability", "output softmax 1×1000", "1 cold run"):
        assert text in result.stdout


def test_run_array_json_contract_and_saved_output(tmp_path, keras_weights):
    x = np.random.default_rng(1).normal(0, 50, (32, 32, 3)).astype(np.float32)  # H×W×C: gets a batch dim
    np.save(tmp_path / "x.npy", x)
    data = ok_json("run", TINY, "-w", keras_weights, "--array", tmp_path / "x.npy",
                   "--save-output", tmp_path / "y.npy", "--repeat", "3", "--top", "4")
    assert set(data) >= {"spec", "output_shape", "top", "forward_s"}
    assert data["spec"] == "tiny-run" and data["output_shape"] == [1, 1000] and data["output"] == "softmax"
    assert data["input"]["shape"] == [1, 32, 32, 3]
    assert data["forward_s"]["runs"] == 3 and 0 < data["forward_s"]["min"] <= data["forward_s"]["median"]
    assert [set(t) for t in data["top"]] == [{"class", "index", "score"}] * 4
    saved = np.load(tmp_path / "y.npy", allow_pickle=False)
    assert saved.shape == (1, 1000) and saved.dtype == np.float32
    assert abs(float(saved.sum()) - 1.0) < 1e-5  # the head's softmax: a distribution
    assert [t["index"] for t in data["top"]] == list(np.argsort(-saved[0], kind="stable")[:4])
    assert [t["score"] for t in data["top"]] == pytest.approx(list(np.sort(saved[0])[::-1][:4]))
    assert "top_per_item" not in data


def test_run_batch_reports_every_item(tmp_path, keras_weights):
    np.save(tmp_path / "x.npy", np.random.default_rng(2).normal(0, 50, (3, 32, 32, 3)).astype(np.float32))
    data = ok_json("run", TINY, "-w", keras_weights, "--array", tmp_path / "x.npy", "--top", "2")
    assert data["output_shape"] == [3, 1000] and len(data["top_per_item"]) == 3
    assert data["top"] == data["top_per_item"][0]


def test_keras_weights_round_trip_npz_h5_identical_outputs(tmp_path, keras_weights):
    pytest.importorskip("h5py")
    assert cli("weights", "convert", keras_weights, "-o", tmp_path / "w.h5", "--spec", TINY).exit_code == 0
    assert cli("weights", "convert", tmp_path / "w.h5", "-o", tmp_path / "back.npz", "--spec", TINY).exit_code == 0
    np.save(tmp_path / "x.npy", np.random.default_rng(3).normal(0, 50, (2, 32, 32, 3)).astype(np.float32))
    outputs = []
    for weights in (keras_weights, tmp_path / "w.h5", tmp_path / "back.npz"):
        name = tmp_path / f"y-{Path(weights).name}.npy"
        assert cli("run", TINY, "-w", weights, "--array", tmp_path / "x.npy", "--save-output", name).exit_code == 0
        outputs.append(np.load(name))
    assert np.array_equal(outputs[0], outputs[1]) and np.array_equal(outputs[0], outputs[2])


# --------------------------------------------------------------------------- weights commands


def test_weights_init_is_seeded_and_check_passes(tmp_path):
    for name, seed in (("a.npz", 7), ("b.npz", 7), ("c.npz", 8)):
        assert cli("weights", "init", TINY, "-o", tmp_path / name, "--seed", seed).exit_code == 0
    a, b, c = (np.load(tmp_path / n) for n in ("a.npz", "b.npz", "c.npz"))
    assert np.array_equal(a["conv1/kernel"], b["conv1/kernel"]) and not np.array_equal(a["conv1/kernel"], c["conv1/kernel"])
    # By hand: 12 convs (stem 1, res2a 4, res3a 4, res3b 3) x (kernel, bias) + 12 BNs x 4 + fc 2 = 74
    # arrays. Numbers: stem 7*7*3*4+4 + 4*4 = 608; res2a 20+148+80+80 + 40*4 = 488;
    # res3a 136+584+288+544 + 80*4 = 1872; res3b 264+584+288 + 48*4 = 1328; fc 32*1000+1000 = 33000;
    # total 37,296.
    result = cli("weights", "check", TINY, tmp_path / "a.npz")
    assert result.exit_code == 0 and "fits tiny-run: 74 arrays, 37,296 numbers" in result.stdout


def test_weights_errors_are_one_line_with_exit_2(tmp_path, keras_weights):
    assert "weights do not fit spec tiny-run-torchvision: 12 extra: conv1/bias" in failure(
        "weights", "check", TINY_TORCHVISION, keras_weights)
    (tmp_path / "m.pth").write_bytes(b"\x80\x04K\x01.")  # pickle of the int 1
    np.save(tmp_path / "x.npy", np.zeros((32, 32, 3), np.float32))
    assert "save_file(torch.load('m.pth', weights_only=True), 'm.safetensors')" in failure(
        "run", TINY, "-w", tmp_path / "m.pth", "--array", tmp_path / "x.npy")
    assert "w.txt: the weights file must end in .h5, .hdf5, .npz, .safetensors" in failure("weights", "init", TINY, "-o", tmp_path / "w.txt")


def test_run_input_errors(tmp_path, keras_weights):
    np.save(tmp_path / "x.npy", np.zeros((32, 32, 3), np.float32))
    np.save(tmp_path / "gray.npy", np.zeros((1, 32, 32, 1), np.float32))
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    assert "--image/--array: give exactly one of image (a picture) or array" in failure("run", TINY, "-w", keras_weights)
    assert "give exactly one" in failure("run", TINY, "-w", keras_weights, "--array", tmp_path / "x.npy",
                                         "--image", tmp_path / "x.npy")
    assert "input has 1 channels, spec tiny-run takes 3" in failure(
        "run", TINY, "-w", keras_weights, "--array", tmp_path / "gray.npy")
    assert "obj.npy: --array: not a readable .npy array" in failure(
        "run", TINY, "-w", keras_weights, "--array", tmp_path / "obj.npy")
    assert "--array: holds several arrays" in failure("run", TINY, "-w", keras_weights, "--array", keras_weights)
    assert "--image: not a readable image" in failure("run", TINY, "-w", keras_weights, "--image", tmp_path / "x.npy")
    assert "no such weights file" in failure("run", TINY, "-w", tmp_path / "none.npz", "--array", tmp_path / "x.npy")
    # The memory estimate comes first: a limit below the tiny net's own weights is refused, and
    # the message says how to raise it.
    refused = failure("run", TINY, "-w", keras_weights, "--array", tmp_path / "x.npy", "--max-memory", "1KB")
    assert "--max-memory" in refused and "above the limit of 1.0 KiB" in refused


def test_run_error_as_json(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((32, 32, 3), np.float32))
    result = cli("run", TINY, "-w", tmp_path / "none.h5", "--array", tmp_path / "x.npy", "--format", "json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["file"].endswith("none.h5") and error["message"] == "no such weights file"


# --------------------------------------------------------------------------- progress bar


def test_progress_bar_only_for_long_runs_on_a_terminal(monkeypatch):
    tiny = build_graph(load_spec(TINY))
    resnet50 = build_graph(load_spec("resnet50"))
    with progress(resnet50, (224, 224), 8, runs=1) as hooks:
        assert hooks.on_layer is None and hooks.on_pass is None  # pytest's stderr is not a terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    with progress(tiny, (32, 32), 1, runs=1) as hooks:
        assert hooks.on_layer is None  # 241,920 MACs: over in a moment
    with progress(resnet50, (224, 224), 8, runs=1) as hooks:  # 8 x 3.86 GMACs
        assert hooks.on_layer is not None and hooks.on_pass is not None
        hooks.on_layer("conv1", None)


def test_run_with_a_forced_bar_gives_the_same_output(tmp_path, keras_weights):
    from resnet_inspect.execute import inference

    graph = build_graph(load_spec(TINY))
    x = np.random.default_rng(4).normal(0, 50, (1, 32, 32, 3)).astype(np.float32)
    plain = inference.run(graph, keras_weights, x, "x")
    seen, passes = [], []
    with progress(graph, (32, 32), 1, runs=3, force=True) as hooks:
        barred = inference.run(graph, keras_weights, x, "x", repeat=2,
                               on_layer=lambda name, a: (seen.append(name), hooks.on_layer(name, a)),
                               on_pass=lambda: (passes.append(1), hooks.on_pass()))
    np.testing.assert_array_equal(plain.output, barred.output)
    assert seen == [layer.name for layer in graph] and len(passes) == 2  # layers once, then whole passes
