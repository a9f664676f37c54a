"""Property: any corruption of a valid weights file loads or gives the one-line error, never another exception.

Valid files (tests/weightfiles.py: .npz stored and deflated, a torchvision .safetensors, Keras
.h5 plain and gzip+shuffle+fletcher32, Keras 3 .weights.h5 plain and gzip+shuffle, and .keras
archives stored as Keras writes them and deflated) are corrupted by truncation, byte flips, random slices,
edits inside the headers (zip records, the .npy/JSON headers, HDF5's superblock and object
headers), insertions and deletions, and read through the library (``load_weights``, in process
for speed). Each outcome must be the weights or one :class:`InspectError` line naming the file,
within a time bound; the run records the worst time and how far the process's peak RSS grew.
The default run tries a few hundred; ``pytest -m slow`` (run by CI) tries 10,000.
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import weightfiles as wf
from resnet_inspect import InspectError
from resnet_inspect.io.weightfiles import load_weights

pytest.importorskip("h5py")
pytestmark = pytest.mark.filterwarnings("error")  # a warning would be a second line on stderr

FILES = wf.valid_files()
RELAXED = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CASE_SECONDS = 5.0  # per load, on a loaded 2-core machine; a good one takes milliseconds
FOLDER = Path(tempfile.mkdtemp(prefix="weights-fuzz-"))
STATS = {"cases": 0, "loaded": 0, "refused": 0, "worst_s": 0.0, "rss_before_kb": 0, "rss_after_kb": 0}


def header_span(name: str, data: bytes) -> tuple[int, int]:
    """Where a format keeps its headers, so edits aim there as well as anywhere."""
    if name.endswith(".safetensors"):
        return 0, 8 + int.from_bytes(data[:8], "little")
    if name.endswith(".h5"):
        return 0, min(len(data), 4096)  # superblock, root group and its attributes
    return max(0, data.rfind(b"PK\x01\x02") - 64), len(data)  # the zip directory and end record (+ a member's tail)


@st.composite
def corruptions(draw: st.DrawFn, names: tuple[str, ...]) -> tuple[str, bytes, str]:
    name = draw(st.sampled_from(names))
    data = bytearray(FILES[name])
    kind = draw(st.sampled_from(["truncate", "flip", "slice", "header", "insert", "delete", "length"]))
    size = len(data)
    low, high = header_span(name, bytes(data)) if kind in ("header", "length") else (0, size)
    if kind == "truncate":
        data = data[: draw(st.integers(0, size - 1))]
    elif kind in ("flip", "header"):
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(low, max(low, high - 1)))
            data[at] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, data[at] ^ 0xFF, data[at] ^ 1]))
    elif kind == "slice":
        at = draw(st.integers(0, size - 1))
        patch = draw(st.binary(min_size=1, max_size=64))
        data[at:at + len(patch)] = patch
    elif kind == "insert":
        at = draw(st.integers(0, size))
        data[at:at] = draw(st.binary(min_size=1, max_size=64))
    elif kind == "delete":
        at = draw(st.integers(0, size - 1))
        del data[at:at + draw(st.integers(1, 4096))]
    else:  # a length or count field set to something huge or zero
        at = draw(st.integers(low, max(low, high - 8)))
        data[at:at + 8] = draw(st.sampled_from([b"\xff" * 8, b"\x00" * 8, b"\xff\xff\xff\x7f\x00\x00\x00\x00",
                                                (10**12).to_bytes(8, "little")]))
    return name, bytes(data), kind


def outcome(name: str, data: bytes) -> str:
    """Load the corrupted file: the weights, or one InspectError line naming it; nothing else."""
    path = FOLDER / name
    path.write_bytes(data)
    graph = wf.GRAPH_TORCHVISION if name.endswith(".safetensors") else wf.GRAPH
    start = time.perf_counter()
    try:
        load_weights(path, graph)
        result = "loaded"
    except InspectError as exc:
        text = str(exc)
        assert "\n" not in text and text.startswith(str(path)), text
        result = "refused"
    seconds = time.perf_counter() - start
    assert seconds < CASE_SECONDS, f"{name} took {seconds:.1f} s"
    STATS["cases"] += 1
    STATS[result] += 1
    STATS["worst_s"] = max(STATS["worst_s"], seconds)
    return result


NPZ, SAFETENSORS, H5 = ("w.npz", "z.npz"), ("w.safetensors",), ("w.h5", "z.h5")
KERAS3, KERAS = ("w.weights.h5", "z.weights.h5"), ("m.keras", "z.keras")  # issue 17
FORMATS = [NPZ, SAFETENSORS, H5, KERAS3, KERAS]
FORMAT_IDS = ["npz", "safetensors", "h5", "weights.h5", "keras"]


@pytest.mark.parametrize("names", FORMATS, ids=FORMAT_IDS)
def test_corrupted_weights_files_load_or_give_one_line(names: tuple[str, ...]) -> None:
    @settings(max_examples=100, **RELAXED)
    @given(corruptions(names))
    def run(case: tuple[str, bytes, str]) -> None:
        outcome(case[0], case[1])

    run()


def test_every_uncorrupted_file_loads() -> None:
    """The fuzz starts from files that load (a refused seed would make every case a refusal)."""
    assert {name: outcome(name, data) for name, data in FILES.items()} == dict.fromkeys(FILES, "loaded")


def test_the_corruptions_reach_both_outcomes() -> None:
    """Guard against a vacuous property: some corrupted files still load, most are refused."""
    seen: set[str] = set()

    @settings(max_examples=150, **RELAXED)
    @given(corruptions(NPZ + SAFETENSORS + H5 + KERAS3 + KERAS))
    def collect(case: tuple[str, bytes, str]) -> None:
        seen.add(outcome(case[0], case[1]))

    collect()
    assert seen == {"loaded", "refused"}


@pytest.mark.slow
@pytest.mark.parametrize("names", FORMATS, ids=FORMAT_IDS)
def test_two_thousand_corruptions_per_format(names: tuple[str, ...], capsys: pytest.CaptureFixture) -> None:
    STATS["rss_before_kb"] = STATS["rss_before_kb"] or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    before = STATS["cases"]

    @settings(max_examples=2_000, **RELAXED)
    @given(corruptions(names))
    def run(case: tuple[str, bytes, str]) -> None:
        outcome(case[0], case[1])

    run()
    STATS["rss_after_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert STATS["cases"] - before >= 2_000
    with capsys.disabled():
        print(f"\n{'/'.join(names)}: {STATS['cases'] - before} corruptions; so far {STATS['cases']} cases, "
              f"{STATS['loaded']} loaded, {STATS['refused']} refused, 0 other exceptions; worst "
              f"{STATS['worst_s'] * 1000:.0f} ms per load; process peak RSS {STATS['rss_before_kb'] / 1024:.0f} -> "
              f"{STATS['rss_after_kb'] / 1024:.0f} MB")
