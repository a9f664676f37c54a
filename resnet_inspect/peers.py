"""Reproduce the numbers other tools print for the same network, from one trace.

Peers count differently, and users port between them; each function here states the peer's
rule (read from its source) so a number can be matched exactly, not "roughly 4.1 G".
"""

from __future__ import annotations

from .statistics import TraceResult


def torchinfo_mult_adds(result: TraceResult) -> int:
    """torchinfo's "Total mult-adds" at batch 1.

    torchinfo (layer_info.py, calculate_macs) adds, for every ``weight`` and ``bias`` parameter:
    in Conv layers ``numel * H_out * W_out`` (so a conv's bias adds one per output element), in
    every other layer ``numel`` once (Linear ``C_in*C_out + C_out``, BatchNorm gamma and beta).
    Parameter-free layers (ReLU, pooling, add) count nothing.
    """
    total = 0
    for layer in result.layers:
        if layer.op == "conv":
            bias_adds = layer.flops - 2 * layer.macs  # our conv FLOPs rule adds one per output element for a bias
            total += layer.macs + bias_adds
        else:
            total += layer.trainable_params
    return total


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
    }
