"""Hostile specs, paths and flags (issue 7), each run as a real CLI process and judged by tests/hostile.py.

Every case is generated here from a small, valid spec (``TEMPLATE``, one field per line so each
case knows the line it breaks) or from file-system tricks: FIFOs, devices, 2 GB sparse files,
symlinks out of the folder, upper-case suffixes, YAML 1.1 forms, flags with look-alike digits,
and specs far beyond any real network. The judge asserts, per case: no traceback, the exit
code, one ``error:`` line naming file:line and the field (for ``check``, the same fragments in
its report), the time and the child's own peak RSS, no secret bytes in any output, and nothing
outside the case folder touched.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from hostile import SECRET, Case, run_case

TEMPLATE = """\
name: hostile
input: [224, 224, 3]
variables:
  base: 64
conventions:
  conv_bias: true
  bn_epsilon: 1.0e-3
stem:
  pad: 3
  conv:
    filters: base
    kernel: 7
    stride: 2
  pool:
    size: 3
    stride: 2
stages:
  - stage: 2
    filters: [base, base, 256]
    blocks: 3
    stride: 1
  - stage: 3
    filters: [128, 128, 512]
    blocks: 2
    stride: 2
head:
  pool: global
  dense:
    units: 10
expect:
  max_params: 1.0e12
  max_macs:
    224: 1.0e15
"""
LINES = TEMPLATE.splitlines()
FAST = dict(time_limit=10.0, rss_limit_mb=250.0)  # refused at once: a bare CLI process's time and memory

# The field at each line (1-based) of TEMPLATE that a case may rewrite, by its first text.
FIELDS = {
    "  base: 64": (4, "variables.base"),
    "  conv_bias: true": (6, "conventions.conv_bias"),
    "  bn_epsilon: 1.0e-3": (7, "conventions.bn_epsilon"),
    "  pad: 3": (9, "stem.pad"),
    "    filters: base": (11, "stem.conv.filters"),
    "    kernel: 7": (12, "stem.conv.kernel"),
    "    stride: 2": (13, "stem.conv.stride"),
    "    size: 3": (15, "stem.pool.size"),
    "  - stage: 2": (18, "stages[0].stage"),
    "    blocks: 3": (20, "stages[0].blocks"),
    "    units: 10": (29, "head.dense.units"),
}


def spec_with(line: str, value: str) -> tuple[str, int, str]:
    """TEMPLATE with the value of one field rewritten: (text, line number, field name)."""
    number, field = FIELDS[line]
    assert LINES[number - 1] == line, (LINES[number - 1], line)
    key = line.split(":")[0]
    lines = list(LINES)
    lines[number - 1] = f"{key}: {value}"
    return "\n".join(lines) + "\n", number, field


def _outside(path: Path) -> Path:
    """The case's ``outside/`` folder (beside ``work/``), where the secret lives."""
    while path.name != "work":
        path = path.parent
    return path.parent / "outside"


def symlink_to(target: str | Callable[[Path], Path]) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.symlink_to(target(path) if callable(target) else target)
    return make


def to_secret(path: Path) -> Path:
    return _outside(path) / "secret.txt"


def fifo(path: Path) -> None:
    os.mkfifo(path)


def sparse(size: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with open(path, "wb") as handle:
            handle.truncate(size)
    return make


def folder(path: Path) -> None:
    path.mkdir()


CASES: list[Case] = []
SLOW: set[str] = set()  # the same refusal through more commands or fields: `pytest -m slow` (CI runs it)


def add(klass: str, name: str, args: list[str], slow: bool = False, **kwargs: object) -> None:
    case = Case(klass, name, args, **{**FAST, **kwargs})  # type: ignore[arg-type]
    CASES.append(case)
    if slow:
        SLOW.add(case.id)


# --------------------------------------------------------------------------- YAML 1.1 surprises
# Each form means one thing to PyYAML (YAML 1.1) and another, or text, to YAML 1.2 tools.
INT_FORMS = {"octal 0100": "0100", "signed octal": "+0100", "octal 007": "007", "hex": "0x10", "binary": "0b101",
             "digit separators": "1_000", "base 60": "1:20", "date": "2001-12-14", "float 2.0": "2.0",
             "float 3.0e+0": "3.0e+0", "yaml 1.2 octal": "0o17"}
for form, value in INT_FORMS.items():
    for line in ("  base: 64", "    filters: base", "    kernel: 7", "    blocks: 3", "    units: 10", "  - stage: 2"):
        text, number, field = spec_with(line, value)
        expect = (f"spec.yaml:{number}:", field)
        if line == "  base: 64" and form.startswith("float"):
            # A variable may be any number; the size made from it (`filters: base`) must be whole.
            expect = ("spec.yaml:11:", "stem.conv.filters", "whole number")
        add("yaml11", f"{form} in {field}", ["trace", "spec.yaml"], files={"spec.yaml": text.encode()}, expect=expect,
            slow=line not in ("    blocks: 3", "    filters: base"))
for value in ("yes", "no", "on", "off", "Yes", "ON", "y", "n"):
    text, number, field = spec_with("  conv_bias: true", value)
    add("yaml11", f"boolean {value}", ["trace", "spec.yaml"], files={"spec.yaml": text.encode()},
        expect=(f"spec.yaml:{number}:", field), slow=value not in ("yes", "no", "on", "off"))
for value in ("1:20.5", "1_0.5e-3", ".nan", ".inf", "-.inf", "1e400"):
    text, number, field = spec_with("  bn_epsilon: 1.0e-3", value)
    add("yaml11", f"epsilon {value}", ["trace", "spec.yaml"], files={"spec.yaml": text.encode()},
        expect=(f"spec.yaml:{number}:", field))
# Through `check`: the same refusals become a failed check (exit 1) naming file:line and field.
for form in ("octal 0100", "date", "float 2.0", "digit separators"):
    text, number, field = spec_with("    blocks: 3", INT_FORMS[form])
    add("yaml11", f"check: {form}", ["check", "spec.yaml", "--format", "json"], files={"spec.yaml": text.encode()},
        code=1, expect=(f"spec.yaml:{number}:", field))
for key, value, field in (("  max_params: 1.0e12", "  params: 100.0", "expect.params"),
                          ("  max_params: 1.0e12", "  shapes: {conv1: [112.0, 112, 64]}", "expect.shapes.conv1[0]"),
                          ("input: [224, 224, 3]", "input: [224.0, 224, 3]", "input[0]"),
                          ("input: [224, 224, 3]", "input: [0224, 224, 3]", "input[0]")):
    text = TEMPLATE.replace(key, value)
    number = text.splitlines().index(value) + 1
    add("yaml11", f"{value.strip()} for an integer: {field}", ["trace", "spec.yaml"],
        files={"spec.yaml": text.encode()}, expect=(f"spec.yaml:{number}:", field))
# Expressions: Python literal forms are refused too (they are the same surprises).
for value in ("2*0x20", "1_000//10", "0o17+1", "0b11*32"):
    text, number, field = spec_with("    filters: base", value)
    add("yaml11", f"expression {value}", ["trace", "spec.yaml"], files={"spec.yaml": text.encode()},
        expect=(f"spec.yaml:{number}:", field, "decimal"))

# --------------------------------------------------------------------------- reading a spec
READS = {
    "FIFO": fifo,
    "/dev/zero": symlink_to("/dev/zero"),
    "/dev/null": symlink_to("/dev/null"),
    "2 GB sparse file": sparse(2 << 30),
    "5 MB sparse file": sparse(5 << 20),
    "folder named .yaml": folder,
    "dangling symlink": symlink_to("nowhere.yaml"),
    "symlink loop": symlink_to("spec.yaml"),
}
READ_COMMANDS = {
    "trace": ["trace", "spec.yaml"], "params": ["params", "spec.yaml"], "flops": ["flops", "spec.yaml"],
    "diff": ["diff", "resnet50", "spec.yaml"], "weights init": ["weights", "init", "spec.yaml", "-o", "w.npz"],
}
for name, make in READS.items():
    for command, args in READ_COMMANDS.items():
        add("read", f"{name}: {command}", args, files={"spec.yaml": make}, expect=("spec.yaml",), slow=command != "trace")
BYTES = {
    "not UTF-8": b"name: \xff\xfe\n",
    "NUL bytes": b"name: x\x00\n",
    "binary": bytes(range(256)) * 4,
    "empty": b"",
    "BOM only": b"\xef\xbb\xbf",
    "one 3 MB line": b"a" * (3 << 20),
    "a list": b"- 1\n- 2\n",
    "ANSI in a key": b"name: x\n\x1b[2J: 1\n",
    "ANSI in the name, bad key": TEMPLATE.replace("name: hostile", 'name: "\\e[2J\\a"').encode() + b"oops: 1\n",
    "bidi override in a key": "name: x\n\u202eevil: 1\n".encode(),
    "a 10 kB key": b"name: x\n" + b"k" * 10_000 + b": 1\n",
    "a 100 kB quoted scalar": b"name: x\nstem: '" + b"s" * 100_000 + b"'\n",
    "python tag": b"!!python/object/apply:os.system ['echo pwned']\n",
}
for name, data in BYTES.items():
    add("read", f"bytes: {name}", ["trace", "spec.yaml"], files={"spec.yaml": data}, expect=("spec.yaml",))
# A spec over the 4 MiB limit, a real file this time (not sparse): refused from its size.
add("read", "4.5 MB real file", ["trace", "big.yaml"], files={"big.yaml": b"#" * (9 << 19)}, expect=("big.yaml", "4,194,304"))
# Named explicitly, a symlink is read as asked; its content is never echoed beyond a short excerpt.
add("read", "explicit symlink to a secret", ["trace", "leak.yaml"], files={"leak.yaml": symlink_to(to_secret)},
    expect=("leak.yaml",))

# --------------------------------------------------------------------------- bare names and paths
# A bare name is a bundled spec, whatever sits in the current folder; a path says it is one.
DECOY = f"name: decoy\n{SECRET}: 1\n".encode()
add("paths", "file named resnet50 in the cwd", ["params", "resnet50"], files={"resnet50": DECOY}, code=0)
add("paths", "folder named resnet50 in the cwd", ["params", "resnet50"], files={"resnet50/x.yaml": DECOY}, code=0)
add("paths", "resnet50.yaml next to it is not the bundled", ["trace", "resnet50.yaml"],
    files={"resnet50.yaml": b"name: decoy\nfoo: 1\n"}, expect=("resnet50.yaml", "foo"))
add("paths", "./resnet50 is a path", ["trace", "./resnet50"], files={"resnet50": b"name: decoy\nfoo: 1\n"},
    expect=("./resnet50", "foo"))
add("paths", "upper-case suffix is a path", ["trace", "R50.YAML"], files={"R50.YAML": b"name: decoy\nfoo: 1\n"},
    expect=("R50.YAML", "foo"))
add("paths", "upper-case .YML suffix is a path", ["trace", "R50.Yml"], files={"R50.Yml": b"- 1\n"}, expect=("R50.Yml",))
SPEC_ARGUMENTS = {"empty name": ("", "''"), "dash": ("-", "unknown spec '-'"), "upper-case bundled": ("RESNET50", "unknown spec"),
                  "trailing space": ("resnet50 ", "unknown spec"), "leading space": (" resnet50", "unknown spec"),
                  "ANSI name": ("\x1b[2Jresnet50", "\\x1b[2J"), "10 kB name": ("r" * 10_000, "unknown spec 'rrrr"),
                  "dot": (".", "unknown spec"), "dot-dot": ("..", "unknown spec"), "accented": ("résnet50", "unknown spec"),
                  "bundled name + suffix": ("resnet50.yml", "no such spec file")}
for name, (arg, fragment) in SPEC_ARGUMENTS.items():
    add("paths", f"spec argument: {name}", ["trace", arg], expect=(fragment,))
for name, arg in {"missing .yaml": "missing.yaml", "missing folder/": "nope/x.yaml", "a folder": "sub/"}.items():
    add("paths", f"path: {name}", ["trace", arg], files={"sub/keep.txt": b"x"}, expect=(arg.rstrip("/"),))

# --------------------------------------------------------------------------- flags
INPUTS = {"underscore": "2_24", "full-width digits": "２２４", "arabic-indic digits": "٢٢٤", "leading space": " 224",
          "trailing space": "224 ", "newline": "224\n", "zero": "0", "zero width": "224x0", "negative": "-224",
          "no width": "224x", "no height": "x224", "float": "224.0", "exponent": "1e3", "hex": "0x10",
          "two x": "224x224x3", "letters": "abc", "empty": "", "plus": "+224", "full-width x": "224ｘ320",
          "superscript": "²²⁴", "tab": "224\t"}
for name, value in INPUTS.items():
    for command in (["trace", "resnet50"], ["flops", "resnet50"], ["diff", "resnet50", "resnet50-2019"]):
        add("flags", f"--input {name}: {command[0]}", [*command, "--input", value], expect=("--input",),
            slow=command[0] != "trace")
# Sizes that do parse but no layer takes: the error names the layer and the smallest that works.
for command in (["trace", "resnet50"], ["trace", "resnet50-2019"], ["flops", "resnet152"]):
    add("flags", f"--input 192: {command[1]}", [*command, "--input", "192"], expect=("layer avg_pool", "smallest input"))

# --------------------------------------------------------------------------- check over trees
GOOD = TEMPLATE.encode()
TREES: dict[str, tuple[dict[str, object], list[str], int, tuple[str, ...]]] = {
    "symlink leak.yaml -> outside secret": (
        {"tree/good.yaml": GOOD, "tree/leak.yaml": symlink_to(to_secret)}, ["tree"], 1, ("leak.yaml", "not followed")),
    "symlink LEAK.YML -> outside secret": (
        {"tree/good.yaml": GOOD, "tree/LEAK.YML": symlink_to(to_secret)}, ["tree"], 1, ("LEAK.YML", "not followed")),
    "symlink -> /dev/zero": ({"tree/good.yaml": GOOD, "tree/zero.yaml": symlink_to("/dev/zero")}, ["tree"], 1,
                             ("zero.yaml", "not followed")),
    "symlink -> /etc/passwd": ({"tree/good.yaml": GOOD, "tree/passwd.yaml": symlink_to("/etc/passwd")}, ["tree"], 1,
                               ("passwd.yaml", "not followed")),
    "symlinked folder -> out of the tree": (
        {"tree/good.yaml": GOOD, "other/bad.yaml": b"name: bad\n", "tree/out": symlink_to(lambda p: p.parent.parent / "other")},
        ["tree"], 0, ('"specs": 1',)),
    "dangling symlink": ({"tree/good.yaml": GOOD, "tree/gone.yaml": symlink_to("/nonexistent/x.yaml")}, ["tree"], 1,
                         ("gone.yaml",)),
    "symlink loop": ({"tree/good.yaml": GOOD, "tree/loop.yaml": symlink_to("loop.yaml")}, ["tree"], 1, ("loop.yaml",)),
    "symlink inside the tree is checked": (
        {"tree/good.yaml": GOOD, "tree/alias.yaml": symlink_to("good.yaml")}, ["tree"], 0, ('"specs": 2',)),
    "FIFO in the tree": ({"tree/good.yaml": GOOD, "tree/pipe.yaml": fifo}, ["tree"], 1, ("pipe.yaml", "FIFO")),
    "2 GB sparse spec in the tree": ({"tree/good.yaml": GOOD, "tree/big.yaml": sparse(2 << 30)}, ["tree"], 1,
                                     ("big.yaml", "2,147,483,648")),
    "upper-case suffixes are checked": (
        {"tree/A.YAML": GOOD, "tree/b.Yml": GOOD, "tree/c.yaml": GOOD}, ["tree"], 0, ('"specs": 3',)),
    # a spec (a top-level `stages:` key, README "Which YAML files are specs") that fails is never skipped
    "a failing .YAML is not skipped": (
        {"tree/good.yaml": GOOD, "tree/BAD.YAML": b"name: bad\nstages: []\n"}, ["tree"], 1,
        ("BAD.YAML", "missing field")),
    "YAML that is not a spec is skipped and counted": (
        {"tree/good.yaml": GOOD, "tree/docker-compose.yml": b"services: {web: {image: nginx}}\n"}, ["tree"], 0,
        ('"skipped": 1', "docker-compose.yml")),
    "hidden folders are skipped": ({"tree/good.yaml": GOOD, "tree/.git/x.yaml": b"- 1\n"}, ["tree"], 0, ('"specs": 1',)),
    "explicit symlink to a spec outside is read": (
        {"link.yaml": symlink_to(lambda p: p.parent / "real" / "good.yaml"), "real/good.yaml": GOOD},
        ["link.yaml"], 0, ('"specs": 1',)),
    "explicit symlink to the secret is read, not echoed": (
        {"leak.yaml": symlink_to(to_secret)}, ["leak.yaml"], 1, ("leak.yaml", "mapping")),
    "bundled name": ({"resnet50": DECOY}, ["resnet50"], 0, ('"specs": 1', "resnet50.yaml")),
    "ANSI in a file name": ({"tree/\x1b[2Jx.yaml": b"name: bad\nstages: []\n"}, ["tree"], 1, ("\\x1b[2Jx.yaml",)),
}
for name, (files, paths, code, expect) in TREES.items():
    add("check", name, ["check", *paths, "--format", "json"], files=files, code=code, expect=expect)
    if code == 1 and "ANSI" not in name:  # the CI formats too (escaping names there is report.py's part)
        add("check", f"{name} (github)", ["check", *paths, "--format", "github"], files=files, code=1, slow=True)
        add("check", f"{name} (junit)", ["check", *paths, "--format", "junit"], files=files, code=1, slow=True)
add("check", "empty path", ["check", ""], expect=("empty path",))
add("check", "missing path", ["check", "nope"], expect=("nope", "no such"))
add("check", "empty folder", ["check", "empty"], files={"empty/readme.txt": b"x"}, expect=("no spec files",))

# --------------------------------------------------------------------------- far beyond any real network
HUGE_STAGES = "\n".join(f"  - {{stage: {i + 2}, filters: [64, 64, 256], blocks: 1000, stride: 1}}" for i in range(62))
SIZES = ", ".join(f"{224 + i}: 1.0e30" for i in range(30))
SOME_SIZES = ", ".join(f"{224 + i}: 1.0e30" for i in range(10))
HUGE = (f"name: huge\nstem: {{conv: {{filters: 64, kernel: 7, stride: 2}}, pool: {{size: 3, stride: 2}}}}\n"
        f"stages:\n{HUGE_STAGES}\nhead: {{pool: global, dense: {{units: 10}}}}\nexpect:\n  max_macs: {{{SIZES}}}\n")
assert len(HUGE) < 6_000  # the "5 KB spec"
BIG_STAGES = "\n".join(f"  - {{stage: {i + 2}, filters: [64, 64, 256], blocks: 900, stride: 1}}" for i in range(2))
BIG = (f"name: big\nstem: {{conv: {{filters: 64, kernel: 7, stride: 2}}, pool: {{size: 3, stride: 2}}}}\n"
       f"stages:\n{BIG_STAGES}\nhead: {{pool: avg, pool_size: 7, dense: {{units: 10}}}}\nexpect:\n  max_macs: {{{SOME_SIZES}}}\n")
for command in (["trace"], ["params"], ["flops"], ["weights", "init"]):
    extra = ["-o", "w.npz"] if command[0] == "weights" else []
    add("huge", f"62 stages × 1,000 blocks: {command[0]}", [*command, "huge.yaml", *extra],
        files={"huge.yaml": HUGE.encode()}, expect=("huge.yaml:5:", "stages[1].blocks", "20,000 layers"))
add("huge", "62 stages × 1,000 blocks: check", ["check", "huge.yaml", "--format", "json"],
    files={"huge.yaml": HUGE.encode()}, code=1, expect=("huge.yaml:5:", "20,000 layers"))
add("huge", "62 stages × 1,000 blocks: diff", ["diff", "huge.yaml", "resnet50"],
    files={"huge.yaml": HUGE.encode()}, expect=("huge.yaml:5:", "20,000 layers"))
# 1,800 blocks (18,015 layers, under the limit) and 10 input sizes: bounded time and memory.
LIMITS = dict(time_limit=20.0, rss_limit_mb=400.0)
# The smallest input, by hand: avg_pool 7 needs 7 after the stride-1 stages, so pool1 (3/2 after
# pad 1) needs (7-1)*2 + 3 - 2 = 13, conv1 (7/2) needs (13-1)*2 + 7 = 31, before its pad 3: 25.
add("huge", "18,015 layers, 10 sizes: check", ["check", "big.yaml", "--format", "json"],
    files={"big.yaml": BIG.encode()}, code=0, expect=('"expectations": 10',), **LIMITS)
add("huge", "18,015 layers: diff with a stride moved", ["diff", "big.yaml", "big2.yaml", "--format", "json"],
    files={"big.yaml": BIG.encode(), "big2.yaml": BIG.replace("stride: 1}", "stride: 2}", 1).encode()},
    code=1, **LIMITS)
add("huge", "18,015 layers: too small an input", ["trace", "big.yaml", "--input", "24"],
    files={"big.yaml": BIG.encode()}, expect=("big.yaml:", "layer avg_pool", "smallest input that works is 25 "), **LIMITS)
WIDE = "name: wide\n" + "expect:\n  shapes:\n" + "".join(f"    l{i}: [1]\n" for i in range(150_000))
add("huge", "150,000 expected shapes (2.4 MB)", ["check", "wide.yaml", "--format", "json"],
    files={"wide.yaml": WIDE.encode()}, code=1, expect=("wide.yaml:1:1", "20,000 YAML values"))


def test_there_are_well_over_100_cases_in_every_class() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert len(CASES) > 250 and len(CASES) - len(SLOW) > 120
    classes = {case.klass for case in CASES}
    assert classes == {"yaml11", "read", "paths", "flags", "check", "huge"}


@pytest.mark.parametrize("case", [pytest.param(case, marks=[pytest.mark.slow] if case.id in SLOW else [])
                                  for case in CASES], ids=[case.id for case in CASES])
def test_hostile_spec_input(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)
