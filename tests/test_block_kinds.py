"""The kind of a block is decided once, where the graph builds it, and read by everything else."""

from __future__ import annotations

import pytest

import resnet_inspect
from resnet_inspect.language.spec import bundled_specs
from resnet_inspect.render.diagrams import block_kind, diagram


def kinds(name: str) -> dict[str, str]:
    return {g.name: g.kind for g in resnet_inspect.trace(name).groups("block")}


def test_resnet50_is_a_conv_block_then_identity_blocks_per_stage():
    # The blog (Keras' 2019 resnet50.py): stage 2 is conv_block 'a' + identity_block 'b', 'c';
    # stages 3-5 likewise with 4, 6 and 3 blocks: one conv block per stage, the rest identity blocks.
    found = kinds("resnet50")
    assert [b for b, k in found.items() if k == "conv_block"] == ["res2a", "res3a", "res4a", "res5a"]
    assert sum(k == "identity_block" for k in found.values()) == (3 - 1) + (4 - 1) + (6 - 1) + (3 - 1)


def test_resnet50v2_pool_shortcut_blocks_are_named_alike_by_trace_and_diagram():
    # Keras applications/resnet_v2.py: stack2 ends stages 2-4 with block2(..., stride=2) and no
    # conv shortcut, whose shortcut is MaxPooling2D(1, strides=2); stage 5's last block has stride 1.
    found = kinds("resnet50v2")
    assert [b for b, k in found.items() if k == "shortcut_block"] == ["res2c", "res3d", "res4f"]
    assert found["res5c"] == "identity_block" and found["res2a"] == "conv_block"
    stage = diagram("resnet50v2", "stage", "stage3")
    assert [n.kind for n in stage.nodes[1:-1]] == [found[f"res3{x}"] for x in "abcd"]
    assert stage.nodes[-2].lines[1] == "MaxPool shortcut block"


@pytest.mark.parametrize("name", sorted(bundled_specs()))
def test_trace_and_diagram_read_the_same_kind_for_every_block(name):
    graph = resnet_inspect.load_graph(name)
    for group in resnet_inspect.trace_graph(graph).groups("block"):
        assert group.kind == block_kind(graph, group.name)[0] == graph.block_kind(group.name)
    assert set(graph.block_kinds.values()) <= {"conv_block", "identity_block", "shortcut_block"}
