"""Hostile input to `diagram` and `report`: one child process per case, judged by tests/hostile.py.

Each case must end with exit 2 and one `error:` line naming the field or file (or succeed within
the time and memory limits), print no raw control character, and leave the folder outside its
own untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hostile import Case, run_case
from resnet_inspect.language.spec import bundled_specs

R50 = bundled_specs()["resnet50"].read_text(encoding="utf-8")


def _deep(text: str) -> bytes:
    """resnet50 with 1,000 blocks in stage 4 (the spec language's limit): ~10,000 layers.

    Drawing and tabulating must stay linear in the layers: before block_layers() the report
    scanned the whole graph once per block (quadratic: six minutes under a profiler for 1,000
    blocks in every stage, 1.8 s of CPU once linear).
    """
    return text.replace("blocks: 6, stride", "blocks: 1000, stride", 1).encode()


CASES = [
    Case("pictures", "control characters in --block", ["diagram", "--block", "res\x1b]0;owned\x07"],
         expect=("--block", "\\x1b")),
    Case("pictures", "unknown stage", ["diagram", "--level", "stage", "--block", "stage9"], expect=("stage9",)),
    Case("pictures", "input too small", ["diagram", "--input", "31"], expect=("layer",)),
    Case("pictures", "input not a size", ["report", "--input", "2e9", "-o", "r.html"], expect=("--input",)),
    Case("pictures", "report onto a non-html name", ["report", "-o", "spec.yaml"],
         files={"spec.yaml": R50.encode()}, expect=("must end in .htm, .html",)),
    Case("pictures", "diagram suffix does not match the format", ["diagram", "--format", "mermaid", "-o", "d.svg"],
         expect=("must end in .mermaid, .mmd",)),
    Case("pictures", "output is a folder", ["report", "-o", "out.html"], files={"out.html/keep": b""},
         expect=("is a folder",)),
    Case("pictures", "output folder missing", ["diagram", "-o", "no/such/d.svg"], expect=("no/such/d.svg",)),
    Case("pictures", "1,000 blocks in a stage", ["report", "deep.yaml", "-o", "deep.html"],
         files={"deep.yaml": _deep(R50)}, code=0),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_pictures(case: Case, tmp_path: Path) -> None:
    outcome = run_case(case, tmp_path)
    if case.code == 0:
        assert (tmp_path / "work" / "deep.html").stat().st_size > 1_000_000  # ~10,000 table rows
        assert not [p for p in (tmp_path / "work").iterdir() if p.name.startswith(".")]  # no temporary left
    assert outcome.code == case.code
