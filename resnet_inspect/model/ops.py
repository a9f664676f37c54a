"""The op table: every layer kind, its shape rule beside its parameter and cost rules.

Shapes are ``(H, W, C)`` for feature maps and ``(C,)`` after flatten; the batch is left out.
Adding an op means adding one class here (and, for the executor, one kernel keyed by the same
``kind``): every other module reads what it needs to know off the op, never from a table of its
own keyed by kind. Beside the arithmetic an op carries its weight shapes (:meth:`Op.weight_shapes`,
in Keras' layout), Keras 3's class (``keras_class``), torchvision's parameter names
(``torch_params``), the title diagrams give it (``title``) and whether it works in place
(``in_place``, ``view``). Counting convention, also stated in the README:

* MACs (multiply-accumulates) are counted for conv and dense only:
  conv ``k_h*k_w*(C_in/groups)*C_out*H_out*W_out``, dense ``C_in*C_out``.
* FLOPs: conv and dense ``2*MACs`` plus one add per output element for the bias;
  BatchNorm (inference, folded to scale and shift) 2 per element; ReLU 1 per element;
  residual add 1 per output element per extra input; max pool ``k*k - 1`` comparisons per
  output element; average pool ``k*k`` per output element (``k*k - 1`` adds and one divide),
  global average pool ``H*W`` per channel (to a 1×1 map or, as Keras, to a vector); softmax 3 per element (exp, sum, divide);
  padding and flatten 0.
* Parameters follow Keras: BN gamma/beta trainable, moving mean/variance non-trainable.
"""

from __future__ import annotations

# The counting rule in one line, for every text that names it: pip users never see the README.
MACS_RULE = "multiply-accumulates of conv and dense layers only"
FLOPS_RULE = "2 per MAC, +1 per conv/dense output (bias), BN 2, ReLU 1, add 1 per element, pools per window, softmax 3"

from collections.abc import Mapping
from dataclasses import field
from typing import ClassVar

from ..core.records import record

Shape = tuple[int, ...]


class OpError(ValueError):
    """The op cannot take this input; the message says what it got and what it needs."""


@record
class Params:
    trainable: int = 0
    non_trainable: int = 0


@record
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


@record
class Step:
    """One line of the arithmetic behind a layer (``explain``): what, how, and the number it gives."""

    quantity: str  # "output H", "params", "MACs", "FLOPs", "note", ...
    arithmetic: str  # "⌊(56 + 2·0 − 1)/2⌋ + 1 = 28"
    value: int | None = None


def _n(value: int) -> str:
    return f"{value:,}"


def _dims(shape: Shape) -> str:
    return "×".join(str(d) for d in shape)


def _product(factors: "tuple[int | str, ...] | list[int | str]") -> str:
    return "·".join(str(f) for f in factors)


def _window_steps(inputs: list[Shape], output: Shape, kernel: int, stride: int, pad: int) -> list[Step]:
    """``⌊(size + 2·pad − kernel)/stride⌋ + 1`` per axis (once when H and W agree), and what the floor drops."""
    h, w = inputs[0][0], inputs[0][1]
    axes = ([("output H and W", h, output[0], ("row and column", "rows and columns"))] if h == w else
            [("output H", h, output[0], ("row", "rows")), ("output W", w, output[1], ("column", "columns"))])
    steps = []
    for label, size, out, units in axes:
        steps.append(Step(label, f"⌊({size} + 2·{pad} − {kernel})/{stride}⌋ + 1 = {out}", out))
        reach = size + 2 * pad - kernel
        if reach % stride:
            steps.append(Step("note", f"{size} + 2·{pad} − {kernel} = {reach} is not a multiple of {stride}: the floor "
                                      f"drops {reach % stride}, so the last {reach % stride} "
                                      f"{units[reach % stride > 1]} start no window"))
    return steps


def leftover(size: int, kernel: int, stride: int, pad: int) -> int:
    """How many of the last input rows (or columns) no window reads: the floor's remainder less the
    op's own padding, since the tail it drops starts with the padded border. Zero when the kernel is
    smaller than the stride: such a window skips units by design (a 1×1/2 subsample), not by size."""
    if kernel < stride:
        return 0
    return max(0, (size + 2 * pad - kernel) % stride - pad)


def _elementwise(output: Shape, per: int, what: str, flops: int) -> Step:
    text = f"{per}·{_product(output)} = {_n(flops)}" if per != 1 else f"{_product(output)} = {_n(flops)}"
    return Step("FLOPs", f"{text} ({what})", flops)


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


def _window_min(output: int, kernel: int, stride: int, pad: int) -> int:
    """The smallest size whose window output is at least ``output`` (``_window`` inverted)."""
    return max(1, kernel - 2 * pad, (output - 1) * stride + kernel - 2 * pad)


@record
class OnnxNode:
    """One ONNX node an op exports as (``onnx`` is imported only by the writer, not here).

    ``inputs`` are value names; a weight is named ``@key`` (our key, e.g. ``@kernel``) and the
    writer puts the array there in :attr:`Op.torch_layout`; ``@pads`` is a zero pad's int64 pads.
    A helper node's output is named the layer's plus ``suffix`` (``flatten`` + ``_nhwc``), and a
    later node of the same layer reads it as ``+`` and that suffix (``+_nhwc``).
    """

    op_type: str
    inputs: tuple[str, ...]
    attrs: Mapping[str, object] = field(default_factory=dict)
    suffix: str = ""


class Op:
    """Base: an op with no parameters and no cost that keeps its input shape."""

    kind: ClassVar[str] = "op"
    title: ClassVar[str] = "Op"  # the blog's (Keras') name for it, as diagrams draw it: "Conv2D"
    # Keras 3's snake_case class whose numbered group (conv2d, conv2d_1, ...) holds its weights in a
    # .weights.h5 file; None for ops without weights
    keras_class: ClassVar[str | None] = None
    # our weight key -> torchvision's parameter name, in the order Keras creates the variables
    # (which is the order of :meth:`weight_shapes`); empty for ops without weights
    torch_params: ClassVar[Mapping[str, str]] = {}
    in_place: ClassVar[bool] = False  # writes its output over input 0 when it is that input's last reader
    view: ClassVar[bool] = False  # its output is a view of its input: never new memory
    # our key -> the axes that turn its Keras layout into PyTorch's and ONNX's (HWIO -> OIHW); others as is
    torch_layout: ClassVar[Mapping[str, tuple[int, ...]]] = {}

    @property
    def weighted(self) -> bool:
        """Whether the op holds weight arrays (named by :attr:`torch_params`' keys)."""
        return bool(self.torch_params)

    def weight_shapes(self, inputs: list[Shape]) -> dict[str, Shape]:
        """The arrays it holds, ``{key: shape}`` in Keras' layout and variable order (none here)."""
        return {}

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return inputs[0]

    def min_input(self, output: int) -> int | None:
        """The smallest input length (H or W) that gives an output length of at least ``output``.

        The spatial shape rule inverted, so the smallest input a whole graph takes is one
        backward pass (``engine.smallest_input``); None when no input length does.
        """
        return output

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

    def leftover(self, inputs: list[Shape]) -> tuple[int, int]:
        """(rows, columns) at the end of the input that no window reads: the shape rule's floor at
        work (``avg_pool`` 7×7/7 on 7×10 leaves 3 columns out). A trace warns of them."""
        window = self.window()
        if window is None or len(inputs[0]) != 3:
            return (0, 0)
        kernel, stride, pad = window
        return (leftover(inputs[0][0], kernel, stride, pad), leftover(inputs[0][1], kernel, stride, pad))

    def border(self) -> int:
        """Rows (and columns) of zeros it adds at each edge: what a window dropping its last units
        loses there is padding, not the image."""
        return 0

    def receptive(self, inputs: list[Shape]) -> Window:
        """How the output grid sits on the input grid, per axis: the receptive-field rule."""
        return IDENTITY

    def explain(self, inputs: list[Shape], output: Shape) -> list[Step]:
        """The arithmetic behind the output shape, parameters, MACs and FLOPs, step by step."""
        return [Step("output shape", f"{_dims(output)}, the shape of its input")]

    def onnx(self, inputs: tuple[str, ...], shapes: list[Shape]) -> list[OnnxNode]:
        """The ONNX node(s) computing this op on NCHW values ``inputs`` (of HWC ``shapes``)."""
        raise NotImplementedError(f"{self.kind} has no ONNX rule")


@record
class Input(Op):
    kind: ClassVar[str] = "input"
    title: ClassVar[str] = "Input"
    shape: Shape = ()

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return self.shape

    def explain(self, inputs: list[Shape], output: Shape) -> list[Step]:
        return [Step("output shape", f"the input, {_dims(output)} (H×W×C)")]


@record
class ZeroPad(Op):
    kind: ClassVar[str] = "zero_pad"
    title: ClassVar[str] = "ZeroPad"
    pad: int = 1

    def output_shape(self, inputs: list[Shape]) -> Shape:
        h, w, c = _map(inputs[0], self.kind)
        return (h + 2 * self.pad, w + 2 * self.pad, c)

    def min_input(self, output: int) -> int | None:
        return max(1, output - 2 * self.pad)

    def describe(self) -> str:
        return f"pad {self.pad}"

    def border(self) -> int:
        return self.pad

    def receptive(self, inputs: list[Shape]) -> Window:
        return _square(1, 1, self.pad)

    def explain(self, inputs: list[Shape], output: Shape) -> list[Step]:
        h, w, _ = inputs[0]
        steps = [Step("output H", f"{h} + 2·{self.pad} = {output[0]}", output[0])]
        if h != w:
            steps.append(Step("output W", f"{w} + 2·{self.pad} = {output[1]}", output[1]))
        return steps + [Step("FLOPs", "0 (zeros are written, nothing is computed)", 0)]

    def onnx(self, inputs: tuple[str, ...], shapes: list[Shape]) -> list[OnnxNode]:
        return [OnnxNode("Pad", (inputs[0], "@pads"), {"mode": "constant"})]


@record
class Conv2D(Op):
    kind: ClassVar[str] = "conv"
    title: ClassVar[str] = "Conv2D"
    keras_class: ClassVar[str | None] = "conv2d"
    torch_params: ClassVar[Mapping[str, str]] = {"kernel": "weight", "bias": "bias"}
    torch_layout: ClassVar[Mapping[str, tuple[int, ...]]] = {"kernel": (3, 2, 0, 1)}  # HWIO -> OIHW
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

    def min_input(self, output: int) -> int | None:
        return _window_min(output, self.kernel, self.stride, self.padding)

    def params(self, inputs: list[Shape]) -> Params:
        c_in = inputs[0][-1]
        weights = self.kernel * self.kernel * (c_in // self.groups) * self.filters
        return Params(trainable=weights + (self.filters if self.bias else 0))

    def weight_shapes(self, inputs: list[Shape]) -> dict[str, Shape]:
        """``kernel`` HWIO ``(k, k, C_in/groups, C_out)``, then ``bias`` when it has one."""
        kernel = (self.kernel, self.kernel, inputs[0][-1] // self.groups, self.filters)
        return {"kernel": kernel, "bias": (self.filters,)} if self.bias else {"kernel": kernel}

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

    def explain(self, inputs: list[Shape], output: Shape) -> list[Step]:
        c_in, k = inputs[0][-1], self.kernel
        per_group = c_in if self.groups == 1 else f"({c_in}/{self.groups})"
        weights = [k, k, per_group, self.filters]
        params, macs = self.params(inputs).trainable, self.macs(inputs, output)
        bias = f" + {self.filters}" if self.bias else " (no bias)"
        flops = self.flops(inputs, output)
        return [
            Step("window", f"conv {k}×{k}, stride {self.stride}, padding {self.padding}"),
            *_window_steps(inputs, output, k, self.stride, self.padding),
            Step("output C", f"{self.filters} filters", self.filters),
            Step("params", f"{_product(weights)}{bias} = {_n(params)}", params),
            Step("MACs", f"{_product([*weights, *output[:2]])} = {_n(macs)}", macs),
            Step("FLOPs", f"2·{_n(macs)}" + (f" + {_product(output)} (bias)" if self.bias else "") + f" = {_n(flops)}",
                 flops),
        ]

    def onnx(self, inputs: tuple[str, ...], shapes: list[Shape]) -> list[OnnxNode]:
        k, p = self.kernel, self.padding
        return [OnnxNode("Conv", (inputs[0], "@kernel", *(["@bias"] if self.bias else [])),
                         {"kernel_shape": [k, k], "strides": [self.stride] * 2, "pads": [p] * 4, "group": self.groups})]


@record
class BatchNorm(Op):
    kind: ClassVar[str] = "batch_norm"
    title: ClassVar[str] = "BatchNorm"
    keras_class: ClassVar[str | None] = "batch_normalization"
    torch_params: ClassVar[Mapping[str, str]] = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean",
                                                 "moving_variance": "running_var"}
    in_place: ClassVar[bool] = True  # (folded into its conv, it hands on the conv's array: the same)
    epsilon: float = 1e-3

    def params(self, inputs: list[Shape]) -> Params:
        channels = inputs[0][-1]
        return Params(trainable=2 * channels, non_trainable=2 * channels)

    def weight_shapes(self, inputs: list[Shape]) -> dict[str, Shape]:
        """``gamma``, ``beta``, ``moving_mean``, ``moving_variance``: one number per channel each."""
        return {key: (inputs[0][-1],) for key in self.torch_params}

    def flops(self, inputs: list[Shape], output: Shape) -> int:
        return 2 * _elements(output)

    def explain(self, inputs: list[Shape], output: Shape) -> list[Step]:
        c, params = output[-1], self.params(inputs)
        return [*super().explain(inputs, output),
                Step("params", f"2·{c} trainable (gamma, beta) + 2·{c} non-trainable (moving mean, variance) = "
                               f"{_n(params.trainable + params.non_trainable)}", params.trainable + params.non_trainable),
                _elementwise(output, 2, "a folded scale and shift per element", self.flops(inputs, output))]

    def onnx(self, inputs: tuple[str, ...], shapes: list[Shape]) -> list[OnnxNode]:
        """Kept as BatchNormalization (not folded into the conv), so the file holds the spec's arrays."""
        return [OnnxNode("BatchNormalization", (inputs[0], "@gamma", "@beta", "@moving_mean", "@moving_variance"),
                         {"epsilon": self.epsilon})]


@record
class ReLU(Op):
    kind: ClassVar[str] = "relu"
    title: ClassVar[str] = "ReLU"
    in_place: ClassVar[bool] = True

    def flops(self, inputs: list[Shape], output: Shape) -> int:
        return _elements(output)

    def explain(self, inputs: list[Shape], output: Shape) -> list[Step]:
        return [*super().explain(inputs, output), _elementwise(output, 1, "one max(x, 0) per element",
                                                               self.flops(inputs, output))]

    def onnx(self, inputs: tuple[str, ...], shapes: list[Shape]) -> list[OnnxNode]:
        return [OnnxNode("Relu", inputs)]


@record
class MaxPool(Op):
    kind: ClassVar[str] = "max_pool"
    title: ClassVar[str] = "MaxPool"
    onnx_type: ClassVar[str] = "MaxPool"
    size: int = 3
    stride: int = 2
    padding: int = 0

    def output_shape(self, inputs: list[Shape]) -> Shape:
        h, w, c = _map(inputs[0], self.kind)
        k, s, p = self.size, self.stride, self.padding
        return (_window(h, k, s, p, self.kind, "H"), _window(w, k, s, p, self.kind, "W"), c)

    def min_input(self, output: int) -> int | None:
        return _window_min(output, self.size, self.stride, self.padding)

    def flops(self, inputs: list[Shape], output: Shape) -> int:
        return (self.size * self.size - 1) * _elements(output)

    def window(self) -> tuple[int, int, int] | None:
        return (self.size, self.stride, self.padding)

    def describe(self) -> str:
        return f"{self.size}×{self.size}/{self.stride}"

    def receptive(self, inputs: list[Shape]) -> Window:
        return _square(self.size, self.stride, self.padding)

    def explain(self, inputs: list[Shape], output: Shape) -> list[Step]:
        per = self.size * self.size - (1 if self.kind == "max_pool" else 0)
        what = "comparisons per output element" if self.kind == "max_pool" else "adds and a divide per output element"
        return [Step("window", f"{self.kind.replace('_', ' ')} {self.size}×{self.size}, stride {self.stride}, "
                               f"padding {self.padding}"),
                *_window_steps(inputs, output, self.size, self.stride, self.padding),
                Step("output C", f"{output[-1]} channels, as its input", output[-1]),
                _elementwise(output, per, what, self.flops(inputs, output))]

    def onnx(self, inputs: tuple[str, ...], shapes: list[Shape]) -> list[OnnxNode]:
        k, p = self.size, self.padding
        return [OnnxNode(self.onnx_type, inputs, {"kernel_shape": [k, k], "strides": [self.stride] * 2, "pads": [p] * 4})]


@record
class AvgPool(MaxPool):
    kind: ClassVar[str] = "avg_pool"
    title: ClassVar[str] = "AvgPool"
    onnx_type: ClassVar[str] = "AveragePool"

    def flops(self, inputs: list[Shape], output: Shape) -> int:
        return self.size * self.size * _elements(output)


@record
class GlobalAvgPool(Op):
    kind: ClassVar[str] = "global_avg_pool"
    title: ClassVar[str] = "GlobalAvgPool"

    def output_shape(self, inputs: list[Shape]) -> Shape:
        _, _, c = _map(inputs[0], self.kind)
        return (1, 1, c)

    def min_input(self, output: int) -> int | None:
        return 1 if output <= 1 else None  # always 1×1

    def flops(self, inputs: list[Shape], output: Shape) -> int:
        return _elements(inputs[0])

    def describe(self) -> str:
        return "global"

    def receptive(self, inputs: list[Shape]) -> Window:
        h, w, _ = _map(inputs[0], self.kind)
        return Window((h, w))  # one window over the whole map

    def explain(self, inputs: list[Shape], output: Shape) -> list[Step]:
        flops = self.flops(inputs, output)
        return [Step("output shape", f"1×1×{output[-1]}: one mean per channel over {_dims(inputs[0][:2])}"),
                Step("FLOPs", f"{_product(inputs[0])} = {_n(flops)} (one add per input element, H·W per channel)", flops)]

    def onnx(self, inputs: tuple[str, ...], shapes: list[Shape]) -> list[OnnxNode]:
        """ONNX keeps the 1×1 map (N, C, 1, 1); a pool whose output is a vector flattens it too."""
        if len(self.output_shape(shapes)) == 3:
            return [OnnxNode("GlobalAveragePool", inputs)]
        return [OnnxNode("GlobalAveragePool", inputs, suffix="_map"), OnnxNode("Flatten", ("+_map",), {"axis": 1})]


@record
class GlobalAvgPoolFlat(GlobalAvgPool):
    """Keras' ``GlobalAveragePooling2D`` (``keepdims=False``): one mean per channel, straight to a
    vector, so no Flatten follows. torchvision's ``AdaptiveAvgPool2d(1)`` keeps the 1×1 map
    (:class:`GlobalAvgPool`, then ``torch.flatten``); the cost is the same."""

    kind: ClassVar[str] = "global_avg_pool_flat"

    def output_shape(self, inputs: list[Shape]) -> Shape:
        _, _, c = _map(inputs[0], self.kind)
        return (c,)

    def onnx(self, inputs: tuple[str, ...], shapes: list[Shape]) -> list[OnnxNode]:
        """One node straight to (N, C), as Keras computes it (opset 17: ``axes`` an attribute); an
        import tells it from :class:`GlobalAvgPool`'s GlobalAveragePool + Flatten."""
        return [OnnxNode("ReduceMean", inputs, {"axes": [2, 3], "keepdims": 0})]

    def explain(self, inputs: list[Shape], output: Shape) -> list[Step]:
        flops = self.flops(inputs, output)
        return [Step("output shape", f"{output[-1]}: one mean per channel over {_dims(inputs[0][:2])}, a vector "
                                     "(no Flatten)", output[-1]),
                Step("FLOPs", f"{_product(inputs[0])} = {_n(flops)} (one add per input element, H·W per channel)", flops)]


@record
class Add(Op):
    kind: ClassVar[str] = "add"
    title: ClassVar[str] = "Add"
    in_place: ClassVar[bool] = True

    def output_shape(self, inputs: list[Shape]) -> Shape:
        first = inputs[0]
        for other in inputs[1:]:
            if other != first:
                raise OpError(f"residual add needs equal shapes, got {list(first)} and {list(other)}")
        return first

    def flops(self, inputs: list[Shape], output: Shape) -> int:
        return (len(inputs) - 1) * _elements(output)

    def explain(self, inputs: list[Shape], output: Shape) -> list[Step]:
        shapes = " and ".join(_dims(shape) for shape in inputs)
        return [Step("output shape", f"inputs {shapes} are equal, so {_dims(output)}"),
                _elementwise(output, len(inputs) - 1, "one add per element per extra input", self.flops(inputs, output))]

    def onnx(self, inputs: tuple[str, ...], shapes: list[Shape]) -> list[OnnxNode]:
        return [OnnxNode("Add" if len(inputs) == 2 else "Sum", inputs)]


@record
class Flatten(Op):
    kind: ClassVar[str] = "flatten"
    title: ClassVar[str] = "Flatten"
    view: ClassVar[bool] = True

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return (_elements(inputs[0]),)

    def min_input(self, output: int) -> int | None:
        return 1  # any map flattens; what follows needs a vector, not a size

    def receptive(self, inputs: list[Shape]) -> Window:
        shape = inputs[0]  # every value of the map feeds the vector (a dense layer after mixes them)
        return Window((shape[0], shape[1])) if len(shape) == 3 else IDENTITY

    def explain(self, inputs: list[Shape], output: Shape) -> list[Step]:
        return [Step("output shape", f"{_product(inputs[0])} = {_n(output[0])} values in one vector", output[0])]

    def onnx(self, inputs: tuple[str, ...], shapes: list[Shape]) -> list[OnnxNode]:
        """NCHW to NHWC first when the map is larger than 1×1: our vector is in H, W, C order
        (Keras'), which is the order the Dense weights after it expect."""
        flat = OnnxNode("Flatten", inputs, {"axis": 1})
        if len(shapes[0]) != 3 or shapes[0][:2] == (1, 1):
            return [flat]
        return [OnnxNode("Transpose", inputs, {"perm": [0, 2, 3, 1]}, suffix="_nhwc"),
                OnnxNode("Flatten", ("+_nhwc",), {"axis": 1})]


@record
class Dense(Op):
    kind: ClassVar[str] = "dense"
    title: ClassVar[str] = "Dense"
    keras_class: ClassVar[str | None] = "dense"
    torch_params: ClassVar[Mapping[str, str]] = {"kernel": "weight", "bias": "bias"}
    torch_layout: ClassVar[Mapping[str, tuple[int, ...]]] = {"kernel": (1, 0)}  # (in, out) -> (out, in)
    units: int = 1000
    bias: bool = True

    def output_shape(self, inputs: list[Shape]) -> Shape:
        if len(inputs[0]) != 1:
            raise OpError(f"dense needs a flat vector, got {list(inputs[0])}")
        return (self.units,)

    def params(self, inputs: list[Shape]) -> Params:
        return Params(trainable=inputs[0][0] * self.units + (self.units if self.bias else 0))

    def weight_shapes(self, inputs: list[Shape]) -> dict[str, Shape]:
        """``kernel`` ``(C_in, units)``, then ``bias`` when it has one."""
        kernel = (inputs[0][0], self.units)
        return {"kernel": kernel, "bias": (self.units,)} if self.bias else {"kernel": kernel}

    def macs(self, inputs: list[Shape], output: Shape) -> int:
        return inputs[0][0] * self.units

    def explain(self, inputs: list[Shape], output: Shape) -> list[Step]:
        c_in, macs, flops = inputs[0][0], self.macs(inputs, output), self.flops(inputs, output)
        params = self.params(inputs).trainable
        bias = f" + {self.units}" if self.bias else ""
        return [Step("output shape", f"{self.units} units", self.units),
                Step("params", f"{c_in}·{self.units}{bias} = {_n(params)}", params),
                Step("MACs", f"{c_in}·{self.units} = {_n(macs)}", macs),
                Step("FLOPs", f"2·{_n(macs)}{bias} = {_n(flops)}", flops)]

    def flops(self, inputs: list[Shape], output: Shape) -> int:
        return 2 * self.macs(inputs, output) + (self.units if self.bias else 0)

    def describe(self) -> str:
        return f"{self.units}"

    def onnx(self, inputs: tuple[str, ...], shapes: list[Shape]) -> list[OnnxNode]:
        return [OnnxNode("Gemm", (inputs[0], "@kernel", *(["@bias"] if self.bias else [])), {"transB": 1})]


@record
class Softmax(Op):
    kind: ClassVar[str] = "softmax"
    title: ClassVar[str] = "Softmax"
    in_place: ClassVar[bool] = True

    def flops(self, inputs: list[Shape], output: Shape) -> int:
        return 3 * _elements(output)

    def explain(self, inputs: list[Shape], output: Shape) -> list[Step]:
        return [*super().explain(inputs, output),
                _elementwise(output, 3, "exp, sum and divide per element", self.flops(inputs, output))]

    def onnx(self, inputs: tuple[str, ...], shapes: list[Shape]) -> list[OnnxNode]:
        return [OnnxNode("Softmax", inputs, {"axis": -1})]


OPS: dict[str, type[Op]] = {
    op.kind: op
    for op in (Input, ZeroPad, Conv2D, BatchNorm, ReLU, MaxPool, AvgPool, GlobalAvgPool, GlobalAvgPoolFlat, Add,
                Flatten, Dense, Softmax)
}
