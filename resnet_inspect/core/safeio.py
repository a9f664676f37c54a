"""The guards every reader and writer of user files shares (issue 7: no leak, no hang, no lost file).

Zip archives (``.keras``, and any zip-based import) go through :func:`open_zip`, which sizes the
central directory from the end records before ``zipfile`` parses it, and :func:`read_member`,
which inflates one member with a hard cap (``.npz`` reads its end record with :func:`zip_directory`
and streams its members itself).

Readers: a path must be a regular file (not a folder, FIFO or device, which would block or never
end) and its size is checked *before* anything is read, then the read itself is bounded too
(``/proc`` files and growing files report a size they do not keep to). Writers: the suffix is
checked, the output may not be a file the same command reads, and the new file is written beside
the target under a temporary name and renamed over it only when complete, so a failed write
(full disk, a crash, a bad array) leaves the old file intact and no partial file behind.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    import zipfile

from .errors import InspectError, Location

MiB = 1 << 20


def _where(path: str | os.PathLike[str]) -> Location:
    from .usertext import visible

    return Location(visible(str(path)))


def regular_file(path: str | os.PathLike[str], what: str = "file") -> os.stat_result:
    """``stat`` a path that must be an existing regular file (symlinks followed, as asked)."""
    if str(path) == "":
        raise InspectError(f"empty path given for the {what}", where=Location("''"))
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InspectError(f"no such {what}", where=_where(path)) from None
    except OSError as exc:
        raise InspectError(f"cannot open the {what}: {exc.strerror}", where=_where(path)) from None
    if stat.S_ISDIR(info.st_mode):
        raise InspectError(f"is a folder, not a {what}", where=_where(path))
    if not stat.S_ISREG(info.st_mode):
        raise InspectError(f"is not a regular file (a FIFO, socket or device); a {what} must be a file",
                           where=_where(path))
    return info


def read_bytes(path: str | os.PathLike[str], limit: int, what: str = "file") -> bytes:
    """The whole file, refused from its size (before reading) when larger than ``limit`` bytes."""
    info = regular_file(path, what)
    if info.st_size > limit:
        raise InspectError(f"{what} is {info.st_size:,} bytes; at most {limit:,} are read", where=_where(path))
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InspectError(f"cannot read the {what}: {exc.strerror}", where=_where(path)) from None
    if len(data) > limit:
        raise InspectError(f"{what} holds more than {limit:,} bytes", where=_where(path))
    return data


def check_suffix(path: str | os.PathLike[str], suffixes: Iterable[str], what: str = "output") -> str:
    """The path's suffix, lower-cased, when it is one of ``suffixes`` (e.g. ``.npz``, ``.weights.h5``)."""
    text = str(path)
    if text == "":
        raise InspectError(f"empty path given for the {what}", where=Location("''"))
    lower = text.lower()
    allowed = sorted(suffixes, key=len, reverse=True)
    for suffix in allowed:
        if lower.endswith(suffix.lower()):
            return suffix.lower()
    raise InspectError(f"the {what} must end in {', '.join(sorted(suffixes))}", where=_where(path))


def _same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def check_target(path: str | os.PathLike[str], *, suffixes: Iterable[str] | None = None,
                 reads: Iterable[str | os.PathLike[str] | None] = (), what: str = "output") -> str:
    """Everything :func:`atomic_write` refuses, checked without writing (so a command can refuse a
    bad output before a long run): an empty path, a wrong suffix, a file the command reads, a
    folder, or an existing non-regular file (renaming over ``/dev/null`` as root would replace it).
    Returns the suffix the temporary file keeps."""
    if str(path) == "":
        raise InspectError(f"empty path given for the {what}", where=Location("''"))
    if suffixes is not None:
        suffix = check_suffix(path, suffixes, what)
    else:
        suffix = "".join(Path(str(path)).suffixes[-1:])
    for source in reads:
        if source is not None and str(source) != "" and _same_file(path, source):
            raise InspectError(f"the {what} would overwrite {_where(source)}, which this command reads",
                               where=_where(path))
    try:
        info = os.stat(path)  # a symlink's target: a link to a folder or device is refused too
    except FileNotFoundError:
        return suffix  # a new file (or a dangling link, which the rename replaces)
    except OSError as exc:  # a name too long, a loop of links, a file as a folder
        raise InspectError(f"cannot write the {what}: {exc.strerror}", where=_where(path)) from None
    if stat.S_ISDIR(info.st_mode):
        raise InspectError(f"is a folder; the {what} must be a file", where=_where(path))
    if not stat.S_ISREG(info.st_mode):
        raise InspectError(f"is not a regular file (a FIFO, socket or device); the {what} must be a file",
                           where=_where(path))
    return suffix


@contextmanager
def atomic_write(path: str | os.PathLike[str], *, suffixes: Iterable[str] | None = None,
                 reads: Iterable[str | os.PathLike[str] | None] = (), what: str = "output") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block succeeds.

    The temporary name keeps the target's suffix (``np.savez`` appends ``.npz`` otherwise). On any
    failure it is removed and the old file stays as it was. ``reads`` are the files the command
    reads: writing onto one of them is refused before anything is written.
    """
    suffix = check_target(path, suffixes=suffixes, reads=reads, what=what)
    target = Path(path)
    folder = target.parent
    import tempfile  # only a write needs it, not every command

    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=f".tmp{suffix}")
    except OSError as exc:
        raise InspectError(f"cannot write the {what}: {exc.strerror}", where=_where(path)) from None
    os.close(handle)
    temporary = Path(name)
    os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; the output is an ordinary file
    try:
        yield temporary
        os.replace(temporary, target)
    except OSError as exc:
        raise InspectError(f"cannot write the {what}: {exc.strerror}; the old file is unchanged",
                           where=_where(path)) from None
    finally:
        if temporary.exists():
            temporary.unlink()


def check_new(path: str | os.PathLike[str], *, suffixes: Iterable[str] | None = None, what: str = "output") -> str:
    """:func:`check_target` for a file that must not exist yet (``new`` never overwrites)."""
    suffix = check_target(path, suffixes=suffixes, what=what)
    if os.path.lexists(path):
        raise InspectError("already exists; choose another -o or remove it", where=_where(path))
    return suffix


def missing_folders(path: str | os.PathLike[str]) -> list[Path]:
    """The folders above ``path`` that do not exist yet, outermost first (what a write would make)."""
    missing = []
    for folder in Path(path).parents:
        if os.path.lexists(folder):
            break
        missing.append(folder)
    return missing[::-1]


def write_texts(files: Iterable[tuple[str | os.PathLike[str], str, str]]) -> None:
    """Write several text files (path, text, what) as one step: all of them, or nothing new on disk.

    Every target is checked before anything is made; missing folders are made only then, each file
    goes through :func:`atomic_write`, and when one write fails, the files this call wrote and the
    folders it made are removed again (issue 17: ``new`` left its schema behind, and ``-o sub/x``
    made ``sub/`` before failing). Any ``OSError`` becomes one line naming the path.
    """
    files = list(files)
    for path, _, what in files:
        check_target(path, what=what)
    made: list[Path] = []
    written: list[Path] = []
    try:
        for path, text, what in files:
            for folder in missing_folders(path):
                try:
                    folder.mkdir()
                except OSError as exc:
                    raise InspectError(f"cannot make the folder for the {what}: {exc.strerror}",
                                       where=_where(folder)) from None
                made.append(folder)
            with atomic_write(path, what=what) as temporary:
                temporary.write_text(text, encoding="utf-8")
            written.append(Path(path))
    except BaseException:
        for done in written:
            done.unlink(missing_ok=True)
        for folder in reversed(made):
            try:
                folder.rmdir()
            except OSError:
                pass  # something else wrote into it meanwhile: not ours to remove
        raise


def _umask() -> int:
    """The process's umask (read by setting and restoring it: there is no getter)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --------------------------------------------------------------------------- zip archives

ZIP_END = struct.Struct("<4s4H2IH")  # end of central directory record (22 bytes)
ZIP64_LOCATOR = struct.Struct("<4sIQI")  # zip64 end-record locator (20 bytes), just before ZIP_END
ZIP64_END = struct.Struct("<4sQ2H2I4Q")  # zip64 end record (56 bytes), just before the locator
ZIP_RECORD = 46  # the fixed part of one central directory record: no member costs fewer bytes
MAX_RATIO = 100  # inflated : stored bytes; deflate reaches ~1,030:1 on zeros, real weights ~1.1:1
RATIO_FLOOR = MiB  # members smaller than this are not held to MAX_RATIO (JSON, tiny HDF5 files)


@dataclass(frozen=True)
class ZipDirectory:
    """What a zip's end records say about its central directory, read before ``zipfile`` parses it."""

    members: int  # the larger of the two member counts the end record states
    size: int  # bytes of central directory ``zipfile`` will read and parse into ZipInfo objects


def zip_directory(path: str | os.PathLike[str], what: str = "zip archive") -> ZipDirectory:
    """The member count and directory size from the end records alone, read exactly where
    ``zipfile`` reads them: the last end record in the file's final 64 KiB + 22 bytes, and the
    zip64 locator and record just before it (which override it, as in ``zipfile``)."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - (ZIP_END.size + 65535)))
            tail = handle.read()
            end = len(tail) - ZIP_END.size if tail[-ZIP_END.size:-18] == b"PK\x05\x06" else tail.rfind(b"PK\x05\x06")
            if end < 0 or len(tail) - end < ZIP_END.size:
                raise InspectError(f"not a readable {what} (no zip end record)", where=_where(path))
            _, _, _, on_disk, total, directory, _, _ = ZIP_END.unpack_from(tail, end)
            found = ZipDirectory(max(on_disk, total), directory)
            return _zip64(handle, size - (len(tail) - end), found)
    except OSError as exc:
        raise InspectError(f"cannot read the {what}: {exc.strerror}", where=_where(path)) from None


def _zip64(handle: IO[bytes], end: int, found: ZipDirectory) -> ZipDirectory:
    """The zip64 end record's counts, when a locator sits just before the end record at ``end``."""
    start = end - ZIP64_LOCATOR.size - ZIP64_END.size
    if start < 0:
        return found
    handle.seek(start)
    data = handle.read(ZIP64_END.size + ZIP64_LOCATOR.size)
    if data[ZIP64_END.size:ZIP64_END.size + 4] != b"PK\x06\x07" or data[:4] != b"PK\x06\x06":
        return found
    fields = ZIP64_END.unpack_from(data)
    return ZipDirectory(max(fields[6], fields[7]), fields[8])


def open_zip(path: str | os.PathLike[str], max_members: int, max_member_bytes: int | None = None, *,
             max_directory_bytes: int | None = None, max_ratio: int | None = MAX_RATIO,
             what: str = "zip archive", names: bool = True) -> zipfile.ZipFile:
    """A ``zipfile.ZipFile`` of an untrusted archive, opened only once its headers are within bounds.

    Before ``zipfile`` parses anything: the end records' member count (at most ``max_members``)
    and central directory size (at most ``max_directory_bytes``, by default 4 KiB a member), so a
    directory of a million members is refused from 22 bytes instead of parsed into ~600 MB of
    ``ZipInfo`` objects. Then, from the parsed directory: the real member count, member names that
    would leave a folder (absolute, ``..``, backslashes, drive letters; skipped with
    ``names=False``), compression other than stored or deflated (``zipfile`` inflates bzip2 and
    LZMA without a bound), a declared size over ``max_member_bytes``, and an inflated:stored ratio
    over ``max_ratio`` for members over 1 MiB (a decompression bomb). Errors name the file; the
    caller's stack must close the archive. Read members with :func:`read_member`.
    """
    import zipfile

    regular_file(path, what)
    limit = max_directory_bytes if max_directory_bytes is not None else 4096 * max_members + 65536
    directory = zip_directory(path, what)
    if directory.members > max_members:
        raise InspectError(f"lists {directory.members:,} members; a {what} holds at most {max_members:,}",
                           where=_where(path))
    if directory.size > limit:
        raise InspectError(f"its zip directory is {directory.size:,} bytes; a {what} needs at most {limit:,}",
                           where=_where(path))
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        from .usertext import excerpt

        raise InspectError(f"not a readable {what}: {excerpt(str(exc) or type(exc).__name__, 160)}",
                           where=_where(path)) from None
    try:
        _check_members(archive, path, max_members, max_member_bytes, max_ratio, what, names)
    except BaseException:
        archive.close()
        raise
    return archive


def _check_members(archive: zipfile.ZipFile, path: str | os.PathLike[str], max_members: int,
                   max_member_bytes: int | None, max_ratio: int | None, what: str, names: bool) -> None:
    import zipfile

    from .usertext import excerpt

    members = archive.infolist()
    if len(members) > max_members:
        raise InspectError(f"lists {len(members):,} members; a {what} holds at most {max_members:,}",
                           where=_where(path))
    for info in members:
        shown = excerpt(info.filename, 80)
        if names and _leaves_folder(info.filename):
            raise InspectError(f"member name {shown!r} leaves the archive's folder; refused", where=_where(path))
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise InspectError(f"member {shown!r} uses zip compression {info.compress_type}; only stored and "
                               "deflated members are read", where=_where(path))
        if max_member_bytes is not None and info.file_size > max_member_bytes:
            raise InspectError(f"member {shown!r} declares {info.file_size:,} bytes; at most {max_member_bytes:,} "
                               "are read (a decompression bomb?)", where=_where(path))
        if max_ratio is not None and info.file_size > RATIO_FLOOR and info.file_size > max_ratio * info.compress_size:
            raise InspectError(f"member {shown!r} declares {info.file_size:,} bytes from {info.compress_size:,} "
                               f"stored, over {max_ratio}:1 (a decompression bomb)", where=_where(path))


def _leaves_folder(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or "\\" in name or ".." in parts or ":" in parts[0]


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, path: str | os.PathLike[str],
                what: str = "zip archive") -> IO[bytes]:
    """One member inflated into memory, 1 MiB at a time, never past ``limit`` bytes nor past its
    declared size; a member holding less than it declares, or failing its CRC, is refused.

    Returns an in-memory file (``io.BytesIO``) grown in place, so the data is held once (reading
    it whole with ``ZipExtFile.read()`` holds it twice: the chunks and their join).
    """
    import io

    from .usertext import excerpt

    shown = excerpt(info.filename, 80)
    if info.file_size > limit:
        raise InspectError(f"member {shown!r} declares {info.file_size:,} bytes; at most {limit:,} are read",
                           where=_where(path))
    out = io.BytesIO()
    with archive.open(info) as member:
        while chunk := member.read(min(MiB, limit + 1 - out.tell())):
            out.write(chunk)
            if out.tell() > limit:
                raise InspectError(f"member {shown!r} inflates past {limit:,} bytes", where=_where(path))
    if out.tell() != info.file_size:
        raise InspectError(f"member {shown!r} holds {out.tell():,} bytes, its header says {info.file_size:,}",
                           where=_where(path))
    out.seek(0)
    return out
