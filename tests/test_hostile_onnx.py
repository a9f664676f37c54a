"""Hostile model files for ``import``/``identify`` (issue 20): ONNX and ``.keras`` archives.

Every case is generated here (``tests/onnxfiles.py`` writes ONNX with ``onnx.helper``) and run
as a real CLI process by ``tests/hostile.py``, judged like every hostile case: no traceback,
exit 2, one ``error:`` line naming the file and what is wrong, time and the child's own peak RSS
bounded, the secret outside the folder never read. Then a fuzz: corruptions of a valid tiny ONNX
file read in process must give a spec or one :class:`InspectError` line naming the file.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile import SECRET, Case, run_case
from resnet_inspect import InspectError, import_spec

pytest.importorskip("onnx")
import onnxfiles as of
import weightfiles as wf

RSS_MB = 300.0  # a CLI process with the onnx package imported idles near 90 MB; the files are KBs
IMPORT = ["import", "m.onnx", "-o", "spec.yaml"]


def case(name: str, data: object, expect: tuple[str, ...], args: list[str] = IMPORT) -> Case:
    target = args[1]
    klass = {"onnx": "onnx", "keras": "keras-import"}.get(target.rsplit(".", 1)[1], "state-dict-import")
    return Case(klass, name, args, {target: data},
                ("m." + target.rsplit(".", 1)[1], *expect), 2, rss_limit_mb=RSS_MB)


def sparse(size: int):
    def make(path: Path) -> None:
        with open(path, "wb") as handle:
            handle.truncate(size)
    return make


def keras_zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def onnx_cases() -> list[Case]:
    tiny = of.tiny()
    return [
        case("truncated", tiny[: len(tiny) // 3], ("not a readable ONNX file",)),
        case("truncated-in-a-weight", tiny[:-40], ("not a readable ONNX file",)),
        case("garbage", b"\x0a\xff\xff\xff\xff\x0f" + os.urandom(64), ("ONNX",)),
        case("empty", b"", ("no nodes",)),
        case("oversized-sparse-3GiB", sparse(3 << 30), ("3,221,225,472 bytes", "at most")),
        case("cycle", of.cycle(), ("node 'b_relu'", "cycle")),
        case("unknown-op", of.unknown_op(), ("node 'relu1'", "'Tanh'", "no counterpart")),
        case("external-data-to-the-secret", of.external_data(), ("tensor 'conv1.w'", "external data is refused")),
        case("external-data-absolute", of.external_data("/etc/passwd"), ("external data is refused",)),
        case("dims-of-a-billion", of.lying_dims([1 << 15, 1 << 15]), ("declares 1,073,741,824 elements",)),
        case("dims-not-the-bytes", of.lying_dims([4, 3, 7, 8]), ("holds 2,352 bytes", "672 elements")),
        case("negative-dims", of.lying_dims([-4, 3, 7, 7]), ("declares dims",)),
        case("too-many-nodes", of.many_nodes(100_001), ("100,000",)),
        case("identify-external", of.external_data(), ("external data is refused",), ["identify", "m.onnx"]),
        case("identify-truncated", tiny[:200], ("not a readable ONNX file",), ["identify", "m.onnx"]),
    ]


def keras_cases() -> list[Case]:
    args = ["import", "m.keras", "-o", "spec.yaml"]
    layers = {"class_name": "Functional", "config": {"layers": [{"class_name": "InputLayer", "name": "in",
              "config": {"batch_shape": [None, 32, 32, 3]}, "inbound_nodes": []}]}}
    deep = b"[" * 100_000 + b"]" * 100_000
    loop = {"class_name": "Functional", "config": {"layers": [
        {"class_name": "InputLayer", "name": "in", "config": {"batch_shape": [None, 32, 32, 3]}, "inbound_nodes": []},
        {"class_name": "ReLU", "name": "a", "config": {}, "inbound_nodes": [[["b", 0, 0, {}]]]},
        {"class_name": "ReLU", "name": "b", "config": {}, "inbound_nodes": [[["a", 0, 0, {}]]]}]}}
    return [
        case("config-bomb", keras_zip({"config.json": b" " * (80 << 20)}), ("config.json", "declares"), args),
        case("no-config", keras_zip({"model.weights.h5": b"x"}), ("no 'config.json' member",), args),
        case("sequential", keras_zip({"config.json": json.dumps({"class_name": "Sequential"}).encode()}),
             ("not a functional model",), args),
        case("json-nested-deep", keras_zip({"config.json": deep}), ("not a readable Keras archive",), args),
        case("only-an-input", keras_zip({"config.json": json.dumps(layers).encode()}), ("node 'in'",), args),
        case("not-a-zip", b"PK\x03\x04" + os.urandom(100), ("Keras archive",), args),
        case("layer-cycle", keras_zip({"config.json": json.dumps(loop).encode()}), ("node 'a'", "cycle"), args),
        case("bzip2-member", keras_zip({"config.json": b"{}"}, zipfile.ZIP_BZIP2), ("compression",), args),
        # the shared zip guard (core.safeio.open_zip): refused from the end record before zipfile parses
        # 1.2 M ZipInfos (the import's own zipfile.ZipFile peaked at 564 MB / 17 s on this file)
        Case("keras-import", "1.2M-empty-members", args,
             {"m.keras": lambda path: path.write_bytes(wf.many_members_zip(1_200_000))},
             ("m.keras", "lists 1,200,000 members; a Keras archive holds at most 64"), 2, rss_limit_mb=120.0),
    ]


def safetensors_bytes(header: dict, data: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data


def state_dict_cases() -> list[Case]:
    args = ["import", "m.safetensors", "-o", "spec.yaml"]
    conv = {"dtype": "F32", "shape": [1, 3, 1, 1], "data_offsets": [0, 12]}
    fc = {"dtype": "F32", "shape": [1, 1], "data_offsets": [12, 16]}
    return [
        case("a-name-torchvision-lacks", safetensors_bytes({"conv1.weight": conv, "fc.weight": fc,
                                                            "transformer.h.0.attn": fc}, bytes(16)),
             ("node 'transformer.h.0.attn'", "not a name torchvision's ResNet has"), args),
        case("shape-beyond-the-data", safetensors_bytes({"conv1.weight": {**conv, "shape": [10**6, 10**6, 7, 7]},
                                                         "fc.weight": fc}, bytes(16)), ("conv1.weight",), args),
        case("no-torchvision-names", safetensors_bytes({"w": fc}, bytes(16)), ("not a torchvision ResNet",), args),
        case("header-claims-a-terabyte", (10**12).to_bytes(8, "little") + b"{}", ("header claims",), args),
    ]


@pytest.mark.parametrize("item", onnx_cases() + keras_cases() + state_dict_cases(), ids=lambda c: c.id)
def test_hostile_model_files_give_one_line(item: Case, tmp_path: Path) -> None:
    run_case(item, tmp_path)


def test_the_external_data_case_points_at_the_secret() -> None:
    """The external-data case is hostile for real: it names the harness's secret file."""
    assert b"../outside/secret.txt" in of.external_data() and SECRET not in of.external_data().decode("latin-1")


# --------------------------------------------------------------------------- fuzz


RELAXED = {"deadline": None, "database": None,
           "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
FOLDER = Path(tempfile.mkdtemp(prefix="onnx-fuzz-"))
TINY = of.tiny()
STATS = {"imported": 0, "refused": 0, "worst_s": 0.0}


@st.composite
def corruptions(draw: st.DrawFn) -> bytes:
    data = bytearray(TINY)
    kind = draw(st.sampled_from(["truncate", "flip", "slice", "insert", "delete"]))
    if kind == "truncate":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, len(data) - 1))
            data[at] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, data[at] ^ 0xFF, data[at] ^ 1]))
    elif kind == "slice":
        at = draw(st.integers(0, len(data) - 1))
        patch = draw(st.binary(min_size=1, max_size=32))
        data[at:at + len(patch)] = patch
    elif kind == "insert":
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(min_size=1, max_size=32))
    else:
        at = draw(st.integers(0, len(data) - 1))
        del data[at:at + draw(st.integers(1, 256))]
    return bytes(data)


def test_corrupted_onnx_files_import_or_give_one_line() -> None:
    @settings(max_examples=300, **RELAXED)
    @given(corruptions())
    def run(data: bytes) -> None:
        path = FOLDER / "m.onnx"
        path.write_bytes(data)
        start = time.perf_counter()
        try:
            import_spec(path)
            STATS["imported"] += 1
        except InspectError as exc:
            text = str(exc)
            assert "\n" not in text and text.startswith(str(path)), text[:300]
            STATS["refused"] += 1
        STATS["worst_s"] = max(STATS["worst_s"], time.perf_counter() - start)
        assert time.perf_counter() - start < 5.0

    run()
    assert STATS["refused"] > 0 and STATS["imported"] > 0, STATS  # both outcomes are reached


def test_an_unfolded_onnx_graph_gives_bias_and_epsilon_from_the_file(tmp_path: Path) -> None:
    """With BatchNormalization nodes and a Pad (as an exporter that keeps BN writes it), the
    conventions come from the file: no conv bias, the BN's epsilon, the Pad as the stem's pad;
    nothing about them is listed as ambiguous. The folded file of the same network says 'bias'."""
    path = tmp_path / "unfolded.onnx"
    path.write_bytes(of.unfolded(1e-3))
    result = import_spec(path)
    assert result.spec.conventions.conv_bias is False and result.spec.conventions.bn_epsilon == 1e-3
    assert result.spec.stem.pad == 3
    # onnx.helper writes no producer_name, so whose parameter count the file follows (conventions.param_count,
    # a field since the keras merge) is not in it either: torch.onnx files say "pytorch" (test_import)
    assert [a.field for a in result.ambiguities] == ["conventions.preprocessing", "conventions.param_count"]
    folded = tmp_path / "folded.onnx"
    folded.write_bytes(of.tiny())
    other = import_spec(folded)
    assert {"conventions.conv_bias", "conventions.bn_epsilon"} <= {a.field for a in other.ambiguities}
    assert [(s.filters, s.blocks, s.stride) for s in other.spec.stages] == [((4, 4, 16), 1, 1)]
    assert [(s.filters, s.blocks, s.stride) for s in result.spec.stages] == [((4, 4, 16), 1, 1)]


def test_a_pad_that_is_not_even_names_the_node(tmp_path: Path) -> None:
    from onnx import numpy_helper, load_from_string
    import numpy as np

    model = load_from_string(of.unfolded())
    for tensor in model.graph.initializer:
        if tensor.name == "stem_pads":
            tensor.CopyFrom(numpy_helper.from_array(np.array([0, 0, 3, 2, 0, 0, 3, 3], np.int64), "stem_pads"))
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(InspectError, match="node 'conv1_pad': a Pad that is not the same zero padding"):
        import_spec(path)
