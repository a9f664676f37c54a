"""`--help` at 80 and 60 columns (issue 18): a choice list never breaks inside a word (`torchvis
ion`), a default is never cut (`mac…`), and no text sends a pip user to a README they never see."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from resnet_inspect.model.naming import SCHEMES

COMMANDS = [["trace"], ["flops"], ["params"], ["list"], ["check"], ["diff"], ["names"], ["rf"], ["memory"],
            ["explain"], ["schema"], ["new"], ["run"], ["verify"], ["diagram"], ["report"],
            ["weights", "init"], ["weights", "convert"], ["weights", "check"]]


def help_text(command: list[str], columns: int) -> str:
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "dumb", "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "resnet_inspect", *command, "--help"], capture_output=True,
                          text=True, env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("columns", [80, 60])
def test_help_never_cuts_a_choice_or_a_default(columns):
    for command in COMMANDS:
        text = help_text(command, columns)
        assert not re.search(r"[\w(\[.-]…", text), (command, text)  # Rich's mark for a cut word: `mac…`
        assert max(len(line) for line in text.splitlines()) <= columns
        words = set(text.replace(",", " ").replace(".", " ").replace(":", " ").split())
        if "--names" in text:  # each scheme whole: blog, caffe, keras3, torchvision (SCHEMES)
            assert set(SCHEMES) <= words, (command, text)
        assert "README" not in text, (command, text)


def test_format_choices_are_listed_from_the_table():
    text = help_text(["trace"], 80)
    assert "Output format: table, json, csv, markdown." in " ".join(text.replace("│", " ").split())
