"""Weights files: .npz, torchvision .safetensors and Keras .h5 in, every way a file can be wrong out.

Independent sources: the Keras 2 HDF5 layout is read back with h5py directly (the layout of
``keras/saving/legacy/hdf5_format.py``: root attr ``layer_names``, per-layer attr ``weight_names``,
datasets at ``layer/weight_name``); the torchvision mapping is checked against PyTorch's own
``conv2d`` and ``Linear`` outputs; counts are worked out by hand in each test.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from contextlib import ExitStack

from resnet_inspect import InspectError, build_graph, load_spec

from resnet_inspect.io import base, h5, npz, torchvision
from resnet_inspect.model.keras import keras_order
from resnet_inspect.io.base import check_weights
from resnet_inspect.io.weightfiles import load_weights, save_weights, summary
from resnet_inspect.model.weights import random_weights, weight_shapes

DATA = Path(__file__).resolve().parent / "data"
TINY = DATA / "tiny-run.yaml"
TINY_TORCHVISION = DATA / "tiny-run-torchvision.yaml"


@pytest.fixture(scope="module")
def graph():
    return build_graph(load_spec(str(TINY)))


@pytest.fixture(scope="module")
def weights(graph):
    return random_weights(graph, seed=1)


def error_of(path, graph) -> str:
    with pytest.raises(InspectError) as info:
        load_weights(path, graph)
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text
    return text


class Evil:
    """Unpickling this creates the file ``marker`` (pickle calls ``open(marker, "w")``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# --------------------------------------------------------------------------- .npz


def test_npz_round_trip_keeps_every_array_bit_for_bit(tmp_path, graph, weights):
    path = save_weights(weights, tmp_path / "w.npz")
    loaded = load_weights(path, graph)
    assert loaded.keys() == weights.keys()
    for layer, arrays in weights.items():
        for key, array in arrays.items():
            assert loaded[layer][key].dtype == array.dtype
            assert np.array_equal(loaded[layer][key], array)


def test_npz_members_are_named_layer_slash_key(tmp_path, weights):
    # Read with zipfile, not numpy: the on-disk names are the contract ("res2a_branch2a/kernel").
    path = save_weights(weights, tmp_path / "w.npz")
    names = set(zipfile.ZipFile(path).namelist())
    assert {"res2a_branch2a/kernel.npy", "res2a_branch2a/bias.npy", "bn2a_branch2a/moving_mean.npy",
            "bn2a_branch2a/moving_variance.npy", "fc1000/kernel.npy"} <= names


def test_missing_extra_and_wrong_shape_are_all_named_in_one_line(tmp_path, graph, weights):
    broken = {layer: dict(arrays) for layer, arrays in weights.items()}
    del broken["res2a_branch2a"]["kernel"]
    broken["res9z_branch2a"] = {"kernel": np.zeros((1, 1, 4, 4), np.float32)}
    broken[""] = {"stray": np.zeros(1, np.float32)}  # an npz member without a layer: "stray.npy"
    broken["fc1000"]["kernel"] = np.zeros((16, 1000), np.float32)  # tiny's last stage has 8*4 = 32 channels
    save_weights(broken, tmp_path / "w.npz")
    text = error_of(tmp_path / "w.npz", graph)
    assert str(tmp_path / "w.npz") in text and "tiny-run" in text
    assert "1 missing: res2a_branch2a/kernel" in text
    assert "2 extra: res9z_branch2a/kernel, stray" in text
    assert "fc1000/kernel expected (32, 1000) found (16, 1000)" in text


def zeros_for(graph):
    """Arrays of the right shapes, for free (calloc'd zeros): for checks that never run them."""
    return {layer: {key: np.zeros(shape, np.float32) for key, shape in keys.items()}
            for layer, keys in weight_shapes(graph).items()}


def test_long_lists_are_cut_and_counted():
    # Keras' resnet50 weights in torchvision's layout: every conv bias is extra. resnet50 has
    # 1 stem conv + 16 blocks x 3 convs + 4 shortcut convs = 53 convs, so 53 extra biases.
    keras = zeros_for(build_graph(load_spec("resnet50")))
    with pytest.raises(InspectError) as info:
        check_weights(keras, build_graph(load_spec("resnet50-torchvision")), "keras.npz")
    text = str(info.value)
    assert text.startswith("keras.npz: weights do not fit spec resnet50-torchvision: 53 extra: ")
    assert "53 extra: conv1/bias, res2a_branch2a/bias" in text and "… and 45 more" in text
    assert "missing" not in text


def test_integer_arrays_are_refused(tmp_path, graph, weights):
    broken = {layer: dict(arrays) for layer, arrays in weights.items()}
    broken["bn_conv1"]["moving_variance"] = np.ones(4, np.int64)
    save_weights(broken, tmp_path / "w.npz")
    assert "1 not float16, float32 or float64: bn_conv1/moving_variance is int64" in error_of(tmp_path / "w.npz", graph)


def test_npz_with_an_object_array_is_refused_and_never_unpickled(tmp_path, graph, weights):
    marker = tmp_path / "unpickled"
    arrays = {f"{layer}/{key}": value for layer, keys in weights.items() for key, value in keys.items()}
    arrays["conv1/kernel"] = np.array([Evil(marker)], dtype=object)
    np.savez(tmp_path / "evil.npz", **arrays)  # numpy pickles object arrays on save
    text = error_of(tmp_path / "evil.npz", graph)
    assert "layer conv1: array 'conv1/kernel' has dtype object; weights must be plain numeric arrays" in text
    assert not marker.exists()


def test_a_pickle_named_npz_is_refused_and_never_unpickled(tmp_path, graph):
    marker = tmp_path / "unpickled"
    (tmp_path / "fake.npz").write_bytes(pickle.dumps({"conv1/kernel": Evil(marker)}))
    assert "not a readable .npz file" in error_of(tmp_path / "fake.npz", graph)
    assert not marker.exists()


def test_a_single_npy_array_is_not_a_weights_file(tmp_path, graph):
    with open(tmp_path / "one.npz", "wb") as f:
        np.save(f, np.zeros(3, np.float32))
    assert "not a .npz archive" in error_of(tmp_path / "one.npz", graph)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", b"\x00" * 100])
def test_corrupt_npz(tmp_path, graph, content):
    (tmp_path / "bad.npz").write_bytes(content)
    assert "bad.npz: not a readable .npz file" in error_of(tmp_path / "bad.npz", graph)


def test_truncated_npz_member(tmp_path, graph, weights):
    data = save_weights(weights, tmp_path / "w.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    assert "cut.npz" in error_of(tmp_path / "cut.npz", graph)


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("name", ["m.pt", "m.pth", "pytorch_model.bin"])
def test_torch_pickles_are_refused_with_the_conversion_line(tmp_path, graph, name):
    marker = tmp_path / "unpickled"
    (tmp_path / name).write_bytes(pickle.dumps(Evil(marker)))
    text = error_of(tmp_path / name, graph)
    stem = name.rsplit(".", 1)[0]
    assert "never loaded" in text
    assert (f"python -c \"import torch; from safetensors.torch import save_file; "
            f"save_file(torch.load('{name}', weights_only=True), '{stem}.safetensors')\"") in text
    assert not marker.exists()


def test_unknown_extension_and_missing_file(tmp_path, graph):
    (tmp_path / "w.onnx").write_bytes(b"x")
    assert "unknown weights format '.onnx'; expected .npz, .safetensors, .h5" in error_of(tmp_path / "w.onnx", graph)
    assert "no such weights file" in error_of(tmp_path / "absent.npz", graph)


def test_cannot_write_an_unknown_format(tmp_path, weights):
    with pytest.raises(InspectError, match="must end in .h5, .hdf5, .npz"):
        save_weights(weights, tmp_path / "w.pt")


def test_check_weights_accepts_random_weights_for_every_bundled_spec():
    for name in ("resnet50", "resnet50-2019", "resnet50-torchvision"):
        graph = build_graph(load_spec(name))
        check_weights(zeros_for(graph), graph)


# --------------------------------------------------------------------------- Keras .h5


def test_h5_round_trip_and_keras_layout(tmp_path, graph, weights):
    h5py = pytest.importorskip("h5py")
    path = save_weights(weights, tmp_path / "w.h5", graph)
    with h5py.File(path, "r") as f:
        layer_names = [n.decode() for n in f.attrs["layer_names"]]
        # every layer, in Keras' model.layers order (checked against live Keras in test_keras_parity.py):
        # at a conv block the shortcut's conv comes before the main path's last conv, as Add()([shortcut, x])
        assert sorted(layer_names) == sorted(layer.name for layer in graph)
        assert layer_names.index("res2a_branch1") < layer_names.index("res2a_branch2c")
        assert list(f["conv1_relu"].attrs["weight_names"]) == []
        assert [n.decode() for n in f["bn_conv1"].attrs["weight_names"]] == [
            "bn_conv1/gamma:0", "bn_conv1/beta:0", "bn_conv1/moving_mean:0", "bn_conv1/moving_variance:0"]
        assert f["res2a_branch2a/res2a_branch2a/kernel:0"].shape == (1, 1, 4, 4)
    loaded = load_weights(path, graph)
    for layer, arrays in weights.items():
        for key, array in arrays.items():
            assert np.array_equal(loaded[layer][key], array)


def write_keras_h5(path: Path, weights, layer_attr_chunks: int = 1, model_file: bool = False) -> None:
    """A file as Keras 2 writes it, built with h5py alone: big name lists split into name0, name1, …"""
    import h5py

    names = list(weights)
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights") if model_file else f
        chunks = np.array_split(np.array([n.encode() for n in names]), layer_attr_chunks)
        if layer_attr_chunks == 1:
            root.attrs["layer_names"] = chunks[0]
        else:
            for index, chunk in enumerate(chunks):
                root.attrs[f"layer_names{index}"] = chunk
        for layer, arrays in weights.items():
            group = root.create_group(layer)
            group.attrs["weight_names"] = np.array([f"{layer}/{key}:0".encode() for key in arrays])
            for key, array in arrays.items():
                group.create_dataset(f"{layer}/{key}:0", data=array)


@pytest.mark.parametrize("chunks, model_file", [(3, False), (1, True)])
def test_h5_chunked_names_and_whole_model_files(tmp_path, graph, weights, chunks, model_file):
    pytest.importorskip("h5py")
    write_keras_h5(tmp_path / "w.h5", weights, chunks, model_file)
    loaded = load_weights(tmp_path / "w.h5", graph)
    assert np.array_equal(loaded["fc1000"]["kernel"], weights["fc1000"]["kernel"])


def test_h5_errors(tmp_path, graph, weights):
    h5py = pytest.importorskip("h5py")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5 at all")
    assert "junk.h5: not a readable HDF5 file" in error_of(tmp_path / "junk.h5", graph)
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    assert "no 'layer_names' attribute: not a Keras weights file" in error_of(tmp_path / "plain.h5", graph)
    write_keras_h5(tmp_path / "short.h5", {k: v for k, v in weights.items() if k != "bn_conv1"})
    assert "4 missing: bn_conv1/gamma, bn_conv1/beta" in error_of(tmp_path / "short.h5", graph)
    with h5py.File(tmp_path / "text.h5", "w") as f:
        f.attrs["layer_names"] = np.array([b"conv1"])
        f.create_group("conv1").attrs["weight_names"] = np.array([b"conv1/kernel:0"])
        f["conv1"].create_dataset("conv1/kernel:0", data=np.array([b"abc"]))
    assert "layer conv1: array 'conv1/kernel:0' has dtype |S3; weights must be plain numeric" in error_of(tmp_path / "text.h5", graph)


# --------------------------------------------------------------------------- torchvision .safetensors


def torchvision_tiny(seed: int = 0):
    """tiny-run-torchvision as torchvision names its modules (see tests/tiny_torch.py)."""
    pytest.importorskip("torch")
    from tiny_torch import tiny_resnet

    return tiny_resnet(seed)


def save_state(model, path: Path, drop: tuple[str, ...] = (), add: dict | None = None) -> Path:
    pytest.importorskip("safetensors")
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in model.state_dict().items() if k not in drop}
    state.update(add or {})
    save_file(state, str(path))
    return path


def test_safetensors_maps_torchvision_names_and_layouts(tmp_path):
    torch = pytest.importorskip("torch")
    model = torchvision_tiny()
    assert "bn1.num_batches_tracked" in model.state_dict()  # present in real files, ignored by us
    graph = build_graph(load_spec(str(TINY_TORCHVISION)))
    weights = load_weights(save_state(model, tmp_path / "tv.safetensors"), graph)

    # Conv: torch's own conv2d output at one position equals the sum over our HWIO kernel.
    x = torch.randn(1, 16, 6, 6)
    conv = model.layer2[0].downsample[0]  # 1x1 stride 2, 16 -> 32
    expected = conv(x)[0, :, 1, 2].detach().numpy()  # output (1, 2) reads input (2, 4)
    ours = np.einsum("i,io->o", x[0, :, 2, 4].numpy(), weights["res3a_branch1"]["kernel"][0, 0])
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
    x = torch.randn(1, 8, 5, 5)
    conv = model.layer2[1].conv2  # 3x3, padding 1: output (2, 2) reads input rows/cols 1..3
    expected = conv(x)[0, :, 2, 2].detach().numpy()
    patch = x[0, :, 1:4, 1:4].permute(1, 2, 0).numpy()  # (kh, kw, C_in)
    ours = np.einsum("hwi,hwio->o", patch, weights["res3b_branch2b"]["kernel"])
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)

    # Dense: torch's Linear equals x @ kernel + bias.
    x = torch.randn(2, 32)
    np.testing.assert_allclose(x.numpy() @ weights["fc1000"]["kernel"] + weights["fc1000"]["bias"],
                               model.fc(x).detach().numpy(), rtol=1e-5, atol=1e-5)

    # BN: weight/bias -> gamma/beta, running_mean/var -> moving_mean/variance.
    bn = model.layer1[0].bn3
    for ours, theirs in (("gamma", bn.weight), ("beta", bn.bias), ("moving_mean", bn.running_mean),
                         ("moving_variance", bn.running_var)):
        assert np.array_equal(weights["bn2a_branch2c"][ours], theirs.detach().numpy())
    assert weights["conv1"]["kernel"].shape == (7, 7, 3, 4)
    assert weights["res2a_branch2b"]["kernel"].flags["C_CONTIGUOUS"]


def test_safetensors_mismatch_names_both_ours_and_torchvisions(tmp_path):
    torch = pytest.importorskip("torch")
    model = torchvision_tiny()
    path = save_state(model, tmp_path / "tv.safetensors", drop=("layer1.0.conv1.weight",),
                      add={"layer3.0.conv1.weight": torch.zeros(8, 32, 1, 1),
                           "fc.weight": torch.zeros(1000, 16)})
    text = error_of(path, build_graph(load_spec(str(TINY_TORCHVISION))))
    assert "1 missing: res2a_branch2a/kernel (layer1.0.conv1.weight)" in text
    assert "1 extra: layer3.0.conv1.weight" in text
    assert "fc1000/kernel (fc.weight) expected (32, 1000) found (16, 1000)" in text


def test_corrupt_safetensors(tmp_path, graph):
    pytest.importorskip("safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    assert "bad.safetensors: not a readable safetensors file" in error_of(tmp_path / "bad.safetensors", graph)


# --------------------------------------------------------------------------- issue 7: deep .h5, values, headers first


def deep_spec(tmp_path: Path, blocks: int) -> Path:
    """tiny-run with ``blocks`` bottlenecks in stage 3 (named res3a, res3b1, res3b2, … as Caffe names them)."""
    text = TINY.read_text().replace("blocks: 2, stride: 2", f"blocks: {blocks}, stride: 2")
    path = tmp_path / "deep.yaml"
    path.write_text(text.replace("name: tiny-run", "name: deep"))
    return path


def test_h5_of_a_deep_network_splits_names_as_keras_does_and_reads_back(tmp_path):
    h5py = pytest.importorskip("h5py")
    graph = build_graph(load_spec(str(deep_spec(tmp_path, 400))))
    weights = zeros_for(graph)
    path = save_weights(weights, tmp_path / "deep.h5", graph)
    with h5py.File(path, "r") as f:
        # Keras' save_attributes_to_hdf5_group: no "layer_names", but layer_names0, 1, … each
        # under HDF5_OBJECT_HEADER_LIMIT = 64512 bytes, which together list every layer in order.
        assert "layer_names" not in f.attrs
        chunks = sorted((k for k in f.attrs if k.startswith("layer_names")), key=lambda k: int(k[11:]))
        assert len(chunks) >= 2 and all(f.attrs[k].nbytes <= 64512 for k in chunks)
        listed = [n.decode() for k in chunks for n in f.attrs[k]]
        # 400 blocks x 10 layers (3 convs, 3 BNs, 2 ReLUs, add, ReLU), more than 300 blocks' worth
        assert listed == keras_order(graph) and len(listed) > 4000
    loaded = load_weights(path, graph)
    assert summary(loaded) == summary(weights)


def test_a_failed_h5_write_leaves_the_old_file_and_no_partial_one(tmp_path, graph, weights, monkeypatch):
    pytest.importorskip("h5py")
    old = save_weights(weights, tmp_path / "w.h5", graph).read_bytes()

    def fail_midway(group, name, values):  # the writer dies after the file was opened and begun
        raise RuntimeError("object header message is too large")

    monkeypatch.setattr(h5, "save_h5_names", fail_midway)
    with pytest.raises(InspectError, match="w.h5: cannot write .object header message is too large.; the old file is unchanged"):
        save_weights(weights, tmp_path / "w.h5", graph)
    assert (tmp_path / "w.h5").read_bytes() == old and sorted(p.name for p in tmp_path.iterdir()) == ["w.h5"]


def test_convert_onto_its_source_is_refused_before_anything_is_written(tmp_path, graph, weights):
    path = save_weights(weights, tmp_path / "w.npz")
    before = path.read_bytes()
    with pytest.raises(InspectError, match="would overwrite"):
        save_weights(load_weights(path, graph), tmp_path / "." / "w.npz", graph, reads=[path])
    assert path.read_bytes() == before


def test_values_no_network_can_use_are_named_by_layer_and_array(graph, weights):
    broken = {layer: dict(arrays) for layer, arrays in weights.items()}
    kernel = broken["res2a_branch2b"]["kernel"].copy()
    kernel[0, 0, 0, :3] = [np.nan, np.inf, np.nan]  # 2 NaN, 1 infinite, counted by hand
    broken["res2a_branch2b"]["kernel"] = kernel
    broken["bn3b_branch2a"]["moving_variance"] = np.array([1.0, -0.25, -2.0, 0.5, 1, 1, 1, 1], np.float32)
    non_finite, negative = base.value_problems(broken)
    assert non_finite == ["res2a_branch2b/kernel has 2 NaN and 1 infinite"]
    assert negative == ["bn3b_branch2a/moving_variance has 2 below 0 (min -2)"]
    with pytest.raises(InspectError) as info:
        base.check_values(broken, "w.npz")
    assert str(info.value) == ("w.npz: weights hold values no network can use: 1 not finite: res2a_branch2b/kernel "
                               "has 2 NaN and 1 infinite; 1 negative moving_variance: bn3b_branch2a/moving_variance "
                               "has 2 below 0 (min -2)")
    base.check_values(weights)  # seeded weights are all finite, variances in 0.5-1.5


def test_shapes_are_checked_from_headers_before_any_data_is_read(tmp_path, graph, weights, monkeypatch):
    # A wrong shape in every format is refused with no entry's data read at all.
    broken = {layer: dict(arrays) for layer, arrays in weights.items()}
    broken["fc1000"]["kernel"] = np.zeros((16, 1000), np.float32)
    save_weights(broken, tmp_path / "w.npz")
    reads = []
    original = npz.fill
    monkeypatch.setattr(npz, "fill", lambda out, read: reads.append(out.shape) or original(out, read))
    assert "fc1000/kernel expected (32, 1000) found (16, 1000)" in error_of(tmp_path / "w.npz", graph)
    assert reads == []
    load_weights(save_weights(weights, tmp_path / "ok.npz"), graph)
    assert len(reads) == 74  # every array once, when the file fits (74 arrays: see test_run.py)


def test_our_safetensors_reader_agrees_with_the_safetensors_package(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    graph = build_graph(load_spec(str(TINY_TORCHVISION)))
    state = {f"x{i}": np.arange(i * 6, dtype=dtype).reshape(i, 6) for i, dtype in
             enumerate((np.float16, np.float32, np.float64, np.int64), start=1)}
    safetensors_numpy.save_file(state, str(tmp_path / "s.safetensors"))  # written by the package itself
    with ExitStack() as stack:
        described = torchvision.describe_safetensors(tmp_path / "s.safetensors", graph, base.Limits.of(graph), stack)
        assert sorted(described.unmapped) == ["x1", "x2", "x3", "x4"]  # no torchvision names: nothing of ours
        raw = {name: entry for name, entry in _raw_entries(tmp_path / "s.safetensors", graph, stack).items()}
        for name, array in state.items():
            assert raw[name].shape == array.shape and raw[name].dtype == array.dtype
            assert np.array_equal(raw[name].read(), array)


def _raw_entries(path, graph, stack):
    """The safetensors entries before torchvision mapping (by patching the mapper to keep them)."""
    kept = {}
    original = torchvision.torchvision_entries
    try:
        torchvision.torchvision_entries = lambda raw, graph, path: kept.update(raw) or original(raw, graph, path)
        torchvision.describe_safetensors(path, graph, base.Limits.of(graph), stack)
    finally:
        torchvision.torchvision_entries = original
    return kept
