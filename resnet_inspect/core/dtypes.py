"""The one table of dtypes: each name, its bytes per number, and what each part of the tool does with it.

Before, three tables disagreed on which dtypes exist (the sizes ``trace`` quotes, ``memory
--dtype``, the executor's, the weight readers'); each is now a view of this one. Pure Python:
the trace path reads it without NumPy (NumPy and ``ml_dtypes`` agree on every size:
``tests/test_dtypes.py``).
"""

from __future__ import annotations


class DType:
    """One row of the table (a plain class: ``import resnet_inspect`` reads it, and a NamedTuple
    costs ten times as much to define)."""

    __slots__ = ("name", "bytes", "safetensors", "weight", "runs", "memory")

    def __init__(self, name: str, bytes: int, safetensors: str | None = None, *, weight: bool = False,
                 runs: bool = False, memory: bool = False) -> None:
        self.name = name  # NumPy's name
        self.bytes = bytes
        self.safetensors = safetensors  # its code in a safetensors header; None: such tensors are not read
        self.weight = weight  # a weight array may hold it (any other dtype is refused by name)
        self.runs = runs  # the NumPy executor computes in it (run, verify)
        self.memory = memory  # ``memory --dtype`` quotes activation bytes in it

    def __repr__(self) -> str:
        return f"DType({self.name!r}, {self.bytes})"


# The order is the order of every list shown to users (executor: float32, float64; memory:
# float32, float16, bfloat16, int8); weight dtypes are listed smallest first.
TABLE: tuple[DType, ...] = (
    DType("float32", 4, "F32", weight=True, runs=True, memory=True),
    DType("float64", 8, "F64", weight=True, runs=True),
    DType("float16", 2, "F16", weight=True, memory=True),
    DType("bfloat16", 2, memory=True),  # no NumPy dtype: quoted in sizes, never read or run
    DType("int8", 1, "I8", memory=True),
    DType("int16", 2, "I16"),
    DType("int32", 4, "I32"),
    DType("int64", 8, "I64"),
    DType("uint8", 1, "U8"),
    DType("uint16", 2, "U16"),
    DType("uint32", 4, "U32"),
    DType("uint64", 8, "U64"),
    DType("bool", 1, "BOOL"),
)

DTYPES: dict[str, DType] = {dtype.name: dtype for dtype in TABLE}
BYTES: dict[str, int] = {dtype.name: dtype.bytes for dtype in TABLE}

# views of the table, one per part of the tool that accepts dtypes
RUN_DTYPES: dict[str, int] = {d.name: d.bytes for d in TABLE if d.runs}
MEMORY_DTYPES: dict[str, int] = {d.name: d.bytes for d in TABLE if d.memory}
WEIGHT_DTYPES: tuple[str, ...] = tuple(d.name for d in sorted(TABLE, key=lambda d: d.bytes) if d.weight)
SAFETENSORS_DTYPES: dict[str, str] = {d.safetensors: d.name for d in TABLE if d.safetensors}  # code -> name
