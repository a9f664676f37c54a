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


# --------------------------------------------------------------------------- zip archives (issue 17)

def _zip(tmp_path: Path, members: dict[str, bytes], compression: int = 0, name: str = "a.zip") -> Path:
    import zipfile

    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compression) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


def test_the_end_record_is_read_before_zipfile_parses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zipfile

    import weightfiles as wf

    from resnet_inspect.core.safeio import open_zip, zip_directory

    path = tmp_path / "many.zip"
    path.write_bytes(wf.many_members_zip(70_000))  # past 65,535: the counts live in the zip64 record
    # 70,000 records of 46 + 8 bytes (the zip format's fixed record size plus the name): by hand
    found = zip_directory(path)
    assert (found.members, found.size) == (70_000, 70_000 * 54)
    monkeypatch.setattr(zipfile, "ZipFile", lambda *a, **k: pytest.fail("zipfile parsed the directory"))
    with pytest.raises(InspectError, match="lists 70,000 members; a zip archive holds at most 64"):
        open_zip(path, 64)
    with pytest.raises(InspectError, match="its zip directory is 3,780,000 bytes; a zip archive needs at most 1,000"):
        open_zip(path, 100_000, max_directory_bytes=1000)


def test_member_names_compression_sizes_and_ratio_are_checked(tmp_path: Path) -> None:
    import zipfile

    from resnet_inspect.core.safeio import open_zip

    with pytest.raises(InspectError, match="'../x' leaves the archive's folder"):
        open_zip(_zip(tmp_path, {"../x": b"1"}), 8)
    with pytest.raises(InspectError, match="uses zip compression 12"):
        open_zip(_zip(tmp_path, {"x": b"1"}, zipfile.ZIP_BZIP2, "b.zip"), 8)
    with pytest.raises(InspectError, match="'x' declares 100 bytes; at most 99 are read"):
        open_zip(_zip(tmp_path, {"x": bytes(100)}, name="s.zip"), 8, 99)
    # 2 MiB of zeros deflate to ~2 KB (zlib): ~1,000:1, over the 100:1 bound; stored, 1:1 passes
    with pytest.raises(InspectError, match=r"'x' declares 2,097,152 bytes from [0-9,]+ stored, over 100:1"):
        open_zip(_zip(tmp_path, {"x": bytes(2 << 20)}, zipfile.ZIP_DEFLATED, "d.zip"), 8)
    open_zip(_zip(tmp_path, {"x": bytes(2 << 20)}, name="t.zip"), 8).close()
    # a small member is not held to the ratio (JSON and tiny HDF5 files compress well)
    open_zip(_zip(tmp_path, {"x": bytes(1000)}, zipfile.ZIP_DEFLATED, "small.zip"), 8).close()


def test_read_member_is_capped_and_checks_the_declared_size(tmp_path: Path) -> None:
    import zlib

    import weightfiles as wf

    from resnet_inspect.core.safeio import open_zip, read_member

    archive = open_zip(_zip(tmp_path, {"x": b"abc" * 1000}), 8)
    assert read_member(archive, archive.getinfo("x"), 3000, "a.zip").read() == b"abc" * 1000
    with pytest.raises(InspectError, match="'x' declares 3,000 bytes; at most 2,999 are read"):
        read_member(archive, archive.getinfo("x"), 2999, "a.zip")
    # a member declaring 10 bytes whose stream holds 1 MiB: inflated no further than the 10 declared
    lying = tmp_path / "lie.zip"
    lying.write_bytes(wf.raw_zip({"x": (8, wf.deflate_bomb(b"", 1), zlib.crc32(bytes(10)), 10)}))
    archive = open_zip(lying, 8)
    assert read_member(archive, archive.getinfo("x"), 100, "lie.zip").read() == bytes(10)


def test_a_damaged_directory_is_one_error_naming_the_file(tmp_path: Path) -> None:
    import weightfiles as wf
    from resnet_inspect.core.safeio import open_zip

    data = bytearray(wf.many_members_zip(3))
    data[0:4] = b"XXXX"  # the first central directory record's signature
    (tmp_path / "bad.zip").write_bytes(bytes(data))
    with pytest.raises(InspectError, match=r"bad.zip: not a readable zip archive: Bad magic number"):
        open_zip(tmp_path / "bad.zip", 8)
