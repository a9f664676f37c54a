"""An option the command would not use is refused, never ignored (issue 17).

``diagram --level network --block X`` drew the whole network and exited 0, ignoring ``X`` (and
``--block ''``). The same held for ``rf --unit`` with ``-f csv`` (no place for the unit's centre)
and ``--keras-layout`` with files matched by name (``.npz``, ``.safetensors``). One rule,
``core.errors.unused``: one ``error:`` line naming the option and why, exit 2, nothing written.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import resnet_inspect as ri
from resnet_inspect.cli import app
from resnet_inspect.core.errors import InspectError

runner = CliRunner()


def invoke(*args: str, cwd: Path):
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return runner.invoke(app, list(args))
    finally:
        os.chdir(old)


@pytest.mark.parametrize("args, flag, words", [
    (["diagram", "--level", "network", "--block", "X"], "--block", "level network"),
    (["diagram", "--level", "network", "--block", ""], "--block", "level network"),
    (["diagram", "--level", "network", "--block", "res2a", "-o", "d.svg"], "--block", "level network"),
    (["diagram", "--block", ""], "--block", "is empty"),
    (["diagram", "--level", "stage", "--block", " "], "--block", "is empty"),
    (["rf", "--unit", "3,4", "-f", "csv"], "--unit", "CSV"),
    (["weights", "init", "resnet18", "-o", "w.npz", "--keras-layout", "keras3"], "--keras-layout", "Keras files only"),
])
def test_an_unused_option_is_one_line_and_exit_2(tmp_path: Path, args: list[str], flag: str, words: str) -> None:
    result = invoke(*args, cwd=tmp_path)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {flag}: ") and result.stderr.count("\n") == 1 and words in result.stderr
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_the_options_still_work_where_they_are_used(tmp_path: Path) -> None:
    assert invoke("diagram", "--level", "network", "-f", "mermaid", cwd=tmp_path).exit_code == 0
    assert invoke("diagram", "--level", "stage", "--block", "res3b", "-f", "mermaid", cwd=tmp_path).exit_code == 0
    unit = invoke("rf", "--unit", "3,4", "-f", "markdown", cwd=tmp_path)
    assert unit.exit_code == 0 and "Unit 3,4" in unit.stdout


def test_keras_layout_applies_when_either_file_of_a_conversion_is_keras(tmp_path: Path) -> None:
    assert invoke("weights", "init", "resnet18", "-o", "w.npz", cwd=tmp_path).exit_code == 0
    to_h5 = invoke("weights", "convert", "w.npz", "-s", "resnet18", "-o", "w.h5", "--keras-layout", "blog", cwd=tmp_path)
    assert to_h5.exit_code == 0, to_h5.output
    check = invoke("weights", "check", "resnet18", "w.npz", "--keras-layout", "blog", cwd=tmp_path)
    assert check.exit_code == 2 and "--keras-layout" in check.stderr and "w.npz is matched by array name" in check.stderr
    to_npz = invoke("weights", "convert", "w.npz", "-s", "resnet18", "-o", "w2.npz", "--keras-layout", "blog",
                    cwd=tmp_path)
    assert to_npz.exit_code == 2 and not (tmp_path / "w2.npz").exists()


def test_the_api_refuses_as_the_cli_does() -> None:
    with pytest.raises(InspectError, match="^block: not used here: level network"):
        ri.diagram("resnet50", "network", "res2a")
    with pytest.raises(InspectError, match="^block: is empty"):
        ri.diagram("resnet50", "block", "")
