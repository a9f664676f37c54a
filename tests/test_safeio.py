"""The shared guards: regular files only, size before reading, atomic writes, no overwriting an input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from resnet_inspect.core.errors import InspectError
from resnet_inspect.core.safeio import atomic_write, check_suffix, read_bytes, regular_file
from resnet_inspect.core.usertext import excerpt, markup, visible


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    with pytest.raises(InspectError, match="not a regular file"):
        read_bytes(fifo, 1000)


def test_size_is_checked_before_reading(tmp_path: Path) -> None:
    sparse = tmp_path / "big.yaml"
    with open(sparse, "wb") as handle:
        handle.truncate(2 * 1024**3)  # 2 GB, sparse: reading it would take seconds and 2 GB
    with pytest.raises(InspectError, match="2,147,483,648 bytes; at most 1,000 are read"):
        read_bytes(sparse, 1000)


def test_proc_files_that_lie_about_their_size_are_bounded() -> None:
    # /proc files report size 0 but hold more; the read itself is bounded too.
    with pytest.raises(InspectError, match="holds more than 10 bytes"):
        read_bytes("/proc/self/status", 10)


def test_folders_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InspectError, match="is a folder"):
        regular_file(tmp_path)
    with pytest.raises(InspectError, match="no such file"):
        regular_file(tmp_path / "missing")
    with pytest.raises(InspectError, match="empty path"):
        regular_file("")


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "w.npz"
    target.write_bytes(b"good")
    with pytest.raises(RuntimeError):
        with atomic_write(target, suffixes=[".npz"]) as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"]


def test_a_write_replaces_only_when_complete(tmp_path: Path) -> None:
    target = tmp_path / "w.NPZ"  # suffixes are case-insensitive
    with atomic_write(target, suffixes=[".npz"]) as temporary:
        assert temporary.parent == tmp_path and temporary.name.endswith(".npz")
        temporary.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.NPZ"]


def test_writing_onto_an_input_is_refused(tmp_path: Path) -> None:
    weights = tmp_path / "weights.npz"
    weights.write_bytes(b"keep")
    os.symlink(weights, tmp_path / "link.npz")
    for output in (weights, tmp_path / "link.npz", tmp_path / "." / "weights.npz"):
        with pytest.raises(InspectError, match="would overwrite"):
            with atomic_write(output, suffixes=[".npz"], reads=[weights]):
                pass
    assert weights.read_bytes() == b"keep"


def test_suffixes() -> None:
    assert check_suffix("x.weights.H5", [".h5", ".weights.h5"]) == ".weights.h5"
    with pytest.raises(InspectError, match="must end in .npy"):
        check_suffix("out.npz", [".npy"])


def test_user_text_is_made_visible_and_markup_safe() -> None:
    assert visible("a\x1b[2Jb\x07c\u202ed") == "a\\x1b[2Jb\\x07c\\u202ed"
    assert visible("two\nlines") == "two\\x0alines" and visible("two\nlines", keep_newlines=True) == "two\nlines"
    assert markup("evil[/]") == "evil\\[/]" and markup("net[v1]") == "net\\[v1]"
    assert excerpt("x" * 100, 10) == "x" * 9 + "…"


def test_a_written_file_has_an_ordinary_mode(tmp_path: Path) -> None:
    # Regression: mkstemp's 0600 survived the rename, so weights and reports were private files.
    # A plain open() gives 0666 minus the umask; with umask 022 that is 0644.
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "w.npz", suffixes=[".npz"]) as temporary:
            temporary.write_bytes(b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "w.npz").stat().st_mode & 0o777 == 0o644
