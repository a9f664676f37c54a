"""Regression tests for issue 7's `run`/`verify`/`weights init` fixes, in process (the hostile
corpus in tests/test_hostile_run.py runs the same classes as separate processes).

Independent sources are named per test: hand computation of conv/pool sizes, 16-bit to 8-bit
scaling as v/257 (65535 -> 255), and array sizes counted from the shapes.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import app
from resnet_inspect.model.engine import trace
from resnet_inspect.core.errors import InspectError
from resnet_inspect.execute.executor import forward, parse_memory
from resnet_inspect.model.graph import load_graph
from resnet_inspect.execute.inference import save_array
from resnet_inspect.execute.inputs import decode_rgb8, load_array
from resnet_inspect.core.safeio import check_target
from resnet_inspect.model.weights import (at_size, check_size_fits, fitting_sizes, random_weights, weight_shapes,
                                    weights_bytes)

DATA = Path(__file__).resolve().parent / "data"
FLAT = str(DATA / "tiny-run-flatten.yaml")
TINY = str(DATA / "tiny-run.yaml")
runner = CliRunner()


def failure(*args: object) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


# --------------------------------------------------------------------------- fc1000 at another size


def test_resnet50_fc1000_fits_193_to_416():
    # By hand, with Keras' v1 rules (conv1 7x7/2 after 3 padding, max pool 3/2 after 1 padding,
    # a stride-2 1x1 conv per stage: ceil(s/2)), then the 7x7 avg_pool: its output is 1x1 for a
    # final map of 7..13. 192 -> 96 -> 48 -> 24 -> 12 -> 6 (too small); 193 -> 97 -> 49 -> 25 -> 13 -> 7;
    # 416 -> 208 -> 104 -> 52 -> 26 -> 13; 417 -> 209 -> 105 -> 53 -> 27 -> 14 -> 2x2 (issue 7: 8192 inputs).
    graph = load_graph("resnet50")
    assert fitting_sizes(graph, "fc1000", 2048) == (193, 416)
    assert weight_shapes(at_size(graph, (448, 448)))["fc1000"]["kernel"] == (2 * 2 * 2048, 1000)
    with pytest.raises(InspectError) as error:
        check_size_fits(graph, (448, 448))
    assert str(error.value) == ("layer fc1000: takes 2,048 inputs in these weights, but at 448×448 its input "
                                "(flatten) gives 8,192; these weights fit square inputs from 193 to 416")
    check_size_fits(graph, (416, 300))  # fits: no error


def test_executor_refuses_weights_made_for_another_size():
    graph = load_graph(FLAT)
    # By hand (conv 7x7/2 pad 3, max pool 3/2 pad 1, one stride-2 stage, avg_pool 4/4): 32 -> 16 -> 8
    # -> 4 -> 1x1 x 32 channels = 32 inputs; 64 -> 32 -> 16 -> 8 -> 2x2 x 32 = 128. The 1x1 range:
    # 24 -> 12 -> 6 -> 3 (too small), 25 -> 13 -> 7 -> 4 -> 1; 56 -> 28 -> 14 -> 7 -> 1, 57 -> 29 -> 15 -> 8 -> 2.
    weights = random_weights(graph, 0)
    x = np.zeros((1, 64, 64, 3), np.float32)
    with pytest.raises(InspectError, match="fc1000: takes 32 inputs .* gives 128; these weights fit square "
                                           "inputs from 25 to 56"):
        forward(graph, weights, x)


def test_verify_makes_its_weights_for_the_traced_size():
    result = runner.invoke(app, ["verify", FLAT, "--input", "64", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"ok": true' in result.stdout
    assert random_weights(at_size(load_graph(FLAT), (64, 64)), 0)["fc1000"]["kernel"].shape == (128, 1000)


def test_run_names_the_sizes_the_weights_fit(tmp_path):
    weights, x = tmp_path / "w.npz", tmp_path / "x.npy"
    assert runner.invoke(app, ["weights", "init", FLAT, "-o", str(weights)]).exit_code == 0
    np.save(x, np.zeros((1, 64, 64, 3), np.float32))
    line = failure("run", FLAT, "-w", weights, "--array", x)
    assert f"{weights}: layer fc1000: takes 32 inputs" in line and "from 25 to 56" in line
    np.save(x, np.zeros((1, 40, 40, 3), np.float32))  # 40 is within 25..56: runs
    assert runner.invoke(app, ["run", FLAT, "-w", str(weights), "--array", str(x)]).exit_code == 0


# --------------------------------------------------------------------------- memory and flags


@pytest.mark.parametrize("text, expected", [("4GB", 4 << 30), ("512mb", 512 << 20), ("1e9", 10**9),
                                            ("2GiB", 2 << 30), ("1.5K", 1536), (".5M", 1 << 19)])
def test_parse_memory_sizes(text, expected):
    assert parse_memory(text) == expected


@pytest.mark.parametrize("text", ["inf", "nan", "1e400", "infGB", "-1", "0", "", "4XB", "0x10", "\uff14GB",
                                  "2EB", "1e30", "0.5"])
def test_parse_memory_refuses(text):
    with pytest.raises(InspectError, match="--max-memory: must be a size"):
        parse_memory(text)


def test_weights_bytes_counted_from_the_shapes():
    graph = load_graph(TINY)
    # every array in the dtype; seed scheme 2 draws float32, so a float64 set also holds the
    # float32 draw of the largest array (fc1000's 32x1000 kernel) while it is cast
    params = sum(layer.params for layer in trace(TINY).layers)  # the engine's params rule, BN statistics included
    assert weights_bytes(graph) == 4 * params
    assert weights_bytes(graph, "float64") == 8 * params + 4 * 32 * 1000


def test_random_weights_unchanged_by_the_per_array_cast():
    graph = load_graph(TINY)
    a, b = random_weights(graph, 5), random_weights(graph, 5, "float64")
    for layer in a:
        for key in a[layer]:
            assert a[layer][key].dtype == np.float32
            np.testing.assert_array_equal(a[layer][key], b[layer][key].astype(np.float32))


def test_seed_and_repeat_bounds(tmp_path):
    assert "--seed" in failure("verify", TINY, "--seed", "-1")
    assert "--seed" in failure("weights", "init", TINY, "-o", tmp_path / "w.npz", "--seed", "-1")
    np.save(tmp_path / "x.npy", np.zeros((1, 32, 32, 3), np.float32))
    assert "at most 1000 timed passes" in failure("run", TINY, "-w", tmp_path / "none.npz", "--array",
                                                  tmp_path / "x.npy", "--repeat", "5000")


# --------------------------------------------------------------------------- arrays and images


def test_array_header_is_checked_before_data(tmp_path):
    path = tmp_path / "claims.npy"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (10**6, 10**3, 10**3, 3)})
    path.write_bytes(header.getvalue() + bytes(64))
    with pytest.raises(InspectError, match="truncated: its header claims shape"):
        load_array(path)


def test_fortran_and_big_endian_arrays_read_as_saved(tmp_path):
    x = np.random.default_rng(0).normal(size=(2, 5, 4, 3))
    np.save(tmp_path / "f.npy", np.asfortranarray(x))
    np.save(tmp_path / "b.npy", x.astype(">f8"))
    np.testing.assert_array_equal(load_array(tmp_path / "f.npy"), x.astype(np.float32))
    np.testing.assert_array_equal(load_array(tmp_path / "b.npy"), x.astype(np.float32))


def test_non_finite_input_refused_with_its_index(tmp_path):
    x = np.zeros((2, 4, 4, 3), np.float32)
    x[1, 2, 3, 0] = np.nan
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(InspectError, match=r"x.npy: array: holds 1 non-finite .* index \[1, 2, 3, 0\]"):
        load_array(tmp_path / "x.npy")


def test_16_bit_images_are_scaled_not_clipped(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    values = np.array([[0, 257 * 100, 65535, 300]], np.uint16)  # 300/257 = 1.17 -> 1
    image = Image.fromarray(values)
    assert image.mode == "I;16"
    image.save(tmp_path / "deep.png")
    rgb = decode_rgb8(tmp_path / "deep.png")
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 4, 3)
    assert rgb[0, :, 0].tolist() == [0, 100, 255, 1]  # Pillow's convert("RGB") would give [0, 255, 255, 255]


def test_postscript_never_reaches_pillow_eps(tmp_path):
    pytest.importorskip("PIL.Image")
    eps = tmp_path / "x.eps"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    with pytest.raises(InspectError, match="not a readable image of a supported format"):
        decode_rgb8(eps)


# --------------------------------------------------------------------------- outputs


def test_save_output_refuses_inputs_and_keeps_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "out.npy"
    np.save(target, np.arange(3.0))
    before = target.read_bytes()
    with pytest.raises(InspectError, match="would overwrite"):
        save_array(np.zeros(2), target, reads=(str(target),))

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", broken)
    with pytest.raises(InspectError, match="No space left on device; the old file is unchanged"):
        save_array(np.zeros(2), target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npy"]  # no temporary file left


def test_save_output_empty_and_suffix(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 32, 32, 3), np.float32))
    args = ("run", TINY, "-w", tmp_path / "none.npz", "--array", tmp_path / "x.npy", "--save-output")
    assert "empty path" in failure(*args, "")
    assert "must end in .npy" in failure(*args, tmp_path / "y.txt")


def test_check_target_refuses_fifos_and_long_names(tmp_path):
    os.mkfifo(tmp_path / "pipe.npy")
    with pytest.raises(InspectError, match="not a regular file"):
        check_target(tmp_path / "pipe.npy", suffixes=(".npy",))
    with pytest.raises(InspectError, match="cannot write"):
        check_target(tmp_path / ("o" * 300 + ".npy"), suffixes=(".npy",))
