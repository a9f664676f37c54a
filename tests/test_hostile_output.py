"""Hostile names through every command and output format (issue 7: terminal and markup injection).

A spec's ``name`` and ``description``, the keys of its ``expect:`` block and its file name are
text a pull request controls. Each case writes a tiny spec holding one payload (ANSI and OSC
escapes, BEL, C1 controls, bidi overrides, Rich markup, XML- and GitHub-breaking text, a lone
surrogate, Markdown pipes) and runs one command in a child process through ``tests/hostile.py``,
which judges exit code, traceback, time, RSS, the secret canary and raw ESC/BEL. On top of that,
each format is checked by its own reader: JSON by a strict parser (no bare NaN), JUnit XML by
``xml.etree``, CSV by ``csv``, Markdown tables keep their column count, GitHub workflow commands
stay one line each, and no output carries any raw control character at all.

The cases are generated here (payloads × commands) and run concurrently by a module fixture, so
about ninety child processes cost a fraction of their sequential time.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest

from hostile import Case, Outcome, run_case, yaml_string

PAYLOADS = {
    "ansi_clear": "\x1b[2J\x1b[H",
    "osc_title": "\x1b]0;pwned\x07",
    "bel": "ring\x07ring",
    "c1_csi": "c1\x9b2J",
    "bidi": "abc\u202edcba\u2066x",
    "line_separator": "a\u2028b\u2029c",
    "newline": "two\nlines\r",
    "rich_close": "evil[/]",
    "rich_tag": "net[v1] [bold red]x[/bold red]",
    "xml": '</testcase><x a="&">\x00\x0c]]>',
    "github": "a%0A::error::x,b:c%",
    "markdown_pipe": "a | b | c",
    "noncharacter": "x\ufffe\uffff\x7f",
}
EVERYTHING = "".join(PAYLOADS.values())
PAYLOADS["everything"] = EVERYTHING

# Raw control characters no output may hold (tab/newline aside), whatever the format.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def spec_text(payload: str, blocks: int = 1, extra: str = "") -> bytes:
    """A tiny network (32×32 input, one bottleneck block) named and described by ``payload``."""
    return (f"name: {yaml_string(payload)}\n"
            f"description: {yaml_string('about ' + payload)}\n"
            "input: [32, 32, 3]\n"
            "stem:\n  conv: {filters: 8, kernel: 3, stride: 2}\n"
            f"stages:\n  - {{stage: 2, filters: [4, 4, 8], blocks: {blocks}}}\n"
            "head:\n  pool: global\n  dense: {units: 10}\n" + extra).encode()


def file_name(payload: str) -> str:
    """The payload in a file name too, where a file system can hold it (no '/', NUL or surrogate)."""
    safe = "".join(c for c in payload if c not in "/\x00" and not 0xD800 <= ord(c) <= 0xDFFF)
    return f"spec{safe}.yaml"


@dataclass(frozen=True)
class Form:
    """A command and format to run a hostile spec through, and what a good answer looks like."""

    name: str
    args: tuple[str, ...]  # "{a}" and "{b}" stand for the spec files
    code: int = 0
    check: str = ""  # the format-specific reader: json, junit, csv, markdown, github
    expect_failing: bool = False  # the spec carries a failing `expect:` (for check)
    broken: bool = False  # the spec has an unknown key named by the payload (one error line)


FORMS = {
    "trace": Form("trace", ("trace", "{a}")),
    "trace_block": Form("trace_block", ("trace", "{a}", "--depth", "block")),
    "trace_columns": Form("trace_columns", ("trace", "{a}", "--columns", "op,output_shape,params,trainable,macs,"
                                            "flops,inputs,kernel,stage,block")),
    "trace_narrow": Form("trace_narrow", ("trace", "{a}")),  # run with COLUMNS=40
    "trace_json": Form("trace_json", ("trace", "{a}", "-f", "json"), check="json"),
    "trace_csv": Form("trace_csv", ("trace", "{a}", "-f", "csv"), check="csv"),
    "trace_markdown": Form("trace_markdown", ("trace", "{a}", "-f", "markdown"), check="markdown"),
    "flops": Form("flops", ("flops", "{a}", "-i", "32", "-i", "64")),
    "flops_json": Form("flops_json", ("flops", "{a}", "-f", "json"), check="json"),
    "flops_csv": Form("flops_csv", ("flops", "{a}", "-f", "csv"), check="csv"),
    "flops_markdown": Form("flops_markdown", ("flops", "{a}", "-f", "markdown"), check="markdown"),
    "params": Form("params", ("params", "{a}")),
    "params_json": Form("params_json", ("params", "{a}", "-f", "json"), check="json"),
    "params_csv": Form("params_csv", ("params", "{a}", "-f", "csv"), check="csv"),
    "params_markdown": Form("params_markdown", ("params", "{a}", "-f", "markdown"), check="markdown"),
    "check": Form("check", ("check", "{a}"), code=1, expect_failing=True),
    "check_json": Form("check_json", ("check", "{a}", "-f", "json"), code=1, check="json", expect_failing=True),
    "check_github": Form("check_github", ("check", "{a}", "-f", "github"), code=1, check="github",
                         expect_failing=True),
    "check_junit": Form("check_junit", ("check", "{a}", "-f", "junit"), code=1, check="junit", expect_failing=True),
    "check_broken_github": Form("check_broken_github", ("check", "{a}", "-f", "github"), code=1, check="github",
                                broken=True),
    "check_broken_junit": Form("check_broken_junit", ("check", "{a}", "-f", "junit"), code=1, check="junit",
                               broken=True),
    "diff": Form("diff", ("diff", "{a}", "{b}"), code=1),
    "diff_json": Form("diff_json", ("diff", "{a}", "{b}", "-f", "json"), code=1, check="json"),
    "verify": Form("verify", ("verify", "{a}")),
    "verify_json": Form("verify_json", ("verify", "{a}", "-f", "json"), check="json"),
    "verify_csv": Form("verify_csv", ("verify", "{a}", "-f", "csv"), check="csv"),
    "verify_markdown": Form("verify_markdown", ("verify", "{a}", "-f", "markdown"), check="markdown"),
    "error": Form("error", ("trace", "{a}"), code=2, broken=True),
}
# Every form with the payload that holds everything; each single payload through the formats
# most exposed to it (the terminal table, Markdown, GitHub, JUnit, the error line, JSON).
PER_PAYLOAD = ("trace", "trace_markdown", "check_github", "check_junit", "error", "trace_json")
# (The JSON form of an error goes to stdout with no stderr line, which the harness's exit-2 rule
# does not fit; test_error_json_keeps_the_text_escaped covers it in process.)
CASES = [("everything", form) for form in FORMS]
CASES += [(payload, form) for payload in PAYLOADS if payload != "everything" for form in PER_PAYLOAD]


def make_case(payload_name: str, form: Form) -> Case:
    payload = PAYLOADS[payload_name]
    name_a = file_name(payload)
    extra = ""
    if form.expect_failing:
        extra = f"expect:\n  params: 1\n  shapes: {{{yaml_string('k' + payload)}: [1, 1, 1]}}\n"
    if form.broken:
        extra = f"{yaml_string('key' + payload)}: 1\n"
    files: dict[str, object] = {name_a: spec_text(payload, extra=extra)}
    if "{b}" in form.args:
        files["other" + name_a] = spec_text(payload, blocks=2)
    args = [a.replace("{a}", name_a).replace("{b}", "other" + name_a) for a in form.args]
    env = {"COLUMNS": "40"} if form.name == "trace_narrow" else {}
    return Case("output", f"{form.name}:{payload_name}", args, files, code=form.code, env=env)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome | BaseException]:
    """Every case run once, concurrently: its outcome, or the harness's verdict against it."""
    root = tmp_path_factory.mktemp("hostile_output")

    def one(index: int) -> Outcome | BaseException:
        payload, form = CASES[index]
        try:
            return run_case(make_case(payload, FORMS[form]), root / str(index))
        except BaseException as exc:  # noqa: BLE001 - handed to the test that owns the case
            return exc

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        results = list(pool.map(one, range(len(CASES))))
    return {f"{form}:{payload}": result for (payload, form), result in zip(CASES, results)}


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 60 and len(PAYLOADS) >= 12


@pytest.mark.parametrize("payload,form", CASES, ids=[f"{f}:{p}" for p, f in CASES])
def test_hostile_name(outcomes: dict[str, Outcome | BaseException], payload: str, form: str) -> None:
    outcome = outcomes[f"{form}:{payload}"]
    if isinstance(outcome, BaseException):
        raise outcome
    both = outcome.stdout + outcome.stderr
    raw = RAW.search(both)
    assert raw is None, f"raw {raw.group()!r} in output: {both[-800:]!r}"
    assert "MarkupError" not in both and "Traceback" not in both
    check = FORMS[form].check
    if check:
        globals()[f"_check_{check}"](outcome.stdout, PAYLOADS[payload], FORMS[form])
    if FORMS[form].code == 0 and not check and form != "trace_narrow":
        # The terminal table shows the payload visibly: its markup literally, controls as escapes.
        assert _shown(PAYLOADS[payload].replace("\n", "\\x0a")[:6]) in outcome.stdout.replace("\n", "")


def _shown(text: str) -> str:
    from resnet_inspect.core.usertext import visible

    return visible(text)


def _strict(constant: str) -> None:
    raise ValueError(f"non-strict JSON constant {constant}")


def _check_json(stdout: str, payload: str, form: Form) -> None:
    data = json.loads(stdout, parse_constant=_strict)
    assert isinstance(data["resnet_inspect"], str)
    if form.broken:
        assert data["error"]["file"].startswith("spec") and "\n" not in data["error"]["text"]
    elif "spec" in data:
        assert data["spec"] == payload  # JSON carries the real text, escaped by json itself
    elif "a" in data:
        assert data["a"]["spec"] == payload
    else:
        assert data["specs"][0]["spec"] == payload


def _check_csv(stdout: str, payload: str, form: Form) -> None:
    lines = list(csv.reader(io.StringIO(stdout)))
    assert len(lines) >= 2 and all(len(line) == len(lines[0]) for line in lines), lines[:3]


def _check_markdown(stdout: str, payload: str, form: Form) -> None:
    """Every row of each Markdown table has its header's number of unescaped pipes."""
    table: list[int] = []
    for line in stdout.splitlines() + [""]:
        if line.startswith("|"):
            table.append(len(re.findall(r"(?<!\\)\|", line)))
        elif table:
            assert len(set(table)) == 1, (table, stdout)
            table = []
    assert stdout.count("\n|") >= 3


def _check_github(stdout: str, payload: str, form: Form) -> None:
    lines = stdout.splitlines()
    assert lines[-1].startswith("resnet-inspect check:")
    commands = lines[:-1]
    assert commands and all(line.startswith("::error file=") for line in commands), lines
    for line in commands:
        properties, message = line[len("::error "):].split("::", 1)
        assert all(re.fullmatch(r"(file|line|col|title)=[^,:]*", p) for p in properties.split(",")), properties
        assert "\r" not in message


def _check_junit(stdout: str, payload: str, form: Form) -> None:
    root = ElementTree.fromstring(stdout)
    cases = root.findall(".//testcase")
    assert cases and len({case.get("classname") for case in cases}) == 1
    assert int(root.get("failures")) >= 1
    assert all(set(case.attrib) <= {"name", "classname", "time", "group"} for case in cases)


def test_error_json_keeps_the_text_escaped(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from resnet_inspect.cli import app

    path = tmp_path / file_name(EVERYTHING)
    path.write_bytes(spec_text(EVERYTHING, extra=f"{yaml_string('key' + EVERYTHING)}: 1\n"))
    result = CliRunner().invoke(app, ["trace", str(path), "-f", "json"])
    assert result.exit_code == 2 and RAW.search(result.stdout) is None
    error = json.loads(result.stdout, parse_constant=_strict)["error"]
    assert error["file"] == str(path)  # the real name, escaped by JSON
    assert "\\x1b" in error["text"] and "\x1b" not in error["text"]  # the one-line form is made visible
