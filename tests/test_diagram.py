"""`diagram`: the blog's block figures and the network by stage, as SVG, DOT and Mermaid.

Layer names and shapes asserted here come from the blog / Keras' ResNet50 (the names
``res3a_branch2a`` … ``bn3a_branch1``, the add ``res3a``) and from hand arithmetic shown beside
each number; the layout is checked geometrically (no text overlaps another, every box holds its
text), and in headless Chromium by ``test_pictures_chromium.py``.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from xml.etree import ElementTree

import pytest
from typer.testing import CliRunner

import resnet_inspect
from resnet_inspect.cli import app
from resnet_inspect.render.diagrams import Diagram, TextBox, block_diagram, diagram, distinct_blocks, text_width
from resnet_inspect.model.engine import trace_graph
from resnet_inspect.core.errors import InspectError, Location
from resnet_inspect.model.graph import Graph, Layer, load_graph
from resnet_inspect.model.ops import Add, BatchNorm, Conv2D, Dense, Flatten, GlobalAvgPool, Input, MaxPool, ReLU
from resnet_inspect.language.spec import bundled_specs

SVG = "{http://www.w3.org/2000/svg}"

# The blog's conv block res3a (Keras' names): three convs with BN (two ReLUs), the 1×1 conv + BN
# on the shortcut, the add and its ReLU.
RES3A = ["res3a_branch2a", "bn3a_branch2a", "res3a_branch2a_relu", "res3a_branch2b", "bn3a_branch2b",
         "res3a_branch2b_relu", "res3a_branch2c", "bn3a_branch2c", "res3a_branch1", "bn3a_branch1", "res3a",
         "res3a_relu"]


def svg_texts(svg: str) -> list[str]:
    root = ElementTree.fromstring(svg)
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def assert_no_text_overlaps(d: Diagram) -> None:
    boxes = d.text_boxes()
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), f"{a.text!r} overlaps {b.text!r}"
    for node in d.nodes:
        for text in node.texts:
            assert text.inside(node.x, node.y, node.width, node.height), f"{text.text!r} outside box {node.id}"
    for node in d.nodes:  # labels never sit on a box either
        area = TextBox("", node.x, node.y, node.width, node.height, 1)
        for edge in d.edges:
            if edge.label_box is not None:
                assert not edge.label_box.overlaps(area), f"label {edge.label} on box {node.id}"
    for box in boxes:
        assert box.inside(0, 0, d.width, d.height), f"{box.text!r} outside the canvas"


def test_conv_block_svg_is_well_formed_and_names_every_layer_of_the_block():
    svg = diagram("resnet50", "block", "res3a").to_svg()
    texts = svg_texts(svg)  # parses as XML, or raises
    for name in RES3A:
        assert name in texts, name
    assert "res2c_relu" in texts  # the block's input: the previous block's ReLU
    # Every layer of the graph in that block is drawn, nothing from other blocks.
    graph = load_graph("resnet50")
    assert {layer.name for layer in graph if layer.block == "res3a"} == set(RES3A)
    drawn = {node.id for node in diagram("resnet50", "block", "res3a").nodes}
    assert set(RES3A) <= drawn and not any(n.startswith("res3b") for n in drawn)


def test_conv_block_shortcut_is_a_side_branch_and_the_identity_shortcut_a_direct_edge():
    conv = diagram("resnet50", "block", "res3a")
    assert conv.node("res3a_branch1").column == 1 and conv.node("bn3a_branch1").column == 1
    assert conv.node("res3a_branch2b").column == 0
    edges = {(e.source, e.target) for e in conv.edges}
    assert {("res2c_relu", "res3a_branch1"), ("bn3a_branch1", "res3a"), ("bn3a_branch2c", "res3a")} <= edges
    identity = diagram("resnet50", "block", "res3b")
    assert ("res3a_relu", "res3b") in {(e.source, e.target) for e in identity.edges}
    assert all(n.column == 0 for n in identity.nodes)


def test_shapes_on_the_edges_follow_hand_arithmetic():
    d = diagram("resnet50", "block", "res3a")
    labels = {(e.source, e.target): e.label for e in d.edges}
    # res2c_relu: 56×56×256 (stage 2 keeps pool1's 56; 4·64 channels).
    assert labels[("res2c_relu", "res3a_branch2a")] == "56×56×256"
    # v1: stride 2 on the first 1×1: ⌊(56 − 1)/2⌋ + 1 = 28; 128 filters (the paper's conv3_x).
    assert labels[("res3a_branch2a", "bn3a_branch2a")] == "28×28×128"
    # shortcut 1×1/2 to 4·128 = 512 channels, the same as branch2c: the add's two inputs agree.
    assert labels[("bn3a_branch1", "res3a")] == labels[("bn3a_branch2c", "res3a")] == "28×28×512"
    # At 224×320 the W axis follows the same rule: 320/4 = 80 after the stem, 40 after res3a.
    wide = diagram("resnet50", "block", "res3a", input="224x320")
    assert {(e.source, e.target): e.label for e in wide.edges}[("bn3a_branch1", "res3a")] == "28×40×512"


def test_network_level_has_a_box_per_stage_with_the_shapes_between():
    d = diagram("resnet50", "network")
    assert [n.id for n in d.nodes] == ["input", "stem", "stage2", "stage3", "stage4", "stage5", "head", "output"]
    labels = [e.label for e in d.edges]
    # 224 → stem (7×7/2 then 3×3/2 pool) 56 → 56, 28, 14, 7 → 1000 classes.
    assert labels == ["224×224×3", "56×56×64", "56×56×256", "28×28×512", "14×14×1024", "7×7×2048", "1000"]
    assert "4 blocks: 1 conv + 3 identity" in svg_texts(d.to_svg())  # the paper's stage 3: 4 blocks


def test_stage_level_has_a_box_per_block():
    d = diagram("resnet50", "stage", "res4c")
    assert [n.id for n in d.nodes][1:-1] == [f"res4{c}" for c in "abcdef"]  # the paper's 6 blocks in conv4_x
    assert diagram("resnet50", "stage", "stage4").nodes == d.nodes == diagram("resnet50", "stage", "4").nodes


@pytest.mark.parametrize("spec", sorted(bundled_specs()))
def test_no_text_overlaps_and_every_text_fits_its_box_in_every_bundled_figure(spec):
    graph = load_graph(spec)
    result = trace_graph(graph)
    figures = [diagram(spec, "network"), diagram(spec, "stage"), diagram(spec, "stage", "stage5")]
    figures += [block_diagram(graph, result, block) for block in distinct_blocks(graph)]
    assert len(figures) >= 5  # network, two stages, a conv block and an identity block
    for d in figures:
        assert_no_text_overlaps(d)


def test_the_overlap_check_can_fail():
    d = diagram("resnet50", "block", "res3a")
    moved = dataclasses.replace(d.nodes[2].texts[0], y=d.nodes[1].texts[0].y)
    assert moved.overlaps(d.nodes[1].texts[0])
    assert not d.nodes[2].texts[0].overlaps(d.nodes[1].texts[0])


def test_text_width_errs_wide_for_wide_glyphs():
    assert text_width("ab", 10) == 2 * text_width("a", 10)
    assert text_width("層", 10) == text_width("ab", 10)  # East Asian wide: two cells in a monospace font


def _layer(name, op, *inputs, block="res2a", stage="stage2"):
    return Layer(name, op, inputs, stage, block, Location("hand-built"))


def preact_pool_shortcut_graph(names: dict[str, str] | None = None) -> Graph:
    """A hand-built pre-activation block whose shortcut is a 1×1/2 max pool (Keras ResNetV2's last block)."""
    n = {"conv": "res2a_branch2b", **(names or {})}
    spec = dataclasses.replace(load_graph("resnet50").spec, input_shape=(16, 16, 8))
    layers = [
        _layer("input", Input((16, 16, 8)), block="stem", stage="stem"),
        _layer("res2a_preact_bn", BatchNorm(), "input"),
        _layer("res2a_preact_relu", ReLU(), "res2a_preact_bn"),
        _layer("res2a_branch2a", Conv2D(4, 1, 1, 0), "res2a_preact_relu"),
        _layer("bn2a_branch2a", BatchNorm(), "res2a_branch2a"),
        _layer("res2a_branch2a_relu", ReLU(), "bn2a_branch2a"),
        _layer(n["conv"], Conv2D(8, 3, 2, 1), "res2a_branch2a_relu"),
        _layer("res2a_branch1", MaxPool(1, 2), "input"),
        _layer("res2a", Add(), n["conv"], "res2a_branch1"),
        _layer("avg_pool", GlobalAvgPool(), "res2a", block="head", stage="head"),
        _layer("flatten", Flatten(), "avg_pool", block="head", stage="head"),
        _layer("fc", Dense(10), "flatten", block="head", stage="head"),
    ]
    return Graph(spec, tuple(layers))


def test_a_max_pool_shortcut_is_drawn_from_the_graph_as_wired():
    graph = preact_pool_shortcut_graph()
    d = block_diagram(graph, trace_graph(graph), "res2a")
    assert d.node("res2a_branch1").kind == "max_pool" and d.node("res2a_branch1").column == 1
    edges = {(e.source, e.target): e.label for e in d.edges}
    # max pool 1×1/2 of 16×16×8: ⌊(16 − 1)/2⌋ + 1 = 8 → 8×8×8, as the 3×3/2 pad-1 conv's ⌊(16 + 2 − 3)/2⌋ + 1 = 8.
    assert edges[("input", "res2a_branch1")] == "16×16×8"
    assert edges[("res2a_branch1", "res2a")] == edges[("res2a_branch2b", "res2a")] == "8×8×8"
    assert ("input", "res2a_preact_bn") in edges
    assert "MaxPool 1×1/2" in svg_texts(d.to_svg())
    assert_no_text_overlaps(d)


HOSTILE = 'x"]<b>&amp;\x1b[31m|`#{}\\N'


def test_hostile_layer_names_stay_one_label_in_every_format():
    graph = preact_pool_shortcut_graph({"conv": HOSTILE})
    d = block_diagram(graph, trace_graph(graph), "res2a")
    assert_no_text_overlaps(d)
    texts = svg_texts(d.to_svg())  # well-formed XML despite < & "
    assert 'x"]<b>&amp;\\x1b[31m|`#{}\\N' in texts  # the escape character shown, not sent
    dot = d.to_dot()
    assert "\x1b" not in dot and '"x\\"]<b>&amp;\\\\x1b[31m|`#{}\\\\N\\nConv2D 3×3/2, 8, pad 1"' in dot
    mermaid = d.to_mermaid()
    assert "\x1b" not in mermaid
    line = next(line for line in mermaid.splitlines() if "Conv2D 3×3/2" in line)
    assert line.count('"') == 2 and "<b>" not in line and "]" not in line[line.index('"'):line.rindex('"')]


def test_hostile_spec_name_in_the_title_is_escaped(tmp_path):
    text = (resnet_inspect.language.spec.bundled_specs()["resnet50"]).read_text(encoding="utf-8")
    path = tmp_path / "evil.yaml"
    path.write_text(text.replace("name: resnet50", 'name: "</title><script>alert(1)</script>\\e]0;x\\a"'),
                    encoding="utf-8")
    svg = diagram(str(path), "network").to_svg()
    root = ElementTree.fromstring(svg)
    assert root.find(f"{SVG}script") is None and "<script>" not in svg and "\x1b" not in svg
    assert root.find(f"{SVG}title").text.startswith("</title><script>")


def test_unknown_block_is_one_line_naming_the_choices():
    with pytest.raises(InspectError) as caught:
        diagram("resnet50", "block", "res9z")
    assert "res9z" in str(caught.value) and "res2a" in str(caught.value) and caught.value.field == "block"  # the API names its argument; the CLI says --block


runner = CliRunner()


def test_cli_writes_svg_atomically_and_prints_mermaid(tmp_path):
    out = tmp_path / "res2a.svg"
    done = runner.invoke(app, ["diagram", "resnet50", "--block", "res2a", "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert "res2a_branch1" in svg_texts(out.read_text(encoding="utf-8"))
    assert [p.name for p in tmp_path.iterdir()] == ["res2a.svg"]  # no temporary left behind
    done = runner.invoke(app, ["diagram", "--block", "res2b", "--format", "mermaid"])
    assert done.exit_code == 0 and done.output.startswith("flowchart TB")
    assert re.search(r'n0 -->\|"56×56×256"\| n1', done.output)


def test_cli_refuses_a_suffix_that_does_not_match_the_format(tmp_path):
    done = runner.invoke(app, ["diagram", "--format", "dot", "-o", str(tmp_path / "x.svg")])
    assert done.exit_code == 2 and "must end in .dot, .gv" in done.output
    assert not list(tmp_path.iterdir())


def test_readme_mermaid_block_is_what_the_command_prints():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```mermaid\n(.*?)```", readme, flags=re.S)
    done = runner.invoke(app, ["diagram", "resnet50", "--block", "res2b", "--format", "mermaid"])
    assert done.exit_code == 0 and done.output == block


def test_package_api_exposes_diagram_and_report_html():
    d = resnet_inspect.diagram("resnet50", level="block", block="res3a", input=224)
    assert isinstance(d, resnet_inspect.Diagram) and d.to_svg().startswith("<svg")
    assert resnet_inspect.report_html("resnet50").startswith("<!DOCTYPE html>")


def test_resnet50v2_pool_shortcut_block_is_named_by_its_wiring():
    # Keras' resnet_v2 stack: the last block of stages 2-4 strides by a MaxPooling2D(1, strides=2)
    # shortcut (keras/src/applications/resnet.py, block2 with conv_shortcut=False, stride 2).
    d = diagram("resnet50v2", "block", "res2c")
    pools = [n for n in d.nodes if n.kind == "max_pool"]
    assert len(pools) == 1 and pools[0].column == 1 and "MaxPool 1×1/2" in pools[0].lines
    assert d.title.startswith("res2c: MaxPool shortcut block of stage2")
    stage = diagram("resnet50v2", "stage", "stage2")
    assert [n.lines[1] for n in stage.nodes[1:-1]] == ["conv block", "identity block", "MaxPool shortcut block"]


def test_readme_picture_commands_run_as_written(tmp_path, monkeypatch):
    import shlex
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Pictures: `diagram` and `report`"):]
    section = section[: section.index("\n## ", 1)]
    commands = re.findall(r"^\$ resnet-inspect (.*?)(?:\s+#.*)?$", section, flags=re.M)
    assert len(commands) == 5
    monkeypatch.chdir(tmp_path)
    for command in commands:
        done = runner.invoke(app, shlex.split(command))
        assert done.exit_code == 0, (command, done.output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r152.dot", "r50tv.html", "res3a.svg", "stage4.svg"]


def test_stem_and_head_are_drawn_without_a_block_kind():
    stem = diagram("resnet50", "block", "stem")
    assert stem.title == "stem of resnet50 at 224×224×3"
    # The blog's stem: pad 3 → 230, conv 7×7/2 → ⌊(230 − 7)/2⌋ + 1 = 112, pad 1 → 114, pool 3×3/2 → 56.
    assert [e.label for e in stem.edges] == ["224×224×3", "230×230×3", "112×112×64", "112×112×64", "112×112×64",
                                             "114×114×64", "56×56×64"]
    assert diagram("resnet50", "block", "head").title == "head of resnet50 at 224×224×3"


def test_two_side_runs_get_two_columns():
    spec = dataclasses.replace(load_graph("resnet50").spec, input_shape=(8, 8, 4))
    layers = (
        _layer("input", Input((8, 8, 4)), block="stem", stage="stem"),
        _layer("a1", Conv2D(4, 3, 1, 1), "input"), _layer("a2", BatchNorm(), "a1"), _layer("a3", ReLU(), "a2"),
        _layer("a4", Conv2D(4, 3, 1, 1), "a3"), _layer("a5", BatchNorm(), "a4"),
        _layer("pool", MaxPool(1, 1), "input"),
        _layer("proj", Conv2D(4, 1, 1, 0), "input"), _layer("proj_bn", BatchNorm(), "proj"),
        _layer("res2a", Add(), "a5", "pool", "proj_bn"),
    )
    graph = Graph(spec, layers)
    d = block_diagram(graph, trace_graph(graph), "res2a")
    assert {n.id: n.column for n in d.nodes if n.column} == {"pool": 1, "proj": 2, "proj_bn": 2}
    assert d.node("proj").x > d.node("pool").x + d.node("pool").width
    assert_no_text_overlaps(d)
