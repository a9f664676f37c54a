"""Receptive-field records: the field of every layer of a trace, per axis (H, W).

The recursion (Araujo, Norouzi and Kornblith, "Computing Receptive Fields of Convolutional Neural
Networks", Distill 2019) is a fact of the graph and its ops, like a shape: it lives in the model so
a trace's JSON contract can carry it. The ``rf`` report built on it is :mod:`resnet_inspect.analysis.receptive`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.records import record
from .ops import IDENTITY, Window

if TYPE_CHECKING:
    from .statistics import TraceResult

Pair = tuple[int, int]


@record
class ReceptiveField:
    """A layer's receptive field, per axis (H, W): size in input pixels, effective stride and padding."""

    size: Pair
    stride: Pair
    padding: Pair

    def through(self, window: Window) -> "ReceptiveField":
        """The field one op further on (Distill's recursion, one axis at a time)."""
        if window == IDENTITY:
            return self
        (r_h, r_w), (j_h, j_w), (p_h, p_w) = self.size, self.stride, self.padding
        (k_h, k_w), (s_h, s_w), (q_h, q_w) = window.kernel, window.stride, window.padding
        return ReceptiveField((r_h + (k_h - 1) * j_h, r_w + (k_w - 1) * j_w), (j_h * s_h, j_w * s_w),
                              (p_h + q_h * j_h, p_w + q_w * j_w))

    def center(self, unit: Pair) -> tuple[float, float]:
        """Input coordinates (H, W) of the centre of output unit ``unit``: −p + i·j + (r − 1)/2."""
        return tuple(-p + i * j + (r - 1) / 2 for p, i, j, r in  # type: ignore[return-value]
                     zip(self.padding, unit, self.stride, self.size))

    def span(self, unit: Pair) -> tuple[Pair, Pair]:
        """First and last input pixel (H, W) that unit ``unit`` sees (may lie in the padding)."""
        first = tuple(-p + i * j for p, i, j in zip(self.padding, unit, self.stride))
        last = tuple(f + r - 1 for f, r in zip(first, self.size))
        return first, last  # type: ignore[return-value]

    def to_dict(self) -> dict[str, list[int]]:
        """The JSON form: always ``[H, W]`` lists, equal or not, so readers need one code path."""
        return {"size": list(self.size), "stride": list(self.stride), "padding": list(self.padding)}


PIXEL = ReceptiveField((1, 1), (1, 1), (0, 0))


def receptive_fields(result: "TraceResult") -> dict[str, ReceptiveField]:
    """Every layer's receptive field, in execution order, along the widest path."""
    fields: dict[str, ReceptiveField] = {}
    for info in result.layers:
        inputs = info.inputs
        source = (PIXEL if not inputs else fields[inputs[0]] if len(inputs) == 1
                  else _widest([fields[name] for name in inputs]))
        fields[info.name] = source.through(info.receptive)
    return fields


def _widest(fields: list[ReceptiveField]) -> ReceptiveField:
    """Per axis, the input whose field is largest (ties: the larger padding, i.e. reaching further out)."""
    picks = [max(fields, key=lambda f, a=axis: (f.size[a], f.padding[a])) for axis in (0, 1)]
    return ReceptiveField(*(tuple(getattr(pick, key)[axis] for axis, pick in enumerate(picks))  # type: ignore[misc]
                            for key in ("size", "stride", "padding")))
