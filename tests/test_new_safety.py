"""`new` writes YAML no user text can reshape (issue 17, security), and its own description with
the source's comments kept (issue 18).

Before the fix, `new --from SPEC` pasted the source's ``name`` into a header comment: a name holding
U+2028, NEL, CR or LF ended the comment, and the text after it became YAML of its own (a
``block: basic`` the source never had), which `check` then passed. The same held for the
``--schema`` path, and ``NAME`` was matched with ``re.match`` and ``$``, which let a final newline
in. Each case here writes the file and loads it back: every field must equal the source's.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from hostile import yaml_string
from resnet_inspect.analysis import newspec
from resnet_inspect.analysis.newspec import new_spec, top_level_chunks, write_new_spec
from resnet_inspect.cli import app
from resnet_inspect.core.errors import InspectError
from resnet_inspect.core.usertext import visible
from resnet_inspect.language.spec import bundled_specs
from resnet_inspect.language.yamlsafe import load

runner = CliRunner()
TINY = Path(__file__).parent / "data" / "tiny-run.yaml"

# Every character PyYAML ends a line at, and a few more that a reader might: the injection vectors.
BREAKS = {"lf": "\n", "cr": "\r", "crlf": "\r\n", "nel": "\x85", "ls": "\u2028", "ps": "\u2029",
          "vt": "\x0b", "ff": "\x0c"}


def invoke(*args: str, cwd: Path):
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return runner.invoke(app, list(args))
    finally:
        os.chdir(old)


def hostile_source(tmp_path: Path, brk: str) -> Path:
    """tiny-run with a name that, pasted into a comment, would add `block: basic` and new conventions."""
    name = f"r50{brk}block: basic{brk}conventions: {{bn_epsilon: 0.5, preprocessing: torch}}{brk}#"
    text = TINY.read_text(encoding="utf-8").replace("name: tiny-run", f"name: {yaml_string(name)}", 1)
    path = tmp_path / "evil.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def as_loaded(path: Path) -> dict:
    return load(path.read_text(encoding="utf-8"), str(path)).data


@pytest.mark.parametrize("brk", sorted(BREAKS))
def test_a_hostile_source_name_cannot_add_yaml(tmp_path: Path, brk: str) -> None:
    source = hostile_source(tmp_path, BREAKS[brk])
    result = invoke("new", "ours", "--from", str(source), cwd=tmp_path)
    assert result.exit_code == 0, result.output
    written, original = as_loaded(tmp_path / "ours.yaml"), as_loaded(source)
    # Every field but the three `new` writes itself is the source's, and nothing was added.
    assert set(written) == set(original) | {"expect"}
    for key in original.keys() - {"name", "description", "expect"}:
        assert written[key] == original[key], key
    assert "block" not in written and "conventions" not in written
    assert written["name"] == "ours"
    assert written["description"] == f"Started from {visible(original['name'])}."
    # PyYAML (what editors and CI read it with) agrees, and so does `check`.
    assert yaml.safe_load((tmp_path / "ours.yaml").read_text(encoding="utf-8")) == {
        **{k: v for k, v in written.items() if k != "expect"}, "expect": yaml.safe_load(
            yaml.safe_dump(written["expect"]))}
    assert invoke("check", "ours.yaml", cwd=tmp_path).exit_code == 0


@pytest.mark.parametrize("name", ["evil\n", "ev\nil", "evil\r", "ev\x85il", "ev\u2028il", "ev\u2029il",
                                  "evil\u200b", "", "-dash", "../evil", "x" * 101, "é"])
def test_a_name_that_is_not_plain_is_refused_and_nothing_written(tmp_path: Path, name: str) -> None:
    result = invoke("new", "-o", "ours.yaml", "--", name, cwd=tmp_path)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "spec name" in result.stderr
    assert "Traceback" not in result.output and list(tmp_path.iterdir()) == []
    with pytest.raises(InspectError, match="spec name"):  # the API refuses it the same way
        new_spec(name, TINY)


def test_name_is_matched_whole() -> None:
    # The bug: re.match(r"^...$") accepts "evil\n" because $ matches before a final newline.
    assert newspec.check_name("a.b_c-1") == "a.b_c-1"
    with pytest.raises(InspectError):
        newspec.check_name("evil\n")


@pytest.mark.parametrize("brk", sorted(BREAKS))
def test_a_schema_path_with_a_line_break_is_refused(tmp_path: Path, brk: str) -> None:
    result = invoke("new", "ours", "--from", str(TINY), "--schema", f"s{BREAKS[brk]}block: basic.json", cwd=tmp_path)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
    assert "--schema" in result.stderr and list(tmp_path.iterdir()) == []


def test_every_unprintable_character_is_refused_in_a_comment() -> None:
    # Generated from the Unicode database, not a list: every Cc, Cf, Zl, Zp character.
    hidden = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) in {"Cc", "Cf", "Zl", "Zp"}]
    assert len(hidden) > 200
    for ch in hidden:
        with pytest.raises(InspectError):
            newspec.comment(f"a{ch}b")
    assert newspec.comment("plain ü text") == "# plain ü text\n"


def test_new_writes_its_own_description_and_keeps_the_source_comments(tmp_path: Path) -> None:
    result = invoke("new", "ours", "--from", "resnet50", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    text = (tmp_path / "ours.yaml").read_text(encoding="utf-8")
    source = bundled_specs()["resnet50"].read_text(encoding="utf-8")
    assert as_loaded(tmp_path / "ours.yaml")["description"] == "Started from resnet50."
    assert "walk-through" not in text.split("expect:")[0]  # the source's description is gone
    # Every comment of the entries copied (all but name, description and expect) is kept as written.
    body = source.split("\nexpect:")[0]
    comments = [line for line in body.splitlines() if "  # " in line]
    assert len(comments) >= 5 and all(line in text for line in comments)
    assert text.startswith("# yaml-language-server: $schema=spec.schema.json\n")


@pytest.mark.parametrize("name", sorted(bundled_specs()))
def test_every_bundled_spec_reads_back_as_its_source(name: str) -> None:
    made = new_spec("copy", name)
    written = load(made.text, "<new>").data
    original = load(bundled_specs()[name].read_text(encoding="utf-8"), name).data
    assert {k: v for k, v in written.items() if k not in ("name", "description", "expect")} == {
        k: v for k, v in original.items() if k not in ("name", "description", "expect")}


def test_a_flow_mapping_source_is_re_emitted(tmp_path: Path) -> None:
    data = yaml.safe_load(TINY.read_text(encoding="utf-8"))
    source = tmp_path / "flow.yaml"
    source.write_text(yaml.safe_dump(data, default_flow_style=True, width=10_000), encoding="utf-8")
    assert top_level_chunks(source.read_text(encoding="utf-8")) is None  # nothing to copy by lines
    written = load(new_spec("flowed", source).text, "<new>").data
    assert written["stages"] == data["stages"] and written["head"] == data["head"]


def test_chunks_are_cut_where_pyyaml_sees_keys() -> None:
    text = "# top\na: 1   # one\n\nb:\n  - 2\n# about c\nc: {d: 3}\n"
    assert top_level_chunks(text) == [("a", "a: 1   # one\n\n"), ("b", "b:\n  - 2\n# about c\n"),
                                      ("c", "c: {d: 3}\n")]
    assert top_level_chunks("  a: 1\n  b: 2\n") is None  # indented keys: not cut by lines


def test_a_failed_spec_write_leaves_nothing_behind(tmp_path: Path, monkeypatch) -> None:
    # The spec's write fails after the schema's (a full disk, say): neither file, nor the folders
    # `new` made for them, may stay.
    from resnet_inspect.core import safeio

    real = safeio.atomic_write

    def failing(path, **kwargs):
        if str(path).endswith(".yaml"):
            raise InspectError("cannot write the spec file: No space left on device")
        return real(path, **kwargs)

    monkeypatch.setattr(safeio, "atomic_write", failing)
    with pytest.raises(InspectError, match="No space"):
        write_new_spec("ours", TINY, tmp_path / "sub" / "deeper" / "ours.yaml")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("output, message", [
    ("file.txt/x.yaml", "Not a directory"),
    ("a" * 300 + ".yaml", "File name too long"),
    ("sub/" + "b" * 300 + "/x.yaml", "File name too long"),
])
def test_bad_paths_are_one_line_and_make_nothing(tmp_path: Path, output: str, message: str) -> None:
    (tmp_path / "file.txt").write_text("precious", encoding="utf-8")
    for args in (["new", "ours", "-o", output], ["new", "ours", "--schema", output.replace(".yaml", ".json")]):
        result = invoke(*args, cwd=tmp_path)
        assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
        assert message in result.stderr and "Traceback" not in result.output
        assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_a_read_only_folder_is_one_line(tmp_path: Path, monkeypatch) -> None:
    # EROFS (a read-only file system) as mkstemp meets it; root ignores chmod, so it is raised here.
    import errno
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    result = invoke("new", "ours", "-o", "sub/ours.yaml", cwd=tmp_path)
    assert result.exit_code == 2 and "Read-only file system" in result.stderr and result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("output", ["file.txt/s.json", "c" * 300 + ".json", "sub/" + "d" * 300 + "/s.json"])
def test_schema_output_paths_are_one_line_and_make_nothing(tmp_path: Path, output: str) -> None:
    (tmp_path / "file.txt").write_text("precious", encoding="utf-8")
    result = invoke("schema", "-o", output, cwd=tmp_path)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]
