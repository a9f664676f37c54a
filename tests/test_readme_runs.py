"""Every README example runs as written, in an empty folder, with the installed command.

The conventions (also in the README's Development section, for whoever adds a block):

* ```console: ``$ `` lines are commands, run by bash; each must exit 0, or 1 when its comment
  says ``# exit 1``, or 2 when the next line shown is an ``error: …`` line. The lines after a
  command are its expected output; each must appear in what it printed (``…`` matches anything;
  runs of whitespace and line breaks count as one space, since Rich wraps captions).
* ```bash: the whole block runs with ``bash -euo pipefail`` and must exit 0.
* ```python: runs as a script; ``expression  # literal`` lines assert ``expression == literal``.
* ``<!-- readme-test: skip (why) -->`` on the line before a fence: not run (installs, CI YAML).
  Other languages (yaml, json, text) are never run.

Each block runs on its own in a fresh temporary folder, so a block makes what it needs.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BIN = Path(sys.executable).parent
RUNNABLE = ("console", "bash", "python")
SKIP = re.compile(r"<!--\s*readme-test:\s*skip\b")
TIMEOUT = 600


@dataclass(frozen=True)
class Block:
    language: str
    text: str
    line: int  # of the opening fence, 1-based
    skipped: bool


def blocks(text: str) -> list[Block]:
    found, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        match = re.match(r"^```(\w*)\s*$", lines[i])
        if not match:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        skipped = i > 0 and bool(SKIP.search(lines[i - 1]))
        found.append(Block(match.group(1), "\n".join(lines[i + 1:end]) + "\n", i + 1, skipped))
        i = end + 1
    return found


BLOCKS = [b for b in blocks(README.read_text(encoding="utf-8")) if b.language in RUNNABLE and not b.skipped]


def environment(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR",)}
    env.update({"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "COLUMNS": "120", "NO_COLOR": "1",
                "HOME": str(folder)})
    return env


@dataclass(frozen=True)
class Command:
    line: str
    output: tuple[str, ...]

    @property
    def expected_exit(self) -> int:
        if self.output and self.output[0].startswith("error:"):
            return 2
        match = re.search(r"#\s*exit (\d+)", self.line)
        return int(match.group(1)) if match else 0


def commands(block: Block) -> list[Command]:
    found: list[Command] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            found.append(Command(line[2:], ()))
        elif line.strip() and found:
            found[-1] = Command(found[-1].line, found[-1].output + (line.strip(),))
    return found


def shown_in(expected: str, printed: str) -> bool:
    """``expected`` appears in ``printed``, whitespace collapsed (Rich wraps captions to a table's
    width), ``…`` matching anything."""
    pattern = ".*?".join(re.escape(" ".join(part.split())) for part in expected.split("…"))
    return re.search(pattern, " ".join(printed.split())) is not None


def run_console(block: Block, folder: Path) -> None:
    steps = commands(block)
    assert steps, f"README.md:{block.line}: a console block without `$ ` commands: use ```text"
    for step in steps:
        done = subprocess.run(["bash", "-c", step.line], cwd=folder, env=environment(folder), capture_output=True,
                              text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        printed = done.stdout + done.stderr
        where = f"README.md:{block.line}: $ {step.line}\n{printed[-3000:]}"
        assert done.returncode == step.expected_exit, f"exit {done.returncode}, expected {step.expected_exit}: {where}"
        assert "Traceback" not in printed, where
        for expected in step.output:
            assert shown_in(expected, printed), f"not printed: {expected!r}: {where}"


def run_bash(block: Block, folder: Path) -> None:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block.text], cwd=folder, env=environment(folder),
                          capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"README.md:{block.line}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"


def with_assertions(code: str) -> str:
    """``expr  # literal`` becomes ``assert (expr) == literal``; other lines are left as they are."""
    out = []
    for line in code.splitlines():
        source, _, comment = line.partition("  #")
        try:
            expected = ast.literal_eval(comment.strip())
            ast.parse(source.strip(), mode="eval")
        except (ValueError, SyntaxError):
            out.append(line)
            continue
        out.append(f"assert ({source.strip()}) == {expected!r}, {line!r}")
    return "\n".join(out) + "\n"


def run_python(block: Block, folder: Path) -> None:
    script = folder / "readme_block.py"
    script.write_text(with_assertions(block.text), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=folder, env=environment(folder), capture_output=True,
                          text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"README.md:{block.line}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"


@pytest.mark.skipif(not (BIN / "resnet-inspect").exists(), reason="resnet-inspect is not installed beside python")
@pytest.mark.parametrize("block", BLOCKS, ids=[f"README.md:{b.line}-{b.language}" for b in BLOCKS])
def test_readme_block_runs(block: Block, tmp_path: Path) -> None:
    {"console": run_console, "bash": run_bash, "python": run_python}[block.language](block, tmp_path)


# --------------------------------------------------------------------------- the runner itself


def test_the_runner_finds_the_readme_blocks():
    languages = [b.language for b in BLOCKS]
    assert languages.count("console") >= 5 and "python" in languages
    skipped = [b for b in blocks(README.read_text(encoding="utf-8")) if b.skipped]
    assert len(skipped) >= 3 and all(b.language in RUNNABLE + ("yaml",) for b in skipped)


def test_the_runner_fails_a_wrong_example(tmp_path):
    wrong = Block("console", "$ resnet-inspect params resnet50\n…25,636,713…\n", 1, False)
    with pytest.raises(AssertionError, match="not printed"):
        run_console(wrong, tmp_path)
    with pytest.raises(AssertionError, match="exit 2, expected 0"):
        run_console(Block("console", "$ resnet-inspect trace nothing-here\n", 1, False), tmp_path)
    with pytest.raises(AssertionError, match=r"\(1 \+ 1\) == 3"):
        run_python(Block("python", "1 + 1  # 3\n", 1, False), tmp_path)


def test_the_runner_accepts_a_right_one(tmp_path):
    run_console(Block("console", "$ resnet-inspect params resnet50\n…25,636,712…\n"
                                 "$ resnet-inspect trace resnet50 --input 192\nerror: …193…\n", 1, False), tmp_path)
    run_python(Block("python", "import resnet_inspect\nresnet_inspect.smallest_input('resnet50')  # 193\n", 1, False),
               tmp_path)


def _commands_with_format(group, prefix: str = "") -> set[str]:
    found: set[str] = set()
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found |= _commands_with_format(command, f"{prefix}{name} ")
        elif any("--format" in getattr(p, "opts", ()) for p in command.params):
            found.add(prefix + name)
    return found


def test_format_claims_match_the_cli():
    """The README's per-command list of --format choices is what each command accepts."""
    import typer

    from resnet_inspect.cli import app

    text = " ".join(README.read_text(encoding="utf-8").split())
    claims = {"table|json|csv|markdown": ("trace", "flops", "params", "list", "verify", "memory", "rf", "names"),
              "table|json|github|junit": ("check",),
              "table|json": ("diff", "explain", "run", "report", "weights init", "weights convert", "weights check",
                             "new", "schema", "import", "identify", "export"),
              "svg|dot|mermaid": ("diagram",)}
    root = typer.main.get_command(app)
    with_format = _commands_with_format(root)
    assert with_format == {name for names in claims.values() for name in names}, "a command the README leaves out"
    for choices, names in claims.items():
        for name in names:
            command = root
            for part in name.split():
                command = command.commands[part]
            (option,) = [p for p in command.params if "--format" in getattr(p, "opts", ())]
            assert "|".join(option.type.choices) == choices, name
            claim = text[text.index("`--format`:"):text.index("`--help` shows")]
            assert re.search(rf"`{re.escape(name.split()[0])}[` ]", claim), name


def test_pre_commit_snippet_works_as_written(tmp_path):
    """The README's pre-commit config, run the way pre-commit runs a `language: system` hook."""
    import yaml

    text = README.read_text(encoding="utf-8")
    assert "<you>" not in text
    (config,) = [yaml.safe_load(b.text) for b in blocks(text) if b.language == "yaml" and "pre-commit" not in b.text
                 and "repo: local" in b.text]
    (hook,) = config["repos"][0]["hooks"]
    assert hook["language"] == "system" and hook["id"] == "resnet-inspect-check"
    env = environment(tmp_path)
    subprocess.run(["resnet-inspect", "new", "ours", "-o", "specs/ours.yaml"], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    (tmp_path / "ci.yml").write_text("on: push\n", encoding="utf-8")  # YAML that is not a spec
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()
                   and re.search(hook["files"], str(p.relative_to(tmp_path))))
    assert files == ["specs/ours.yaml"]
    done = subprocess.run([*hook["entry"].split(), *files], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
