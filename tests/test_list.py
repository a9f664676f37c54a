"""`list` as a table (issue 18): name, family, layout, params, MACs at 224, what it reproduces.

Independent numbers: resnet50 25,636,712 params (Keras `ResNet50().summary()`), resnet50-torchvision
25,557,032 (= sum(p.numel() for p in torchvision.models.resnet50().parameters())), MACs at 224
3,857,973,248 and 4,089,184,256 (issue 2); resnet18 1.8×10⁹ and resnet34 3.6×10⁹ multiply-adds
(He et al. 2015, Table 1). Families and depths: the papers' names (ResNet-18/34/50/101/152,
ResNeXt-50/101, Wide ResNet-50-2/101-2, ResNet V2 = "Identity Mappings").
"""

from __future__ import annotations

import json

from typer.testing import CliRunner

from resnet_inspect.analysis.zoo import reproduces, zoo
from resnet_inspect.cli import app

runner = CliRunner()


def test_sorted_by_family_then_depth():
    entries = zoo().specs
    families = [e.family for e in entries]
    assert families == sorted(families, key=["ResNet", "Wide ResNet", "ResNeXt", "ResNet V2"].index)
    order = [(e.family, e.depth) for e in entries]
    assert order == sorted(order, key=lambda fd: (["ResNet", "Wide ResNet", "ResNeXt", "ResNet V2"].index(fd[0]), fd[1]))
    by_name = {e.name: e for e in entries}
    assert {name: (e.family, e.depth) for name, e in by_name.items() if name in
            ("resnet18", "resnet152", "resnext50_32x4d", "wide_resnet101_2", "resnet50v2")} == {
        "resnet18": ("ResNet", 18), "resnet152": ("ResNet", 152), "resnext50_32x4d": ("ResNeXt", 50),
        "wide_resnet101_2": ("Wide ResNet", 101), "resnet50v2": ("ResNet V2", 50)}
    assert (by_name["resnet50"].layout, by_name["resnet50-torchvision"].layout) == ("Keras (blog)", "torchvision")


def test_json_keeps_name_and_description_and_adds_the_columns():
    data = json.loads(runner.invoke(app, ["list", "--format", "json"]).stdout)
    r50 = next(s for s in data["specs"] if s["name"] == "resnet50")
    assert r50["description"].startswith("ResNet50 as the blog's walk-through describes it")
    assert (r50["params"], r50["macs"], r50["family"], r50["depth"]) == (25_636_712, 3_857_973_248, "ResNet", 50)
    tv = next(s for s in data["specs"] if s["name"] == "resnet50-torchvision")
    assert (tv["trainable_params"], tv["macs"]) == (25_557_032, 4_089_184_256)
    assert data["input"] == [224, 224]


def test_table_one_line_per_spec_with_layouts_own_params(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    out = runner.invoke(app, ["list"]).stdout
    lines = out.splitlines()
    assert len(lines) < 70 and max(len(line.rstrip()) for line in lines) <= 80
    assert lines[1].split() == ["name", "family", "layout", "params", "MACs"]
    row = next(line for line in lines if line.startswith("resnet50-torchvision "))
    assert row.split() == ["resnet50-torchvision", "ResNet", "torchvision", "25.56", "M", "4.09", "G"]  # torchvision's count
    row = next(line for line in lines if line.startswith("resnet50 "))
    assert row.split() == ["resnet50", "ResNet", "Keras", "(blog)", "25.64", "M", "3.86", "G"]
    assert "    torchvision's resnet50 (ResNet v1.5) under the blog's layer names" in out


def test_csv_has_exact_numbers():
    out = runner.invoke(app, ["list", "--format", "csv"]).stdout
    assert "resnet50-torchvision,ResNet,torchvision,50,25557032,4089184256," in out


def test_reproduces_is_the_first_clause_outside_brackets():
    assert reproduces("ResNet-18 (He et al. 2015, Table 1: basic) in Keras: conv bias") == \
        "ResNet-18 (He et al. 2015, Table 1: basic) in Keras"
