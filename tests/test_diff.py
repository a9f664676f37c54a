"""`diff`: the two differences the issue names, alignment, JSON contract and exit codes.

Independent numbers:
- resnet50 vs resnet50-2019: the 2019 code drops the pad before pool1, so floor((112 - 3) / 2) + 1
  = 55 instead of floor((114 - 3) / 2) + 1 = 56 (the blog's text says 56). MACs: 3,857,973,248 vs
  3,834,331,136 (issue 2), a change of -23,642,112. Hand check on one layer: res2a_branch2b is
  3·3·64·64 MACs per position: 36,864 · 56² = 115,605,504 vs 36,864 · 55² = 111,513,600.
- resnet50 vs resnet50-torchvision: v1.5 moves the stride from the 1×1 (branch2a) to the 3×3
  (branch2b), torchvision's comment in models/resnet.py; MACs 3,857,973,248 vs 4,089,184,256
  (issue 2): +231,211,008, the "0.23 G" of the issue.
"""

from __future__ import annotations

import json

from typer.testing import CliRunner

from resnet_inspect.cli import app
from resnet_inspect.analysis.diff import diff_specs

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_2019_stem_56_vs_55_and_its_macs():
    result = diff_specs("resnet50", "resnet50-2019")
    by_name = {d.name: d for d in result.layers}
    assert by_name["pool1_pad"].status == "removed"
    pool1 = {c.field: (c.a, c.b) for c in by_name["pool1"].changes}
    assert pool1 == {"output_shape": ([56, 56, 64], [55, 55, 64])}
    branch2b = {c.field: (c.a, c.b) for c in by_name["res2a_branch2b"].changes}
    assert branch2b["macs"] == (36_864 * 56**2, 36_864 * 55**2)
    assert (result.totals_a.macs, result.totals_b.macs) == (3_857_973_248, 3_834_331_136)
    assert result.totals_a.params == result.totals_b.params == 25_636_712
    assert not result.stride_moves and not result.identical


def test_torchvision_stride_moves_from_1x1_to_3x3():
    result = diff_specs("resnet50", "resnet50-torchvision")
    moves = [(m.block, m.from_layer, m.to_layer, m.stride) for m in result.stride_moves]
    assert moves == [(f"res{s}a", f"res{s}a_branch2a", f"res{s}a_branch2b", 2) for s in (3, 4, 5)]
    assert result.totals_b.macs - result.totals_a.macs == 231_211_008
    by_name = {d.name: d for d in result.layers}
    assert {c.field: (c.a, c.b) for c in by_name["bn_conv1"].changes} == {"epsilon": (1e-3, 1e-5)}
    assert by_name["fc1000_softmax"].status == "removed"
    assert {c.field for c in by_name["avg_pool"].changes} >= {"op"}


def test_identical_specs_exit_0():
    result = run("diff", "resnet50", "resnet50")
    assert result.exit_code == 0
    assert "identical" in result.stdout
    assert diff_specs("resnet50", "resnet50").identical


def test_table_shows_stem_and_totals():
    result = run("diff", "resnet50", "resnet50-2019", "--layers")
    assert result.exit_code == 1
    out = result.stdout
    assert "output_shape 56×56×64 → 55×55×64" in out
    assert "-23,642,112" in out


def test_table_shows_the_stride_move_and_mac_change():
    result = run("diff", "resnet50", "resnet50-torchvision", "--layers")
    assert result.exit_code == 1
    assert "stride 2 moved in res3a: res3a_branch2a → res3a_branch2b" in result.stdout
    assert "+231,211,008 (+0.23 G)" in result.stdout


def test_json_contract():
    result = run("diff", "resnet50", "resnet50-torchvision", "--input", "224", "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert set(data) == {"resnet_inspect", "a", "b", "identical", "totals", "stride_moves", "blocks", "layers", "summary"}
    assert data["a"]["spec"] == "resnet50" and data["a"]["input"] == [224, 224, 3]
    assert data["a"]["file"].endswith("resnet50.yaml") and data["blocks"] == []
    assert data["totals"]["macs"] == {"a": 3_857_973_248, "b": 4_089_184_256, "change": 231_211_008}
    assert data["stride_moves"][0] == {"block": "res3a", "stride": 2, "from_layer": "res3a_branch2a",
                                       "to_layer": "res3a_branch2b"}
    layer = next(d for d in data["layers"] if d["a"] == "res3a_branch2a")
    assert layer["status"] == "changed" and layer["changes"]["stride"] == {"a": 2, "b": 1}
    assert set(layer) == {"status", "a", "b", "op", "block", "changes"}


def test_position_pairs_renamed_layers(tmp_path):
    # Renaming the dense layer keeps it paired (same op, same position among the leftovers).
    text = (tmp_path / "a.yaml")
    from resnet_inspect.language.spec import bundled_specs

    source = bundled_specs()["resnet50"].read_text()
    text.write_text(source.replace("name: fc1000,", "name: logits,").replace("fc1000: [1000]", "logits: [1000]"))
    result = diff_specs("resnet50", str(text))
    names = {(d.name_a, d.name_b, d.status) for d in result.layers}
    assert ("fc1000", "logits", "changed") in names
    assert ("fc1000_softmax", "logits_softmax", "changed") in names
    assert result.totals_a == result.totals_b


def test_added_stage_layers_are_added(tmp_path):
    from resnet_inspect.language.spec import bundled_specs

    source = bundled_specs()["resnet50"].read_text()
    path = tmp_path / "deeper.yaml"
    path.write_text(source.replace("blocks: 3, stride: 1", "blocks: 4, stride: 1"))
    result = diff_specs("resnet50", str(path))
    added = [d.name for d in result.layers if d.status == "added"]
    assert added[:3] == ["res2d_branch2a", "bn2d_branch2a", "res2d_branch2a_relu"] and len(added) == 10


def test_bad_spec_is_exit_2():
    result = run("diff", "resnet50", "/no/such.yaml")
    assert result.exit_code == 2
    assert result.stderr == "error: /no/such.yaml: no such spec file\n"


def test_a_removed_block_is_one_row_not_ten(tmp_path):
    # resnet50 with 2 blocks in stage 2 instead of 3: res2c goes, its 10 layers (3 convs, 3 BNs,
    # 2 ReLUs inside, the add and its ReLU) and its params: identity block 256->64->64->256 with
    # biases = (256·64+64) + (9·64·64+64) + (64·256+256) = 70,016 plus BN 4·(64+64+256) = 1,536:
    # 71,552 (hand count).
    from resnet_inspect.language.spec import bundled_specs

    path = tmp_path / "shallower.yaml"
    path.write_text(bundled_specs()["resnet50"].read_text().replace("blocks: 3, stride: 1", "blocks: 2, stride: 1"))
    result = diff_specs("resnet50", str(path))
    assert [(b.status, b.block_a, b.layers, b.params) for b in result.blocks] == [("removed", "res2c", 10, 71_552)]
    assert result.loose_layers == ()  # nothing left to list layer by layer
    out = run("diff", "resnet50", str(path), "--layers").stdout
    assert "res2c_branch2a" not in out and "res2c" in out and "-71,552" in out
    # Same spec name on both sides: told apart by where they come from.
    assert "resnet50 (bundled)" in out and f"resnet50 ({path})" in out.replace("\n", "")


def test_resnet101_adds_blocks_and_renames_others():
    # Keras' resnet101 names stage 4's identity blocks res4b1 … res4b22 (23 blocks) where resnet50
    # has res4b … res4f (6): 5 renamed in stage 4, 3 in stage 3 (res3b1 …), 17 added (23 - 6).
    result = diff_specs("resnet50", "resnet101")
    statuses = [b.status for b in result.blocks]
    assert statuses.count("added") == 17 and statuses.count("renamed") == 8
    assert ("res4f", "res4b5") in [(b.block_a, b.block_b) for b in result.blocks]


# --------------------------------------------------------------------------- the story first (issue 18)
# resnet50 (Keras, the blog) vs resnet50-torchvision: Keras convs carry a bias, torchvision's do not
# (bias=False) on all 53 convs (1 stem + 16 blocks x 3 + 4 projection shortcuts = 53, hand count);
# BN epsilon 1e-3 (Keras) vs 1e-5 (nn.BatchNorm2d default) on the 53 BNs that follow them; the
# stride moves from the 1x1 to the 3x3 in res3a, res4a, res5a (torchvision's models/resnet.py).


def test_summary_tells_the_conventions_and_collapses_repeated_changes():
    summary = diff_specs("resnet50", "resnet50-torchvision").summary
    spec = {c.field: (c.a, c.b) for c in summary.spec}
    assert spec["conventions.conv_bias"] == (True, False)
    assert spec["conventions.bn_epsilon"] == (1e-3, 1e-5)
    assert spec["conventions.stride_on"] == ("1x1", "3x3")
    assert spec["head.pool"] == ("avg", "global")
    groups = {(g.field, g.a, g.b): (g.ops, g.layers) for g in summary.changes if g.field != "output_shape"}
    assert groups[("bias", True, False)] == (("conv",), 53)
    assert groups[("epsilon", 1e-3, 1e-5)] == (("batch_norm",), 53)
    assert ("stride", 2, 1) not in groups  # told as moves, below
    (move,) = summary.moves
    assert (move.stride, move.from_layer, move.to_layer, move.blocks) == (2, "branch2a", "branch2b",
                                                                         ("res3a", "res4a", "res5a"))


def test_table_leads_with_the_story_and_fits_80_columns_whole(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    out = run("diff", "resnet50", "resnet50-torchvision").stdout
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert len(lines) < 50  # 111 layer rows before
    assert lines[0] == "resnet50 (224×224×3) → resnet50-torchvision (224×224×3): 111 layers differ"
    assert "res2a_branch2a" not in out  # no per-layer rows without --layers
    assert any(line.split() == ["53", "conv", "bias", "True", "→", "False"] for line in lines)
    assert any(line.split() == ["53", "batch_norm", "epsilon", "0.001", "→", "1e-05"] for line in lines)
    assert "stride 2 moved from branch2a to branch2b in res3a, res4a, res5a" in " ".join(out.split())
    assert any(line.split()[:1] == ["conventions.conv_bias"] and line.split()[1:] == ["true", "false"] for line in lines)
    header = next(line for line in lines if "resnet50-torchvision" in line and "change" in line)
    assert header.split() == ["resnet50", "resnet50-torchvision", "change"]  # whole, not "resnet50-torchvis…"
    macs = next(line for line in lines if line.startswith("MACs"))
    assert macs.split() == ["MACs", "3,857,973,248", "4,089,184,256", "+231,211,008", "(+0.23", "G)"]


def test_at_60_columns_numbers_stay_whole(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    out = run("diff", "resnet50", "resnet50-torchvision").stdout
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 60
    assert "A = resnet50, B = resnet50-torchvision" in out
    macs = next(line for line in out.splitlines() if line.startswith("MACs"))
    assert macs.split() == ["MACs", "3,857,973,248", "4,089,184,256", "+231,211,008"]


def test_layers_flag_lists_every_row_and_json_keeps_them():
    assert "res2a_branch2a" in run("diff", "resnet50", "resnet50-torchvision", "--layers").stdout
    data = json.loads(run("diff", "resnet50", "resnet50-torchvision", "--format", "json").stdout)
    assert len(data["layers"]) == 111
    summary = data["summary"]
    assert set(summary) == {"spec", "changes", "stride_moves", "blocks", "layers"}
    assert {"field": "conventions.conv_bias", "a": True, "b": False} in summary["spec"]
    assert {"field": "bias", "a": True, "b": False, "ops": ["conv"], "layers": 53, "first": "conv1"} in summary["changes"]
    assert summary["stride_moves"] == [{"stride": 2, "from_layer": "branch2a", "to_layer": "branch2b",
                                        "blocks": ["res3a", "res4a", "res5a"]}]
    assert summary["layers"] == {"changed": 110, "added": 0, "removed": 1, "params": 53, "macs": 3}


def test_blocks_added_are_one_line_with_their_count():
    # resnet101 has 23 blocks in stage 4 where resnet50 has 6: 17 added (Keras' resnet101).
    summary = diff_specs("resnet50", "resnet101").summary
    assert summary.blocks == {"added": 17, "renamed": 8}
    assert {c.field: (c.a, c.b) for c in summary.spec}["stage4.blocks"] == (6, 23)
    assert summary.changes == ()  # every added layer belongs to an added block
    out = run("diff", "resnet50", "resnet101").stdout
    assert "added: res4b6 … res4b22; +19,070,464 params" in out
