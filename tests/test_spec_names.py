"""Did you mean: a misspelt spec name gets the closest bundled names, not all 20 (issue 18).

The bundled names are the files in specs/ (resnet50, resnet50-torchvision, ...); each case below
is a spelling a user typed in the issue.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import app
from resnet_inspect.core.errors import close_names

runner = CliRunner()


@pytest.mark.parametrize("typed, meant", [("resnet-50", "resnet50"), ("ResNet50", "resnet50"),
                                          ("resnet50_torchvision", "resnet50-torchvision"),
                                          ("RESNEXT50-32X4D", "resnext50_32x4d")])
def test_case_dash_and_underscore_point_to_the_one_name(typed, meant):
    result = runner.invoke(app, ["trace", typed])
    assert result.exit_code == 2
    assert result.stderr == (f"error: {typed}: unknown spec '{typed}'; did you mean {meant}? (`resnet-inspect list` "
                             "shows the 20 bundled specs; a path contains / or ends in .yaml or .yml, e.g. ./name)\n")


def test_a_typo_gets_the_closest_names_first():
    result = runner.invoke(app, ["trace", "resnet05"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "did you mean resnet50," in result.stderr and "resnext" not in result.stderr


def test_nothing_close_lists_no_names():
    result = runner.invoke(app, ["trace", "myspec"])
    assert result.stderr.startswith("error: myspec: unknown spec 'myspec' (`resnet-inspect list` shows")


@pytest.mark.parametrize("command", [["trace"], ["check"], ["diff", "resnet50"]])
def test_a_missing_file_named_like_a_bundled_spec_points_to_it(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [*command, "resnet50.yaml"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "did you mean the bundled spec resnet50 (its name, without a path or .yaml)?" in result.stderr


def test_close_names_is_the_one_did_you_mean_for_layers_too():
    assert sorted(close_names("res2x", ["res2a", "res2b", "res2c", "res5c"])) == ["res2a", "res2b", "res2c"]
    assert close_names("Res2A", ["res2a", "res2b"]) == ["res2a"]
