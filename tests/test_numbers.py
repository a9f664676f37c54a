"""Issue 17: one parser for every number a user types, and formatters that take any integer.

Each rule of :mod:`resnet_inspect.core.numbers` is asserted on the parser itself (both sides: a
form refused, its plain ASCII twin accepted), then once through the CLI and the API, so a caller
that parses on its own again shows up here. Expected numbers are hand calculations, shown inline.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import resnet_inspect
from resnet_inspect import InspectError, ShapeError
from resnet_inspect.cli import app
from resnet_inspect.core import numbers
from resnet_inspect.core.text import fixed, megabytes, si
from resnet_inspect.execute.executor import format_bytes

from resnet_inspect.analysis.explain import explain
from resnet_inspect.execute.verify import verify

TINY = str(Path(__file__).resolve().parent / "data" / "tiny-run.yaml")

# Forms int() takes (or Python's str methods fold) that a user never means as the digits they show.
ODD_FORMS = ["２２４", "٢٢٤", "2_24", " 224", "224 ", "+224", "224\n", "\t224", "2 24", "²²⁴", "", "-224"]


@pytest.mark.parametrize("text", ODD_FORMS)
def test_sizes_take_ascii_digits_only(text):
    with pytest.raises(ShapeError):
        numbers.size(text)
    assert numbers.size("224") == (224, 224) and numbers.size("224x320") == (224, 320)


@pytest.mark.parametrize("text", ODD_FORMS)
def test_ranges_take_ascii_digits_only(text):
    with pytest.raises(ShapeError):
        numbers.size_range(f"{text}:225")
    with pytest.raises(ShapeError):
        numbers.size_range(f"200:{text}")
    assert list(numbers.size_range("224:225")) == [224, 225]


@pytest.mark.parametrize("text", ["３,４", "٣,٤", "3_0,4", "3, 4", " 3,4", "+3,4", "3,4\n", "3,-4", "²,3"])
def test_unit_pairs_take_ascii_digits_only(text):
    with pytest.raises(InspectError):
        numbers.index_pair(text)
    assert numbers.index_pair("3,4") == (3, 4)


@pytest.mark.parametrize("text", ["４GB", "4gıb", "4GB\n", " 4GB", "4 GB", "inf", "nan", "1e400", "4_0GB", "4ＧB"])
def test_memory_amounts_take_ascii_only(text):
    # "4gıb": str.upper() folds the dotless ı (U+0131) into I, so "4GIB" would have been read.
    with pytest.raises(InspectError):
        numbers.memory(text)
    assert numbers.memory("4gib") == 4 << 30


def test_memory_from_one_byte_to_one_exbibyte_both_included():
    assert numbers.memory("1") == 1 and numbers.memory("1B") == 1
    assert numbers.memory("1EiB") == 2**60 == numbers.memory("1024PiB") == numbers.memory(str(2**60))
    for too_big in ("1025PiB", str(2**60 + 1), "2EiB", "1e19"):  # 1e19 > 2**60 = 1.15e18
        with pytest.raises(InspectError, match="from 1 B to 1 EiB"):
            numbers.memory(too_big)
    assert numbers.memory("1.5G") == 3 << 29  # exact decimal arithmetic: 1.5 × 2**30
    assert numbers.memory("1e9") == 10**9


@pytest.mark.parametrize("digits", [19, 4300, 4301, 100_000])
def test_long_numbers_are_refused_before_int(digits):
    # Python's int() raises ValueError past 4,300 digits; the parser refuses long text first.
    text = "9" * digits
    for parse in (numbers.size, numbers.size_range, numbers.index_pair, numbers.memory):
        with pytest.raises(InspectError) as caught:
            parse(text if parse is not numbers.size_range else f"1:{text}")
        assert len(str(caught.value)) < 250 and "\n" not in str(caught.value)
    with pytest.raises(InspectError):
        numbers.count(text, "batch")


def test_values_are_bounded_and_the_error_states_the_bound():
    assert numbers.size(numbers.MAX_SIZE) == (10**6, 10**6)
    with pytest.raises(ShapeError, match="from 1 to 1,000,000 a side"):
        numbers.size(numbers.MAX_SIZE + 1)
    with pytest.raises(ShapeError, match="at most 1,000,000"):
        numbers.size_range("1:1000001")
    assert numbers.batch(1_000_000) == 1_000_000
    with pytest.raises(InspectError, match="from 1 to 1,000,000"):
        numbers.batch(1_000_001)
    with pytest.raises(InspectError, match="from 1 to 1,000,000"):
        numbers.batch(0)


def test_huge_ints_are_quoted_without_turning_them_into_text():
    # str(10**5000) itself raises ValueError (more than 4,300 digits): the error must not.
    with pytest.raises(ShapeError) as caught:
        numbers.size(10**5000)
    assert "a number of about 5,001 digits" in str(caught.value)
    with pytest.raises(InspectError, match="about 306 digits"):
        numbers.batch(10**305)


@pytest.mark.parametrize("value", [1.5, 224.0, True, False, None, "1.5", (224, 224, 3), (230.5, 224.0),
                                   (True, 224), [224], object()])
def test_sizes_are_whole_numbers_not_floats_or_bools(value):
    with pytest.raises(ShapeError):
        numbers.size(value)


def test_seeds_are_128_bit_whole_numbers():
    assert numbers.seed(0) == 0 and numbers.seed(2**128 - 1) == 2**128 - 1 and numbers.seed("42") == 42
    for bad in (-1, 2**128, 1.0, True, "４２"):
        with pytest.raises(InspectError, match="seed must be a whole number from 0 to"):
            numbers.seed(bad)


def test_ascii_names_may_be_numbers():
    assert numbers.digits("0") == 0 and numbers.digits("12") == 12
    for text in ("²", "٣", "1_0", "-1", " 1", "", "9" * 19):
        assert numbers.digits(text) is None


# --------------------------------------------------------------------------- formatters


def test_formatters_take_any_int_without_float():
    # 10**200 / 1e12 as a float would be 1e188; these are the exact digits.
    assert si(10**200) == "1" + "0" * 188 + ".00 T"
    assert si(10**200, "MACs").endswith(".00 TMACs")
    assert megabytes(10**200) == f"{10**194:,}.00 MB"
    assert format_bytes(10**200).endswith(" TiB") and "e+" not in format_bytes(10**200)
    assert si(-(10**60)).startswith("-1000000000000000000000000000000000000000000000000")


def test_small_numbers_format_as_before():
    # Below 2**53 the float path is kept byte for byte: 1,015,000 / 10**6 = 1.015 prints as 1.01
    # (the double nearest 1.015 is just under it), exactly as f"{x:.2f}" always has.
    assert si(3_857_973_248) == "3.86 G" and si(1_015_000) == "1.01 M" and si(999) == "999"
    assert megabytes(102_228_128) == "102.23 MB" and format_bytes(1 << 30) == "1.0 GiB"


def test_exact_division_rounds_halves_to_even():
    big = 2**60  # beyond 2**53: the exact path
    assert fixed(big * 1000 + 500, 1000, 0) == str(big)  # .5 -> even (2**60 is even)
    assert fixed(big * 1000 + 1500, 1000, 0) == str(big + 2)  # (big+1).5 -> big+2, even
    assert fixed(big * 100 + 1, 100, 2) == f"{big}.01"


# --------------------------------------------------------------------------- CLI and API alike


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("args", [
    ["flops", "resnet50", "--input", "２２４:２２５"],
    ["flops", "resnet50", "--input", "224:225\n"],
    ["flops", "resnet50", "--input", "+224:225"],
    ["trace", "resnet50", "--input", "9" * 5000],
    ["trace", "resnet50", "--input", str(10**200)],
    ["memory", "resnet50", "--batch", str(10**305)],
    ["memory", "resnet50", "--batch", "100000000000000"],
    ["rf", "resnet50", "--unit", "3, 4"],
    ["verify", "resnet18", "--max-memory", "4gıb"],
    ["explain", "resnet50", "a" * 100_000],
])
def test_cli_refuses_in_one_short_line(args):
    # The console script itself (click's own usage errors become one line there, not in CliRunner).
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "resnet_inspect", *args], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONPATH": os.pathsep.join(
                                [str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH", "")])})
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert len(result.stderr) < 400  # an excerpt, never the 100,000-character argument
    assert "Traceback" not in result.stderr and time.perf_counter() - started < 20


def test_cli_max_memory_takes_one_exbibyte():
    result = cli("verify", "resnet18-torchvision", "--input", "32", "--max-memory", "1EiB", "-f", "json")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("call, message", [
    (lambda: resnet_inspect.trace("resnet50", input=(230.5, 224.0)), "input must be a size like 224 or a pair"),
    (lambda: resnet_inspect.trace("resnet50", input=(224, 224, 3)), "the channels come from the spec"),
    (lambda: resnet_inspect.trace("resnet50", input=True), "input must be a size"),
    (lambda: resnet_inspect.trace_graph(resnet_inspect.load_graph("resnet50"), (224.0, 224.0)), "input must be"),
    (lambda: resnet_inspect.memory.memory_profile(resnet_inspect.trace("resnet50"), batch=1.5), "batch must be"),
    (lambda: resnet_inspect.memory.memory_profile(resnet_inspect.trace("resnet50"), batch=True), "batch must be"),
    (lambda: resnet_inspect.flops("resnet50", [224.5]), "input must be"),
    (lambda: resnet_inspect.verify.verify("resnet18-torchvision", 32, batch=2.0), "batch must be"),
    (lambda: resnet_inspect.verify.verify("resnet18-torchvision", 32, seed=1.5), "seed must be"),
    (lambda: resnet_inspect.weights.random_weights(resnet_inspect.load_graph("resnet18"), -1), "seed must be"),
    (lambda: resnet_inspect.receptive.receptive_report(resnet_inspect.trace("resnet50"), (3.5, 4)), "unit must be"),
    (lambda: resnet_inspect.receptive.receptive_report(resnet_inspect.trace("resnet50"), (True, 4)), "unit must be"),
    (lambda: resnet_inspect.weights.random_weights(resnet_inspect.load_graph("resnet18"), True), "seed must be"),
])
def test_api_validates_as_the_cli_does_and_names_no_flag(call, message):
    with pytest.raises(InspectError) as caught:
        call()
    assert message in str(caught.value)
    assert "--" not in str(caught.value)


def test_api_and_cli_say_the_same_but_for_the_flag():
    with pytest.raises(InspectError) as caught:
        resnet_inspect.memory.memory_profile(resnet_inspect.trace("resnet50"), batch=0)
    result = cli("memory", "resnet50", "--batch", "0")
    assert result.stderr == "error: " + str(caught.value).replace("batch", "--batch") + "\n"


def test_memory_of_a_huge_batch_formats_exactly():
    # 10**6 × resnet50's input 224·224·3 floats × 4 bytes = 602,112,000,000 bytes (hand calculation).
    profile = resnet_inspect.memory.memory_profile(resnet_inspect.trace("resnet50"), batch=10**6)
    assert profile.input_bytes == 10**6 * 224 * 224 * 3 * 4
    assert cli("memory", "resnet50", "--batch", "1000000").exit_code == 0


# --------------------------------------------------------------------------- the API's other arguments
# Names, paths and choices follow the numbers' rule (issue 17): checked where the argument enters,
# one InspectError naming the argument, the value quoted as an excerpt.


@pytest.mark.parametrize("value", [10**5000, -1, 230.5, (224, 224), b"float32", None],
                         ids=["10**5000", "-1", "230.5", "pair", "bytes", "None"])
def test_choices_refuse_non_text_and_quote_an_excerpt(value):
    with pytest.raises(InspectError) as caught:
        numbers.choice(value, ("float32", "float64"), "dtype")
    text = str(caught.value)
    assert text.startswith("dtype: dtype must be one of float32, float64, got ") and len(text) < 120


def test_a_choice_is_returned_as_is_and_100000_characters_are_not_echoed():
    assert numbers.choice("float64", ("float32", "float64"), "dtype") == "float64"
    with pytest.raises(InspectError) as caught:
        numbers.choice("x" * 100_000, ("float32",), "dtype")
    assert len(str(caught.value)) < 120 and "…" in str(caught.value)


def test_text_and_paths_take_str_and_pathlike_only():
    assert numbers.text("conv1", "layer") == "conv1"
    assert numbers.path(Path("w.npz"), "weights") == Path("w.npz") and numbers.path("w.npz", "weights") == "w.npz"
    for value in (10**5000, 3, 1.5, ("a",), b"w.npz", None):
        with pytest.raises(InspectError, match="^weights: weights must be a path"):
            numbers.path(value, "weights")
        with pytest.raises(InspectError, match="^layer: layer must be text"):
            numbers.text(value, "layer")


@pytest.mark.parametrize("value", [(), [], "", "224", 224, 10**5000, None],
                         ids=["()", "[]", "empty", "text", "224", "10**5000", "None"])
def test_size_lists_are_non_empty_lists_tuples_or_ranges(value):
    with pytest.raises(ShapeError, match="^sizes: sizes must be a non-empty list of sizes"):
        numbers.sizes(value, "sizes")


def test_a_range_of_sizes_stays_lazy():
    sizes = range(1, 10**12)
    assert numbers.sizes(sizes, "sizes") is sizes  # len() known, nothing made


# Through the API, where each argument enters (hand-checked: the messages the functions give).
@pytest.mark.parametrize(("call", "start"), [
    (lambda: resnet_inspect.trace(10**5000), "spec: spec must be a path"),
    (lambda: resnet_inspect.parse_spec(224), "text: text must be text"),
    (lambda: resnet_inspect.flops(TINY, inputs=224), "inputs: inputs must be a non-empty list"),
    (lambda: resnet_inspect.flops(TINY, inputs=()), "inputs: inputs must be a non-empty list"),
    (lambda: resnet_inspect.flops(TINY, convention=10**5000), "convention: convention must be one of"),
    (lambda: explain(TINY, 0), "layer: layer must be text"),
    (lambda: resnet_inspect.diagram(TINY, block=(0, 0)), "block: block must be text"),
    (lambda: verify(TINY, dtype=0), "dtype: dtype must be one of float32, float64"),
    (lambda: verify(TINY, max_memory=10**5000), "max_memory: must be a size from 1 B to 1 EiB"),
    (lambda: verify(TINY, max_memory="4gıb"), "max_memory: must be a size from 1 B to 1 EiB"),
    (lambda: resnet_inspect.run(TINY, 10**5000), "weights: weights must be a path"),
    (lambda: resnet_inspect.identify(0), "path: path must be a path"),
])
def test_the_api_refuses_bad_arguments_where_they_enter(call, start):
    """Raised by the call itself, before any result is rendered."""
    with pytest.raises(InspectError) as caught:
        call()
    assert str(caught.value).startswith(start), str(caught.value)
    assert len(str(caught.value)) < 300
