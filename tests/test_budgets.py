"""Issue 17: a stated work budget (sizes × layers) on every command whose work grows with input.

The budget is one constant (:data:`resnet_inspect.core.work.WORK_BUDGET`, stated in the README)
checked by one function, before the work: the issue's examples (``flops resnet50 --input
1:100000`` took 99 s, ``flops resnet152 --input 100000000:100099999:1`` 293 s, ``check`` of a
spec with 1,800 blocks and 9,000 ``expect`` sizes past 60 s) now end in one line, in seconds.
Layer counts are the engine's own (resnet50: 179 layers, resnet152: 519; ``trace`` lists them).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import resnet_inspect
from resnet_inspect import InspectError, load_graph
from resnet_inspect.analysis.check import check_paths
from resnet_inspect.analysis.sweep import parse_sizes, sweep
from resnet_inspect.core.work import WORK_BUDGET, check_work

ROOT = Path(__file__).resolve().parent.parent
RESNET50_LAYERS = len(load_graph("resnet50").layers)


def test_the_budget_function_counts_sizes_times_layers():
    assert check_work(1000, 250, "input") == 250_000 == WORK_BUDGET  # at the budget: allowed
    with pytest.raises(InspectError) as caught:
        check_work(1001, 250, "input 1:1001", field="input")
    text = str(caught.value)
    assert "1,001 sizes × 250 layers = 250,250 layer traces" in text and "the budget is 250,000" in text
    assert caught.value.field == "input" and text.startswith("input: input 1:1001 asks for")


def test_the_readme_states_the_budget():
    assert f"{WORK_BUDGET:,}" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_a_range_is_counted_before_any_size_is_made():
    # 10**6 sizes (1:1000000 is within the value bound) over resnet50: refused by count, not by time.
    started = time.perf_counter()
    with pytest.raises(InspectError, match="the budget is 250,000"):
        parse_sizes(["1:1000:1", "1:1000:1"], RESNET50_LAYERS)  # 2,000 × 179 = 358,000
    with pytest.raises(InspectError, match="at most 100,000 in one sweep"):
        parse_sizes(["1:1000000"], RESNET50_LAYERS)
    assert time.perf_counter() - started < 1
    assert len(parse_sizes(["1:1396"], RESNET50_LAYERS)) == 1396  # 1,396 × 179 = 249,884 <= 250,000


def test_the_api_has_the_same_budget():
    graph = load_graph("resnet50")
    with pytest.raises(InspectError, match="budget") as caught:
        sweep(graph, [(224, 224)] * 1400)
    assert "--" not in str(caught.value)
    with pytest.raises(InspectError, match="budget"):
        resnet_inspect.flops("resnet50", [224] * 1400)


def _cli(*args: str, cwd: Path | None = None) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "resnet_inspect", *args], capture_output=True, text=True,
                            timeout=120, cwd=cwd, env={**os.environ, "PYTHONIOENCODING": "utf-8",
                                                        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])})
    return result, time.perf_counter() - started


@pytest.mark.parametrize("args", [
    ["flops", "resnet50", "--input", "1:100000"],  # was 99 s and 350 MB
    ["flops", "resnet152", "--input", "100000000:100099999:1"],  # was 293 s (now past the size bound)
    ["flops", "resnet152", "--input", "100000:100999:1"],  # 1,000 × 519 = 519,000 layer traces
])
def test_issue_examples_end_at_once_in_one_line(args):
    result, seconds = _cli(*args)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and result.stderr.startswith("error: --input")
    assert re.search(r"budget is 250,000|at most 1,000,000", result.stderr)
    assert seconds < 10 and result.stdout == ""  # about 1 s of start-up on an idle core


def _big_spec(tmp_path: Path) -> Path:
    """The issue's hostile spec: 4 stages of 450 bottlenecks (1,800 blocks) and 9,000 expect sizes."""
    text = (ROOT / "specs" / "resnet50.yaml").read_text(encoding="utf-8").split("stages:")[0]
    text += "stages:\n" + "".join(f"  - {{stage: {n}, filters: [base, base, 4*base], blocks: 450, stride: 2}}\n"
                                  for n in (2, 3, 4, 5))
    text += "head:\n  pool: global\n  dense: {units: 1000, name: fc1000}\nexpect:\n  macs:\n"
    text += "".join(f"    {size}: 3857973248\n" for size in range(1000, 10000))
    path = tmp_path / "big.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_check_of_a_huge_spec_fails_that_spec_by_the_budget(tmp_path):
    big = _big_spec(tmp_path)
    (tmp_path / "ok.yaml").write_text((ROOT / "specs" / "resnet18.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    started = time.perf_counter()
    report = check_paths([tmp_path])
    assert time.perf_counter() - started < 30  # parsing 9,000 located YAML keys is most of it
    by_file = {Path(s.file).name: s for s in report.specs}
    assert by_file["ok.yaml"].ok  # the other specs are still checked and reported
    error = by_file[big.name].error
    assert error is not None and "9,001 sizes" in str(error) and "the budget is 250,000" in str(error)
    assert error.where is not None and error.where.line is not None and error.field == "expect"


def test_check_cli_reports_the_budget_in_one_line(tmp_path):
    _big_spec(tmp_path)
    result, seconds = _cli("check", "big.yaml", "-f", "github", cwd=tmp_path)
    assert result.returncode == 1 and "budget is 250,000" in result.stdout and seconds < 30
    assert "Traceback" not in result.stderr
