"""The README's examples stay true: its Python block runs, and its stated values hold."""

import ast
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_python_api_block_runs_and_its_comments_are_true(monkeypatch):
    monkeypatch.chdir(README.parent)
    block = python_blocks()[0]
    namespace: dict = {}
    checked = 0
    for line in block.splitlines():
        code, _, comment = line.partition("#")
        if code.strip():
            exec(code, namespace)
        expected = comment.strip()
        if code.strip() and re.fullmatch(r"\(.*\)", expected):
            assert eval(code.strip(), namespace) == ast.literal_eval(expected), line
            checked += 1
    assert checked >= 2


def test_readme_numbers_match_the_engine():
    import resnet_inspect

    text = README.read_text(encoding="utf-8")
    for name in ("resnet50", "resnet50-2019", "resnet50-torchvision"):
        totals = resnet_inspect.trace(name).totals
        assert f"{totals.params:,}" in text and f"{totals.macs:,}" in text
