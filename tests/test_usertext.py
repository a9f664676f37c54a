"""One escaper for every invisible character, and every output goes through it (issue 17, security).

The old escaper matched a hand-picked list; U+061C, U+200B, U+2060 and the tag characters
U+E0000-E007F reached the terminal and the HTML report, and the notebook's ``_repr_html_`` used
``html.escape`` alone, so ESC, BEL and RLO went through raw. Here the set of characters is
generated from the Unicode database (categories Cc, Cf, Zl, Zp), never listed by hand, and a spec
holding them is run through each output: terminal table, Markdown, CSV, JSON, the HTML report, the
notebook's HTML, SVG, DOT and Mermaid diagrams, and error lines.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

import pytest
from typer.testing import CliRunner

import resnet_inspect as ri
from resnet_inspect.cli import app
from resnet_inspect.core.errors import InspectError
from resnet_inspect.core.usertext import (
    escape_char,
    excerpt,
    hidden,
    html_text,
    markup,
    visible,
)

runner = CliRunner()
CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}
HIDDEN = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) in CATEGORIES]
# The ones issue 17 names, each of them in the generated set (a check on the generator, not a list
# the escaper uses): ALM, ZWSP, WJ, a tag, RLO, ESC, BEL, NEL, LS, PS.
NAMED = "\u061c\u200b\u2060\U000e0041\U000e007f\u202e\x1b\x07\x85\u2028\u2029"


def raw_hidden(text: str, keep: str = "\n") -> list[str]:
    """Every character of ``text`` in the four categories (``keep`` aside): what no output may hold."""
    return sorted({f"U+{ord(ch):04X}" for ch in text if ch not in keep and unicodedata.category(ch) in CATEGORIES})


def test_the_generated_set_covers_what_the_issue_names() -> None:
    assert set(NAMED) <= set(HIDDEN)
    assert len(HIDDEN) >= 230  # Unicode 14 (Python 3.11): 65 Cc + 163 Cf (97 of them tags) + 1 Zl + 1 Zp


def test_every_hidden_character_is_shown_as_an_escape() -> None:
    for ch in HIDDEN:
        shown = visible(f"a{ch}b")
        code = ord(ch)
        escape = f"\\x{code:02x}" if code < 0x100 else (f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        assert shown == f"a{escape}b", (hex(code), shown)
        assert hidden(ch) and escape_char(ch) == escape
        assert raw_hidden(markup(ch) + html_text(ch) + excerpt(ch), keep="") == []


def test_newlines_and_tabs_are_kept_only_when_asked() -> None:
    assert visible("a\nb\tc") == "a\\x0ab\\x09c"
    assert visible("a\nb\tc\u200b", keep_newlines=True) == "a\nb\tc\\u200b"


def test_printable_text_is_left_alone() -> None:
    # Letters, marks and symbols of many scripts, the no-break space, private use: shown as they are.
    text = "résnet ΔЖ 日本 ١٢٣ עברית 👍 \u00a0 \ue000 x×y — …"
    assert visible(text) == text and not any(hidden(ch) for ch in text)


def test_noncharacters_and_surrogates_are_escaped_too() -> None:
    # Not in the four categories, but XML 1.0 forbids them and UTF-8 cannot encode a lone surrogate.
    assert visible("\ufffe\uffff\ufdd0\U0010ffff\ud800") == "\\ufffe\\uffff\\ufdd0\\U0010ffff\\ud800"


# --------------------------------------------------------------------------- through every output

PAYLOAD = "n" + "".join(NAMED) + "[b]x[/b]<i>&"


def yaml_quoted(text: str) -> str:
    return '"' + "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\' else
                         (f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}") for ch in text) + '"'


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("usertext") / "hostile.yaml"
    path.write_text(f"name: {yaml_quoted(PAYLOAD)}\ndescription: {yaml_quoted(PAYLOAD)}\n"
                    "input: [32, 32, 3]\nstem:\n  conv: {filters: 8, kernel: 3, stride: 2}\n"
                    "stages:\n  - {stage: 2, filters: [4, 4, 8], blocks: 1}\n"
                    "head:\n  pool: global\n  dense: {units: 10}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("args", [
    ["trace"], ["trace", "-f", "markdown"], ["trace", "-f", "csv"], ["trace", "-f", "json"],
    ["params"], ["flops"], ["memory"], ["rf"], ["names"],
    ["diagram", "-f", "svg"], ["diagram", "-f", "dot"], ["diagram", "-f", "mermaid"],
    ["diagram", "--level", "network", "-f", "mermaid"],
    ["explain", "LAYER", "conv1"], ["trace", "--columns", "nope"],
])
def test_no_output_holds_a_hidden_character(spec: Path, args: list[str]) -> None:
    argv = [args[0], str(spec), *args[1:]] if args[1:2] != ["LAYER"] else [args[0], str(spec), *args[2:]]
    result = runner.invoke(app, argv)
    out = result.stdout + result.stderr
    assert "Traceback" not in out and raw_hidden(out) == [], (argv, out[-500:])
    if result.exit_code == 0 and args[-1] == "json":
        assert json.loads(result.stdout)["spec"] == PAYLOAD  # JSON keeps the real text, \u-escaped


def test_the_html_report_holds_no_hidden_character(spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert runner.invoke(app, ["report", str(spec), "-o", str(out)]).exit_code == 0
    page = out.read_text(encoding="utf-8")
    assert raw_hidden(page) == [] and "\\u202e" in page and "&lt;i&gt;" in page and "<i>" not in page


def test_the_notebook_html_goes_through_the_same_escaper(spec: Path) -> None:
    # It used html.escape alone: ESC, BEL and RLO went through raw.
    from resnet_inspect.analysis.diff import diff_specs

    for shown in (ri.trace(str(spec))._repr_html_(), diff_specs(str(spec), str(spec))._repr_html_()):
        assert raw_hidden(shown) == [] and "\\x1b" in shown and "\\u200b" in shown and "<i>" not in shown


def test_mermaid_comments_cannot_hold_a_directive(tmp_path: Path) -> None:
    # Mermaid reads %%{init: …}%% even inside a %% comment; the spec's name went there raw.
    name = '%%{init: {"theme": "dark", "securityLevel": "loose"}}%%'
    path = tmp_path / "directive.yaml"
    path.write_text(f"name: {yaml_quoted(name)}\ninput: [32, 32, 3]\nstem:\n  conv: {{filters: 8, kernel: 3, stride: 2}}\n"
                    "stages:\n  - {stage: 2, filters: [4, 4, 8], blocks: 1}\nhead:\n  pool: global\n  dense: {units: 10}\n",
                    encoding="utf-8")
    for level in ("block", "stage", "network"):
        result = runner.invoke(app, ["diagram", str(path), "--level", level, "-f", "mermaid"])
        assert result.exit_code == 0, result.output
        assert "%%{" not in result.stdout and "}%%" not in result.stdout and "init:" in result.stdout
        comments = [line for line in result.stdout.splitlines() if line.lstrip().startswith("%%")]
        assert len(comments) == 1 and comments[0].count("%") == 2  # only the comment's own marker


def test_error_lines_show_hidden_characters_as_escapes() -> None:
    error = InspectError("bad " + NAMED, field="x" + NAMED)
    assert raw_hidden(str(error), keep="") == [] and "\\U000e0041" in str(error)
