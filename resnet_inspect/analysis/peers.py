"""Reproduce the numbers other tools print for the same network, from one trace.

Peers count differently, and users port between them; each convention here states the peer's
rule per op kind (read from the peer's own source, cited in each rule's text) so a number can be
matched exactly, not "roughly 4.1 G". The peers measure a PyTorch model, so the network is
counted as torch modules built the torchvision way: padding before a conv or a pool is that
module's own ``padding`` (a pool's input is the unpadded map), a ReLU is a module call, and the
residual add is an in-place ``out += identity`` that no peer sees.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from math import prod

from typing import TYPE_CHECKING

from ..core.records import record
from ..model.statistics import TraceResult

if TYPE_CHECKING:
    from ..model.engine import LayerInfo


@record
class OpFacts:
    """What a peer's counting rule may look at for one of our layers."""

    kind: str
    macs: int
    in_elements: int  # the unpadded input: torch pools and convs pad inside the module
    out_elements: int
    in_hw: int  # H·W of that input
    out_hw: int
    bias: int  # bias elements added per sample (conv: one per output element; dense: units)
    trainable_params: int


@record
class OpRule:
    """One op kind's count under a convention, with the peer's rule in words."""

    count: Callable[[OpFacts], int]
    text: str


@record
class Convention:
    name: str
    tool: str
    rules: Mapping[str, OpRule]
    note: str = ""

    def count(self, facts: OpFacts) -> int:
        rule = self.rules.get(facts.kind)
        return rule.count(facts) if rule else 0

    def rule_text(self, kind: str) -> str:
        rule = self.rules.get(kind)
        return rule.text if rule else "not counted"


def _r(count: Callable[[OpFacts], int], text: str) -> OpRule:
    return OpRule(count, text)


def _global(count: Callable[[OpFacts], int], text: str) -> dict[str, OpRule]:
    """A global average pool's rule, for both of ours: to a 1×1 map (torchvision) or a vector (Keras'
    GlobalAveragePooling2D); in PyTorch both are adaptive_avg_pool2d, so a tool counts them alike."""
    return dict.fromkeys(("global_avg_pool", "global_avg_pool_flat"), OpRule(count, text))


CONVENTIONS: dict[str, Convention] = {c.name: c for c in (
    Convention("paper", "He et al. 2016, Table 1 (\"FLOPs\" = multiply-adds)", {
        "conv": _r(lambda f: f.macs, "k·k·C_in/groups·C_out·H·W"),
        "dense": _r(lambda f: f.macs, "C_in·C_out"),
    }, "conv and fully-connected multiply-adds only; our MACs"),
    Convention("torchinfo", "torchinfo 1.8 summary(): Total mult-adds", {
        # layer_info.py calculate_macs: conv weight/bias numel × output H·W; others numel once.
        "conv": _r(lambda f: f.macs + f.bias, "MACs + 1 per output element for a bias (numel·H_out·W_out)"),
        "dense": _r(lambda f: f.macs + f.bias, "C_in·C_out + C_out (weight and bias numel)"),
        "batch_norm": _r(lambda f: f.trainable_params, "gamma + beta numel (2·C), once"),
    }),
    Convention("fvcore", "fvcore 0.1.5 FlopCountAnalysis(...).total()", {
        # jit_handles.py conv_flop_jit/linear_flop_jit: MACs, bias ignored; batchnorm_flop_jit in
        # eval: numel·(2 if affine); flop_count.py: adaptive_avg_pool2d = input numel.
        "conv": _r(lambda f: f.macs, "MACs (bias ignored)"),
        "dense": _r(lambda f: f.macs, "C_in·C_out (bias ignored)"),
        "batch_norm": _r(lambda f: 2 * f.in_elements, "2 per element (eval, affine)"),
        **_global(lambda f: f.in_elements, "1 per input element (adaptive_avg_pool2d)"),
    }, "max/avg pool, ReLU, add and softmax have no handle (reported as unsupported, counted 0)"),
    Convention("ptflops", "ptflops 0.7 get_model_complexity_info(), default pytorch backend", {
        # pytorch_ops.py: conv_flops_counter_hook adds bias per output element; bn hook numel·2
        # (affine); ReLU and pooling are counted by the module hook AND the patched functional
        # (F.relu, F.max_pool2d, F.adaptive_avg_pool2d), so twice.
        "conv": _r(lambda f: f.macs + f.bias, "MACs + 1 per output element for a bias"),
        "dense": _r(lambda f: f.macs + f.bias, "C_in·C_out + C_out"),
        "batch_norm": _r(lambda f: 2 * f.in_elements, "2 per input element (affine)"),
        "relu": _r(lambda f: 2 * f.out_elements, "2 per element: module hook + patched F.relu"),
        "max_pool": _r(lambda f: 2 * f.in_elements, "2 per input element: module hook + F.max_pool2d"),
        "avg_pool": _r(lambda f: 2 * f.in_elements, "2 per input element: module hook + F.avg_pool2d"),
        **_global(lambda f: 2 * f.in_elements, "2 per input element: module hook + functional"),
        "softmax": _r(lambda f: 0, "not seen: torch.softmax is not patched (F.softmax or nn.Softmax would add n)"),
    }, "the residual add (in-place +=) is not seen"),
    Convention("ptflops-aten", "ptflops 0.7 get_model_complexity_info(backend='aten')", {
        # aten_ops.py: only aten.convolution (bias counted) and aten.addmm/mm are mapped.
        "conv": _r(lambda f: f.macs + f.bias, "MACs + 1 per output element for a bias"),
        "dense": _r(lambda f: f.macs + f.bias, "C_in·C_out + C_out (addmm)"),
    }, "only convolution and matrix products are mapped"),
    Convention("thop", "thop 0.1.1 profile()", {
        # vision/basic_hooks.py + calc_func.py: conv output numel·C_in/g·k·k (bias ignored);
        # BN 2·numel, ×2 when affine; AvgPool 1 per output element; AdaptiveAvgPool
        # (H_in·W_in/H_out·W_out + 1) per output element; Linear in_features per output element;
        # Softmax 3n − 1 per row; ReLU and MaxPool zero_ops.
        "conv": _r(lambda f: f.macs, "MACs (bias ignored)"),
        "dense": _r(lambda f: f.macs, "C_in per output element (bias ignored)"),
        "batch_norm": _r(lambda f: 4 * f.in_elements, "4 per element (2·numel, ×2 affine)"),
        "avg_pool": _r(lambda f: f.out_elements, "1 per output element"),
        **_global(lambda f: (f.in_hw // f.out_hw + 1) * f.out_elements, "(H·W + 1) per output element"),
        "softmax": _r(lambda f: 0, "not seen: torch.softmax is a function (an nn.Softmax module would add 3n − 1)"),
    }, "ReLU and max pool are zero_ops; the residual add is not seen"),
)}


def op_facts(result: TraceResult) -> list[OpFacts]:
    """Per layer, the facts the conventions count (pools and convs read their unpadded input)."""
    facts = []
    for layer in result.layers:
        source = result.layer(layer.inputs[0]) if layer.inputs else layer
        if source.op == "zero_pad" and source.inputs:  # torch pads inside the next module
            source = result.layer(source.inputs[0])
        in_shape, out_shape = source.output_shape, layer.output_shape
        facts.append(OpFacts(layer.op, layer.macs, prod(in_shape), prod(out_shape),
                             _hw(in_shape), _hw(out_shape), _bias(layer), layer.trainable_params))
    return facts


def _hw(shape: tuple[int, ...]) -> int:
    return shape[0] * shape[1] if len(shape) == 3 else 1


def _bias(layer: "LayerInfo") -> int:
    """Bias additions: our FLOPs rule for conv and dense is 2·MACs plus one add per bias use."""
    return layer.flops - 2 * layer.macs if layer.op in ("conv", "dense") else 0


@record
class ConventionCount:
    """A whole network counted under one peer's convention, with the per-op breakdown."""

    convention: Convention
    total: int
    by_op: dict[str, int]
    ours_macs_by_op: dict[str, int]

    def to_dict(self) -> dict:
        return {
            "convention": self.convention.name,
            "tool": self.convention.tool,
            "total": self.total,
            "by_op": self.by_op,
            "macs_by_op": self.ours_macs_by_op,
            "rules": {kind: self.convention.rule_text(kind) for kind in self.by_op},
            "note": self.convention.note,
        }


def count(result: TraceResult, convention: str) -> ConventionCount:
    """The total a peer prints for this trace, and how much each op kind contributes."""
    from ..core import numbers

    rules = CONVENTIONS[numbers.choice(convention, CONVENTIONS, "convention")]
    by_op: dict[str, int] = {}
    macs: dict[str, int] = {}
    for facts in op_facts(result):
        by_op[facts.kind] = by_op.get(facts.kind, 0) + rules.count(facts)
        macs[facts.kind] = macs.get(facts.kind, 0) + facts.macs
    return ConventionCount(rules, sum(by_op.values()), by_op, macs)


def torchinfo_mult_adds(result: TraceResult) -> int:
    """torchinfo's "Total mult-adds" at batch 1 (see the ``torchinfo`` convention's rules)."""
    return count(result, "torchinfo").total


def torch_parameters(result: TraceResult) -> int:
    """``sum(p.numel() for p in model.parameters())``: BN running statistics are buffers."""
    return result.totals.trainable_params


def keras_params(result: TraceResult) -> tuple[int, int, int]:
    """Keras ``model.summary()``: total, trainable, non-trainable (BN moving statistics)."""
    t = result.totals
    return t.params, t.trainable_params, t.non_trainable_params


def peer_numbers(result: TraceResult) -> dict[str, int]:
    total, trainable, non_trainable = keras_params(result)
    return {
        "keras_total_params": total,
        "keras_non_trainable_params": non_trainable,
        "torch_parameters": torch_parameters(result),
        "torchinfo_mult_adds": torchinfo_mult_adds(result),
        **{f"{name.replace('-', '_')}_total": count(result, name).total for name in CONVENTIONS if name != "torchinfo"},
    }
