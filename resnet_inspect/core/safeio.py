"""The guards every reader and writer of user files shares (issue 7: no leak, no hang, no lost file).

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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

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
