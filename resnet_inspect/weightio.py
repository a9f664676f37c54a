"""Weights files in and out: native .npz, torchvision .safetensors, Keras .h5.

Every reader returns the one form :mod:`resnet_inspect.weights` defines (``{layer: {key: array}}``,
Keras names and layouts), and :func:`load_weights` checks it against the graph before anything
runs, so a file that does not fit fails with one line naming every missing, extra and misshapen
array instead of a broadcasting error deep in the forward pass.

Nothing is ever unpickled: ``.npz`` is read with ``allow_pickle=False`` (object arrays are
refused), safetensors and HDF5 hold raw numbers only, and PyTorch's pickle-based ``.pt``/``.pth``
files are refused with the line of torch that converts them. h5py and safetensors are optional
extras, imported only when such a file is read or written.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .errors import InspectError, Location
from .graph import Graph
from .weights import Weights, torchvision_names, weight_shapes

if TYPE_CHECKING:
    import numpy as np

SHOWN = 8  # entries shown per list in a mismatch error; the rest are counted
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle")
TORCH_TO_KERAS = {  # torchvision parameter name -> Keras key, per op kind
    "conv": {"weight": "kernel", "bias": "bias"},
    "batch_norm": {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean",
                   "running_var": "moving_variance"},
    "dense": {"weight": "kernel", "bias": "bias"},
}
TORCH_IGNORED = ("num_batches_tracked",)  # a training counter, not a weight


class WeightsError(InspectError):
    """A weights file that cannot be read, is refused, or does not fit the spec."""


def _error(path: Path | str | None, message: str, layer: str | None = None) -> WeightsError:
    return WeightsError(message, where=None if path is None else Location(str(path)), layer=layer)


# --------------------------------------------------------------------------- checking


@dataclass
class Mismatch:
    """How a weights mapping differs from what the graph needs, by ``layer/key``."""

    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    shapes: list[str] = field(default_factory=list)  # "name: expected (..) found (..)"
    dtypes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.missing or self.extra or self.shapes or self.dtypes)

    def describe(self) -> str:
        parts = []
        for label, items in (("missing", self.missing), ("extra", self.extra),
                             ("shapes differ", self.shapes), ("not floating point", self.dtypes)):
            if items:
                shown = ", ".join(items[:SHOWN])
                more = f", … and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
                parts.append(f"{len(items)} {label}: {shown}{more}")
        return "; ".join(parts)


def compare(weights: Weights, graph: Graph, aliases: dict[str, str] | None = None,
            unmapped: list[str] | None = None) -> Mismatch:
    """Every difference between ``weights`` and what ``graph`` needs.

    ``aliases`` gives a file's own name for ours (shown beside it); ``unmapped`` lists file entries
    that have no name of ours at all (reported as extra under their own name).
    """
    aliases = aliases or {}
    expected = weight_shapes(graph)
    result = Mismatch()
    for layer, keys in expected.items():
        for key, shape in keys.items():
            name = f"{layer}/{key}"
            array = weights.get(layer, {}).get(key)
            if array is None:
                result.missing.append(_alias(name, aliases))
            elif array.dtype.kind != "f":
                result.dtypes.append(f"{_alias(name, aliases)} is {array.dtype}")
            elif tuple(array.shape) != shape:
                result.shapes.append(f"{_alias(name, aliases)} expected {_shape(shape)} found {_shape(array.shape)}")
    for layer, keys in weights.items():
        for key in keys:
            if key not in expected.get(layer, {}):
                result.extra.append(_alias(f"{layer}/{key}" if layer else key, aliases))  # "kernel": no layer
    result.extra.extend(unmapped or [])
    return result


def _alias(name: str, aliases: dict[str, str]) -> str:
    return f"{name} ({aliases[name]})" if name in aliases else name


def _shape(shape: tuple[int, ...]) -> str:
    return str(tuple(int(d) for d in shape))  # Python's spelling: (64,) and (1, 1, 64, 64)


def check_weights(weights: Weights, graph: Graph, path: Path | str | None = None,
                  aliases: dict[str, str] | None = None, unmapped: list[str] | None = None) -> None:
    """Raise one :class:`WeightsError` listing every way ``weights`` does not fit ``graph``."""
    mismatch = compare(weights, graph, aliases, unmapped)
    if mismatch:
        entries = mismatch.missing + mismatch.extra + mismatch.shapes + mismatch.dtypes
        layers = {entry.split("/")[0] for entry in entries}
        raise _error(path, f"weights do not fit spec {graph.spec.name}: {mismatch.describe()}",
                     layer=layers.pop() if len(layers) == 1 else None)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Loaded:
    """What a reader found: the weights in Keras form, and file names that differ from ours."""

    weights: Weights
    aliases: dict[str, str] = field(default_factory=dict)  # "layer/key" -> the file's name for it
    unmapped: list[str] = field(default_factory=list)  # file entries with no layer of ours


def load_weights(path: str | Path, graph: Graph) -> Weights:
    """Read any supported weights file and check it fits ``graph``; raise a one-line error if not."""
    path = Path(path)
    reader = _reader(path)
    if not path.is_file():
        raise _error(path, "no such weights file")
    loaded = reader(path, graph)
    check_weights(loaded.weights, graph, path, loaded.aliases, loaded.unmapped)
    return loaded.weights


def _reader(path: Path) -> Callable[[Path, Graph], Loaded]:
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise _error(path, f"{suffix} files are Python pickles and are never loaded (unpickling runs code); "
                           "convert the state dict to safetensors once, where torch is installed: "
                           f"{torch_convert_line(path)}")
    readers = {".npz": read_npz, ".safetensors": read_safetensors, ".h5": read_h5, ".hdf5": read_h5}
    if suffix not in readers:
        raise _error(path, f"unknown weights format {suffix or '(no extension)'!r}; "
                           "expected .npz, .safetensors, .h5 or .hdf5")
    return readers[suffix]


def torch_convert_line(path: Path) -> str:
    """The one shell line that turns a torch state dict into safetensors (weights_only: no code runs)."""
    target = path.with_suffix(".safetensors").name
    return (f"python -c \"import torch; from safetensors.torch import save_file; "
            f"save_file(torch.load('{path.name}', weights_only=True), '{target}')\"")


def read_npz(path: Path, graph: Graph | None = None) -> Loaded:
    """Native ``"layer/key"`` arrays; ``allow_pickle=False`` so an object array is an error, not code."""
    import numpy as np

    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise _error(path, f"not a readable .npz file ({_reason(exc)})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise _error(path, "holds a single array, not a .npz archive of \"layer/key\" arrays")
    weights: Weights = {}
    with archive:
        for name in archive.files:
            layer, _, key = name.rpartition("/")
            try:
                weights.setdefault(layer, {})[key] = archive[name]
            except ValueError as exc:  # numpy refuses object arrays when allow_pickle=False
                raise _error(path, f"array {name!r} cannot be read without unpickling ({_reason(exc)}); "
                                   "weights must be plain numeric arrays", layer=layer or None) from None
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                raise _error(path, f"array {name!r} is corrupt ({_reason(exc)})", layer=layer or None) from None
    return Loaded(weights)


def read_safetensors(path: Path, graph: Graph) -> Loaded:
    """A torchvision state dict: module paths -> the blog's names, OIHW -> HWIO, (out,in) -> (in,out)."""
    safetensors_numpy = _optional("safetensors.numpy", "safetensors", path)
    try:
        tensors = safetensors_numpy.load_file(str(path))
    except Exception as exc:  # safetensors raises its own SafetensorError for any malformed header
        raise _error(path, f"not a readable safetensors file ({_reason(exc)})") from None
    return from_torchvision(tensors, graph)


def from_torchvision(state: dict[str, np.ndarray], graph: Graph) -> Loaded:
    """Map a torchvision state dict onto the blog's names; consumes ``state`` to keep one copy alive."""
    import numpy as np

    module_of = torchvision_names(graph)
    blog_of = {torch: blog for blog, torch in module_of.items()}
    kinds = {layer.name: layer.op.kind for layer in graph}
    weights: Weights = {}
    unmapped: list[str] = []
    for name in list(state):
        array = state.pop(name)
        module, _, param = name.rpartition(".")
        layer = blog_of.get(module)
        key = TORCH_TO_KERAS.get(kinds.get(layer or "", ""), {}).get(param)
        if param in TORCH_IGNORED:
            continue
        if layer is None or key is None:
            unmapped.append(name)
            continue
        if key == "kernel" and array.ndim in (2, 4):  # OIHW -> HWIO, (out, in) -> (in, out)
            array = np.ascontiguousarray(array.transpose((2, 3, 1, 0) if array.ndim == 4 else (1, 0)))
        weights.setdefault(layer, {})[key] = array
    aliases = {f"{blog}/{key}": f"{module_of[blog]}.{param}"
               for blog in module_of for param, key in TORCH_TO_KERAS[kinds[blog]].items()}
    return Loaded(weights, aliases, unmapped)


def read_h5(path: Path, graph: Graph | None = None) -> Loaded:
    """The layout Keras 2's ``save_weights`` writes: ``layer_names``, then per layer ``weight_names``.

    A whole-model file (``model.save``) keeps the same layout under ``model_weights``.
    """
    h5py = _optional("h5py", "h5", path)
    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            return Loaded(_read_h5_layers(root, path))
    except OSError as exc:
        raise _error(path, f"not a readable HDF5 file ({_reason(exc)})") from None


def _read_h5_layers(root: Any, path: Path) -> Weights:
    import numpy as np

    if "layer_names" not in root.attrs and "layer_names0" not in root.attrs:
        raise _error(path, "no 'layer_names' attribute: not a Keras weights file")
    weights: Weights = {}
    for layer in _h5_attr_names(root, "layer_names"):
        if layer not in root:
            raise _error(path, f"'layer_names' lists {layer!r} but the file has no such group", layer=layer)
        group = root[layer]
        for weight_name in _h5_attr_names(group, "weight_names"):
            if weight_name not in group:
                raise _error(path, f"weight {weight_name!r} listed but not stored", layer=layer)
            dataset = group[weight_name]
            if dataset.dtype.kind not in "fiu":
                raise _error(path, f"weight {weight_name!r} has dtype {dataset.dtype}, not numbers", layer=layer)
            key = weight_name.rpartition("/")[2].partition(":")[0]  # "res2a_branch2a/kernel:0" -> "kernel"
            weights.setdefault(layer, {})[key] = np.asarray(dataset[()])
    return weights


def _h5_attr_names(group: Any, name: str) -> list[str]:
    """A list-of-strings attribute; Keras splits big ones into ``name0``, ``name1``, … (64 KB limit)."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values.extend(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


# --------------------------------------------------------------------------- writing


def summary(weights: Weights) -> tuple[int, int]:
    """(arrays, numbers) in a weights mapping, for the one line ``weights`` commands print."""
    arrays = [array for keys in weights.values() for array in keys.values()]
    return len(arrays), sum(int(array.size) for array in arrays)


def save_weights(weights: Weights, path: str | Path, graph: Graph | None = None) -> Path:
    """Write weights as .npz (``"layer/key"``) or Keras .h5, chosen by the file's extension."""
    path = Path(path)
    writers = {".npz": save_npz, ".h5": save_h5, ".hdf5": save_h5}
    writer = writers.get(path.suffix.lower())
    if writer is None:
        raise _error(path, f"cannot write {path.suffix or '(no extension)'!r}; write .npz, .h5 or .hdf5")
    try:
        writer(weights, path, graph)
    except OSError as exc:
        raise _error(path, f"cannot write ({_reason(exc)})") from None
    return path


def save_npz(weights: Weights, path: Path, graph: Graph | None = None) -> None:
    """Uncompressed, so loading reads straight into each array with no second copy."""
    import numpy as np

    with open(path, "wb") as f:  # an open file: np.savez would append ".npz" to a bare name
        np.savez(f, **{f"{layer}/{key}": array for layer, keys in weights.items() for key, array in keys.items()})


def save_h5(weights: Weights, path: Path, graph: Graph | None = None) -> None:
    """Keras 2 ``save_weights`` layout, so Keras itself can ``load_weights(..., by_name=True)`` it.

    Every graph layer is listed in ``layer_names`` (weightless ones with empty ``weight_names``),
    in execution order, as Keras does; without a graph only the weighted layers are listed.
    """
    import numpy as np

    h5py = _optional("h5py", "h5", path)
    names = [layer.name for layer in graph] if graph else list(weights)
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode("utf8") for n in names])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.15.0"
        for layer in names:
            group = f.create_group(layer)
            keys = weights.get(layer, {})
            group.attrs["weight_names"] = np.array([f"{layer}/{key}:0".encode("utf8") for key in keys],
                                                   dtype="S" if keys else "S1")
            for key, array in keys.items():
                group.create_dataset(f"{layer}/{key}:0", data=array)


# --------------------------------------------------------------------------- helpers


def _optional(module: str, extra: str, path: Path) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise _error(path, f"reading this format needs the {module.split('.')[0]} package: "
                           f"pip install 'resnet-inspect[{extra}]'") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
