"""Rendered output compared with stored files, so any change to what users see shows in review.

These are regression checks of our own rendering (torchinfo's habit), not sources of truth for
the numbers: those are asserted against Keras, torchvision and the paper elsewhere. Regenerate
after an intended change with `REGEN_GOLDEN=1 python -m pytest tests/test_rendering.py`.
"""

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resnet_inspect.cli import app

GOLDEN = Path(__file__).resolve().parent / "golden" / "rendering"
CASES = {
    "trace_resnet50_stage.txt": ["trace", "resnet50", "--depth", "stage"],
    "trace_resnet50_block.md": ["trace", "resnet50", "--depth", "block", "--format", "markdown"],
    "trace_resnet50-2019_stem.csv": ["trace", "resnet50-2019", "--format", "csv"],
    "flops_resnet50-torchvision.txt": ["flops", "resnet50-torchvision", "--input", "224", "--input", "224x320"],
    "params_resnet50.md": ["params", "resnet50", "--format", "markdown"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendering_is_unchanged(name):
    result = CliRunner().invoke(app, CASES[name])
    assert result.exit_code == 0, result.output
    path = GOLDEN / name
    if os.environ.get("REGEN_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == path.read_text(encoding="utf-8")
