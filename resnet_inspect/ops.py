"""The op table: every layer kind, its shape rule beside its parameter and cost rules.

Shapes are ``(H, W, C)`` for feature maps and ``(C,)`` after flatten; the batch is left out.
Adding an op means adding one class here (and, for the executor, one kernel keyed by the same
``kind``). Counting convention, also stated in the README:

* MACs (multiply-accumulates) are counted for conv and dense only:
  conv ``k_h*k_w*(C_in/groups)*C_out*H_out*W_out``, dense ``C_in*C_out``.
* FLOPs: conv and dense ``2*MACs`` plus one add per output element for the bias;
  BatchNorm (inference, folded to scale and shift) 2 per element; ReLU 1 per element;
  residual add 1 per output element per extra input; max pool ``k*k - 1`` comparisons per
  output element; average pool ``k*k`` per output element (``k*k - 1`` adds and one divide),
  global average pool ``H*W`` per channel; softmax 3 per element (exp, sum, divide);
  padding and flatten 0.
* Parameters follow Keras: BN gamma/beta trainable, moving mean/variance non-trainable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

Shape = tuple[int, ...]


class OpError(ValueError):
    """The op cannot take this input; the message says what it got and what it needs."""


@dataclass(frozen=True)
class Params:
    trainable: int = 0
    non_trainable: int = 0


@dataclass(frozen=True)
class Window:
    """Where an op's output grid sits on its input grid, per axis (H, W): its receptive-field rule.

    Output unit ``i`` reads input units ``i·stride − padding`` to ``i·stride − padding + kernel − 1``
    (Araujo et al., Distill 2019). Ops that keep the grid (BN, ReLU, add) are the identity.
    """

    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)


IDENTITY = Window()


def _square(kernel: int, stride: int = 1, padding: int = 0) -> Window:
    return Window((kernel, kernel), (stride, stride), (padding, padding))


def _elements(shape: Shape) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total


def _map(shape: Shape, kind: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise OpError(f"{kind} needs an H×W×C map, got {list(shape)}")
    return shape  # type: ignore[return-value]


def _window(size: int, kernel: int, stride: int, pad: int, kind: str, axis: str) -> int:
    """Output length of a sliding window: floor((size + 2*pad - kernel) / stride) + 1."""
    if size + 2 * pad < kernel:
        raise OpError(f"{kind} {kernel}×{kernel} needs {axis} >= {kernel - 2 * pad}, got {size}")
    return (size + 2 * pad - kernel) // stride + 1


class Op:
    """Base: an op with no parameters and no cost that keeps its input shape."""

    kind: ClassVar[str] = "op"

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return inputs[0]

    def params(self, inputs: list[Shape]) -> Params:
        return Params()

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return 0

    def flops(self, inputs: list[Shape], output: Shape) -> int:
        return 0

    def describe(self) -> str:
        return ""

    def window(self) -> tuple[int, int, int] | None:
        """(kernel, stride, padding) of a sliding-window op; None for the others."""
        return None

    def receptive(self, inputs: list[Shape]) -> Window:
        """How the output grid sits on the input grid, per axis: the receptive-field rule."""
        return IDENTITY


@dataclass(frozen=True)
class Input(Op):
    kind: ClassVar[str] = "input"
    shape: Shape = ()

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return self.shape


@dataclass(frozen=True)
class ZeroPad(Op):
    kind: ClassVar[str] = "zero_pad"
    pad: int = 1

    def output_shape(self, inputs: list[Shape]) -> Shape:
        h, w, c = _map(inputs[0], self.kind)
        return (h + 2 * self.pad, w + 2 * self.pad, c)

    def describe(self) -> str:
        return f"pad {self.pad}"

    def receptive(self, inputs: list[Shape]) -> Window:
        return _square(1, 1, self.pad)


@dataclass(frozen=True)
class Conv2D(Op):
    kind: ClassVar[str] = "conv"
    filters: int = 1
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    bias: bool = True
    groups: int = 1

    def output_shape(self, inputs: list[Shape]) -> Shape:
        h, w, c = _map(inputs[0], self.kind)
        if c % self.groups or self.filters % self.groups:
            raise OpError(f"{c} input channels and {self.filters} filters do not both split into {self.groups} groups")
        k, s, p = self.kernel, self.stride, self.padding
        return (_window(h, k, s, p, self.kind, "H"), _window(w, k, s, p, self.kind, "W"), self.filters)

    def params(self, inputs: list[Shape]) -> Params:
        c_in = inputs[0][-1]
        weights = self.kernel * self.kernel * (c_in // self.groups) * self.filters
        return Params(trainable=weights + (self.filters if self.bias else 0))

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        c_in = inputs[0][-1]
        return self.kernel * self.kernel * (c_in // self.groups) * _elements(output)

    def flops(self, inputs: list[Shape], output: Shape) -> int:
        return 2 * self.macs(inputs, output) + (_elements(output) if self.bias else 0)

    def window(self) -> tuple[int, int, int] | None:
        return (self.kernel, self.stride, self.padding)

    def describe(self) -> str:
        text = f"{self.kernel}×{self.kernel}/{self.stride}, {self.filters}"
        return text + (f", pad {self.padding}" if self.padding else "")

    def receptive(self, inputs: list[Shape]) -> Window:
        return _square(self.kernel, self.stride, self.padding)


@dataclass(frozen=True)
class BatchNorm(Op):
    kind: ClassVar[str] = "batch_norm"
    epsilon: float = 1e-3

    def params(self, inputs: list[Shape]) -> Params:
        channels = inputs[0][-1]
        return Params(trainable=2 * channels, non_trainable=2 * channels)

    def flops(self, inputs: list[Shape], output: Shape) -> int:
        return 2 * _elements(output)


@dataclass(frozen=True)
class ReLU(Op):
    kind: ClassVar[str] = "relu"

    def flops(self, inputs: list[Shape], output: Shape) -> int:
        return _elements(output)


@dataclass(frozen=True)
class MaxPool(Op):
    kind: ClassVar[str] = "max_pool"
    size: int = 3
    stride: int = 2
    padding: int = 0

    def output_shape(self, inputs: list[Shape]) -> Shape:
        h, w, c = _map(inputs[0], self.kind)
        k, s, p = self.size, self.stride, self.padding
        return (_window(h, k, s, p, self.kind, "H"), _window(w, k, s, p, self.kind, "W"), c)

    def flops(self, inputs: list[Shape], output: Shape) -> int:
        return (self.size * self.size - 1) * _elements(output)

    def window(self) -> tuple[int, int, int] | None:
        return (self.size, self.stride, self.padding)

    def describe(self) -> str:
        return f"{self.size}×{self.size}/{self.stride}"

    def receptive(self, inputs: list[Shape]) -> Window:
        return _square(self.size, self.stride, self.padding)


@dataclass(frozen=True)
class AvgPool(MaxPool):
    kind: ClassVar[str] = "avg_pool"

    def flops(self, inputs: list[Shape], output: Shape) -> int:
        return self.size * self.size * _elements(output)


@dataclass(frozen=True)
class GlobalAvgPool(Op):
    kind: ClassVar[str] = "global_avg_pool"

    def output_shape(self, inputs: list[Shape]) -> Shape:
        _, _, c = _map(inputs[0], self.kind)
        return (1, 1, c)

    def flops(self, inputs: list[Shape], output: Shape) -> int:
        return _elements(inputs[0])

    def describe(self) -> str:
        return "global"

    def receptive(self, inputs: list[Shape]) -> Window:
        h, w, _ = _map(inputs[0], self.kind)
        return Window((h, w))  # one window over the whole map


@dataclass(frozen=True)
class Add(Op):
    kind: ClassVar[str] = "add"

    def output_shape(self, inputs: list[Shape]) -> Shape:
        first = inputs[0]
        for other in inputs[1:]:
            if other != first:
                raise OpError(f"residual add needs equal shapes, got {list(first)} and {list(other)}")
        return first

    def flops(self, inputs: list[Shape], output: Shape) -> int:
        return (len(inputs) - 1) * _elements(output)


@dataclass(frozen=True)
class Flatten(Op):
    kind: ClassVar[str] = "flatten"

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return (_elements(inputs[0]),)

    def receptive(self, inputs: list[Shape]) -> Window:
        shape = inputs[0]  # every value of the map feeds the vector (a dense layer after mixes them)
        return Window((shape[0], shape[1])) if len(shape) == 3 else IDENTITY


@dataclass(frozen=True)
class Dense(Op):
    kind: ClassVar[str] = "dense"
    units: int = 1000
    bias: bool = True

    def output_shape(self, inputs: list[Shape]) -> Shape:
        if len(inputs[0]) != 1:
            raise OpError(f"dense needs a flat vector, got {list(inputs[0])}")
        return (self.units,)

    def params(self, inputs: list[Shape]) -> Params:
        return Params(trainable=inputs[0][0] * self.units + (self.units if self.bias else 0))

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return inputs[0][0] * self.units

    def flops(self, inputs: list[Shape], output: Shape) -> int:
        return 2 * self.macs(inputs, output) + (self.units if self.bias else 0)

    def describe(self) -> str:
        return f"{self.units}"


@dataclass(frozen=True)
class Softmax(Op):
    kind: ClassVar[str] = "softmax"

    def flops(self, inputs: list[Shape], output: Shape) -> int:
        return 3 * _elements(output)


OPS: dict[str, type[Op]] = {
    op.kind: op
    for op in (Input, ZeroPad, Conv2D, BatchNorm, ReLU, MaxPool, AvgPool, GlobalAvgPool, Add, Flatten, Dense, Softmax)
}
