"""Any terminal, any stream (issue 17): encodings, closed streams, odd widths.

Before: with ``PYTHONIOENCODING=ascii`` or ``latin-1`` the tables, Markdown, explain, names, rf,
memory, check, diff, verify and the Mermaid diagram died with ``UnicodeEncodeError``; a closed
stdout gave ``AttributeError`` and exit 1 after ``report`` had written its file; a closed stderr
turned exit 2 into a silent 1; ``COLUMNS=0`` on a terminal printed nothing; piped ``COLUMNS=30``
split layer names across lines. The guard is one function (``render/streams.guard``) run by the
console script, so these tests run the real process.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from resnet_inspect.render.streams import ERRORS, MIN_WIDTH, ascii_text, floor

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def run(*args: str, env: dict[str, str] | None = None, shell: str | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    environment.update({"PYTHONPATH": str(ROOT), **(env or {})})
    command = [sys.executable, "-m", "resnet_inspect", *args]
    if shell is not None:  # a redirection the test needs, e.g. ">&-"
        command = ["sh", "-c", " ".join(f"'{part}'" for part in command) + " " + shell]
    return subprocess.run(command, capture_output=True, env=environment, cwd=cwd, timeout=120, check=False)


# --------------------------------------------------------------------------- the root


def test_ascii_stand_ins() -> None:
    assert ascii_text("56×56×256 — 1.8 G → ok…") == "56x56x256 - 1.8 G -> ok..."
    assert ascii_text("┏━┳┓┃│└─┴┘╇") == "+-++||+-+++"
    assert ascii_text("é\u4e2d\U0001f600") == "\\xe9\\u4e2d\\U0001f600"  # the rest: visible escapes
    assert "×é".encode("ascii", errors=ERRORS) == b"x\\xe9"
    assert "→×é".encode("latin-1", errors=ERRORS) == "->×é".encode("latin-1")  # only what it cannot hold


def test_width_floor() -> None:
    assert [floor(w) for w in (0, 1, 30, MIN_WIDTH, 120)] == [MIN_WIDTH] * 4 + [120]


# --------------------------------------------------------------------------- encodings

COMMANDS = {
    "trace": (["trace", "resnet18"], 0), "markdown": (["trace", "resnet18", "-f", "markdown"], 0),
    "explain": (["explain", "resnet50", "conv1"], 0), "names": (["names", "resnet18"], 0),
    "rf": (["rf", "resnet18"], 0), "memory": (["memory", "resnet18"], 0),
    "check": (["check", str(SPECS / "resnet18.yaml")], 0),
    "diff": (["diff", "resnet50", "resnet50-torchvision"], 1),
    "verify": (["verify", "resnet18", "--input", "32"], 2),  # too small: the error line holds × and →
    "verify_table": (["verify", "resnet18"], 0),  # ✓ in every row
    "mermaid": (["diagram", "resnet18", "-f", "mermaid"], 0),
    "error": (["trace", "resnet50", "--input", "192"], 2),
}


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_narrow_encoding_gets_ascii_not_a_crash(encoding: str, name: str) -> None:
    args, code = COMMANDS[name]
    done = run(*args, env={"PYTHONIOENCODING": encoding})
    assert done.returncode == code, done.stderr.decode(encoding, "replace")[-600:]
    out, err = done.stdout.decode(encoding), done.stderr.decode(encoding)  # strict: every byte encodable
    assert "Traceback" not in err and "UnicodeEncodeError" not in err
    assert out or err.startswith("error: ")
    if name in ("trace", "names", "diff", "verify_table"):  # Rich's ASCII box: a rule is +----+ or ---+---
        assert any(line.strip() and set(line.strip()) <= set("+-") for line in out.splitlines()), out[:400]
        # The stand-ins were laid out, not swapped in after: every row of the table is as wide as its border.
        tables: list[set[int]] = [set()]
        for line in out.splitlines():
            if line.startswith(("|", "+")):
                tables[-1].add(len(line))
            elif tables[-1]:
                tables.append(set())
        assert all(len(widths) <= 1 for widths in tables), tables
    if name == "trace":  # the Total params line of `trace resnet18` with UTF-8 (Keras' convention)
        assert ("224x224x3" if encoding == "ascii" else "224×224×3") in out and "11,703,912" in out


# --------------------------------------------------------------------------- closed streams


def test_a_closed_stdout_is_refused_before_any_work(tmp_path: Path) -> None:
    done = run("report", "resnet18", "-o", "r.html", shell=">&-", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.decode().startswith("error: standard output is closed")
    assert "Traceback" not in done.stderr.decode() and list(tmp_path.iterdir()) == []


def test_a_closed_stderr_keeps_exit_2() -> None:
    assert run("trace", "resnet50", "--input", "7", shell="2>&-").returncode == 2
    assert run("trace", "--no-such-option", shell="2>&-").returncode == 2


# --------------------------------------------------------------------------- widths


def on_terminal(*args: str, columns: str) -> str:
    """Run with stdout on a pseudo-terminal; what it printed."""
    master, slave = pty.openpty()
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": columns, "TERM": "xterm"}
    process = subprocess.Popen([sys.executable, "-m", "resnet_inspect", *args], stdin=slave, stdout=slave,
                               stderr=slave, env=environment)  # all three on the terminal, as in a shell
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(60)
    os.close(master)
    assert process.returncode == 0
    return re.sub(r"\x1b\[[0-9;]*m", "", b"".join(chunks).decode("utf-8", "replace"))  # colours off


def test_columns_zero_on_a_terminal_still_prints() -> None:
    out = on_terminal("params", "resnet18", columns="0")
    assert "11,703,912" in out and "stage5" in out


def layer_names(spec: str) -> list[str]:
    return [layer["name"] for layer in json.loads(run("trace", spec, "-f", "json").stdout)["layers"]]


@pytest.mark.parametrize("columns", ["30", "1", "45"])
def test_names_and_numbers_stay_whole_on_a_narrow_pipe(columns: str) -> None:
    out = run("trace", "resnet50", env={"COLUMNS": columns}).stdout.decode()
    cells = {cell.strip() for line in out.splitlines() for cell in line.strip("│┃").split("│")}
    missing = [name for name in layer_names("resnet50") if name not in cells]
    assert missing == [], missing[:5]
    assert "Params" in out and "…" not in out
    params = run("params", "resnet50", env={"COLUMNS": columns}).stdout.decode()
    assert "25,636,712" in params and "…" not in params  # Keras' model.summary() total
