"""Weights files in and out: one table of readers and writers by suffix, and the three steps they run in.

Native ``.npz`` (:mod:`.npz`), torchvision ``.safetensors`` (:mod:`.torchvision`), Keras' legacy
``.h5`` (:mod:`.h5`) and Keras 3's ``.weights.h5`` and ``.keras`` (:mod:`.keras3`): :data:`FORMATS`
picks the module by the file's suffix, and nothing else here knows which format a file was. Each
file is described from its headers, checked against the graph, and only then loaded
(:mod:`.base`).

Nothing is ever unpickled or executed, and nothing outside the file is read: ``.npz`` members
are parsed with NumPy's header readers (object arrays refused), safetensors' JSON header is
parsed here (the package is not needed to read), HDF5 external storage, external and soft links,
virtual datasets and unknown filters are refused. PyTorch's pickle-based ``.pt``/``.pth`` files
are refused with the line of torch that converts them. Every failure is one :class:`WeightsError`
line naming the file and the layer or array.
"""

from __future__ import annotations

from contextlib import ExitStack
from functools import partial
from pathlib import Path
from collections.abc import Mapping
from typing import Iterable, NamedTuple

from ..core.safeio import atomic_write, regular_file
from ..core.errors import unused
from ..core.usertext import visible
from ..model.graph import Graph
from ..model.keras import check_layout
from ..model.naming import BLOG, Shown
from ..model.weights import Weights
from .base import Described, Describer, Limits, Writer, check_values, check_weights, error, optional, reading, reason
from .h5 import describe_h5_any_names, save_h5
from .keras3 import describe_keras3, describe_keras_archive, save_keras3
from .npz import describe_npz, save_npz
from .torchvision import describe_safetensors, save_safetensors, torch_convert_line

PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle")


class Format(NamedTuple):
    """One weights format: what errors call a file of it, its reader and its writer (None: read only)."""

    name: str
    read: Describer
    write: Writer | None = None
    keras: bool = False  # matched by layer position, so --keras-layout applies
    needs: tuple[str, str] | None = None  # (module, extra) an optional package reads and writes it with


H5PY = ("h5py", "h5")

# by suffix, in the order errors list them; a file whose name ends in ".weights.h5" is Keras 3's
FORMATS: dict[str, Format] = {
    ".npz": Format(".npz", describe_npz, save_npz),
    ".safetensors": Format("safetensors", describe_safetensors, save_safetensors),  # as torchvision names it
    ".h5": Format("HDF5", describe_h5_any_names, save_h5, keras=True, needs=H5PY),
    ".hdf5": Format("HDF5", describe_h5_any_names, save_h5, keras=True, needs=H5PY),
    ".weights.h5": Format("HDF5", describe_keras3, save_keras3, keras=True, needs=H5PY),
    ".keras": Format("Keras archive", describe_keras_archive, keras=True, needs=H5PY),
}
# what a written file's name may end in (".weights.h5" ends in ".h5")
WRITE_SUFFIXES = tuple(suffix for suffix, f in FORMATS.items() if f.write is not None and suffix.count(".") == 1)


def suffix_of(path: Path) -> str:
    """The key of ``path`` in :data:`FORMATS`: ``.weights.h5`` for Keras 3's files, else the suffix."""
    return ".weights.h5" if path.name.lower().endswith(".weights.h5") else path.suffix.lower()


def open_weights(path: str | Path, graph: Graph, stack: ExitStack, shown: Shown = BLOG,
                 keras_layout: str | None = None) -> Described:
    """Describe a weights file (headers only) and check it fits ``graph``; its data is not read yet.

    The file stays open on ``stack`` so each entry's ``read`` can fetch its data afterwards.
    ``keras_layout`` says which Keras code saved a ``.weights.h5``/``.keras`` file (Keras 3
    stores layers by position, and the two codes order them differently: :mod:`..model.keras`).
    """
    path = _given(path)
    describe, kind = _describer(path, keras_layout)
    regular_file(path, "weights file")
    with reading(path, kind=kind):
        described = describe(path, graph, Limits.of(graph), stack)
    check_weights(described.entries, graph, path, described.aliases, described.unmapped, shown)
    return described


def load_weights(path: str | Path, graph: Graph, check_finite: bool = True, shown: Shown = BLOG,
                 keras_layout: str | None = None) -> Weights:
    """Read any supported weights file, checked against ``graph`` from its headers before any data.

    With ``check_finite`` (the default: ``run`` and ``weights check``), NaN/inf weights and
    negative BN variances are refused too (:func:`.base.check_values`). Errors name arrays as
    ``shown`` says (``--names``); ``keras_layout`` is :func:`open_weights`'.
    """
    return read_weights(path, graph, check_finite, shown, keras_layout)[0]


def read_weights(path: str | Path, graph: Graph, check_finite: bool = True, shown: Shown = BLOG,
                 keras_layout: str | None = None) -> tuple[Weights, dict[str, str]]:
    """:func:`load_weights`, and the file's metadata (our marks: e.g. ``weights init``'s seeded-weights
    mark, :class:`..model.weights.Seeded`)."""
    path = _given(path)
    with ExitStack() as stack:
        described = open_weights(path, graph, stack, shown, keras_layout)
        weights: Weights = {}
        for layer, keys in described.entries.items():
            for key, entry in keys.items():
                with reading(path, entry.name, layer):
                    weights.setdefault(layer, {})[key] = entry.read()
    if check_finite:
        check_values(weights, path, shown)
    return weights, described.metadata


def _given(path: str | Path) -> Path:
    """The path as given; an empty one is refused (``Path("")`` would be ``.``, the current folder)."""
    if str(path) == "":
        regular_file("", "weights file")
    return Path(path)


def _describer(path: Path, keras_layout: str | None = None) -> tuple[Describer, str]:
    """The reader for ``path`` with Keras' layout bound, and what errors call the format.

    Refused before the file is opened: a pickle, an unknown suffix, an unknown layout.
    """
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise error(path, f"{suffix} files are Python pickles and are never loaded (unpickling runs code); "
                          "convert the state dict to safetensors once, where torch is installed: "
                          f"{torch_convert_line(path)}")
    found = FORMATS.get(suffix_of(path))
    if found is None:
        known = list(FORMATS)
        raise error(path, f"unknown weights format {visible(suffix or '(no extension)')!r}; "
                          f"expected {', '.join(known[:-1])} or {known[-1]}")
    if keras_layout is not None:
        check_layout(keras_layout)  # an unknown one is refused before the file is opened
    if found.needs:
        optional(*found.needs, path, f"reading {found.name} files")
    return partial(found.read, layout=keras_layout), found.name


def check_layout_used(keras_layout: str | None, *paths: str | Path) -> None:
    """Refuse ``keras_layout`` when none of ``paths`` is a Keras file (the one rule for an option a
    command would not use: an error, never silently ignored; issue 17). A path of no known format
    is left to the reader's own error."""
    if keras_layout is None:
        return
    found = [FORMATS.get(suffix_of(Path(path))) for path in paths]
    if all(f is not None and not f.keras for f in found):
        keras = ", ".join(suffix for suffix, f in FORMATS.items() if f.keras)
        raise unused("keras_layout", f"applies to Keras files only ({keras}); "
                                     f"{', '.join(visible(str(p)) for p in paths)} {'is' if len(paths) == 1 else 'are'} "
                                     "matched by array name")


def summary(weights: Weights) -> tuple[int, int]:
    """(arrays, numbers) in a weights mapping, for the one line ``weights`` commands print."""
    arrays = [array for keys in weights.values() for array in keys.values()]
    return len(arrays), sum(int(array.size) for array in arrays)


def save_weights(weights: Weights, path: str | Path, graph: Graph | None = None,
                 reads: Iterable[str | Path | None] = (), keras_layout: str | None = None,
                 metadata: Mapping[str, str] | None = None) -> Path:
    """Write weights as .npz (``"layer/key"``), Keras .h5/.weights.h5 or a PyTorch state dict
    (.safetensors, torchvision's keys: the module ``export --to pytorch`` writes), chosen by the extension.

    Atomic (a temporary file beside ``path``, renamed over it when complete): a failed write
    leaves the old file as it was and no partial file. ``reads`` are the files the command reads
    (a ``convert`` source): writing onto one of them is refused before anything is written.
    ``keras_layout`` orders a Keras file's layers as that Keras code does (:mod:`..model.keras`).
    ``metadata`` (e.g. :meth:`..model.weights.Seeded.metadata`) is stored the format's own way.
    """
    layout = check_layout(keras_layout, graph)
    needs = FORMATS.get(suffix_of(Path(path)))
    if needs is not None and needs.needs:  # before the temporary file: the error names the user's file
        optional(*needs.needs, Path(path), f"writing {needs.name} files")
    with atomic_write(path, suffixes=WRITE_SUFFIXES, reads=reads, what="weights file") as temporary:
        path = Path(path)
        try:
            FORMATS[suffix_of(path)].write(weights, temporary, graph, layout, metadata)
        except (ValueError, RuntimeError, MemoryError) as exc:  # OSError: atomic_write's own message
            raise error(path, f"cannot write ({reason(exc)}); the old file is unchanged") from None
    return path
