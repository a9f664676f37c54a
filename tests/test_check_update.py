"""`check --update`, folders with YAML that is not a spec, and the summary line (issue 18).

Numbers and their independent sources (hand calculation, Keras convention: convs carry a bias):
- resnet50 (Keras `ResNet50().summary()`, issue 2): 25,636,712 params, 25,583,592 trainable,
  53,120 non-trainable, 3,857,973,248 MACs at 224.
- Stage 4 from 6 to 8 blocks adds two identity blocks 1024 → 256 → 256 → 1024 at 14×14:
  params per block = (1024·256 + 256) + 4·256 + (9·256·256 + 256) + 4·256 + (256·1024 + 1024)
  + 4·1024 = 1,121,792, so +2,243,584 → 27,880,296; BN moving statistics are 2·(256 + 256 + 1024)
  = 3,072 per block, so non-trainable 53,120 + 6,144 = 59,264 and trainable 27,821,032;
  MACs per block 14·14·(1024·256 + 9·256·256 + 256·1024) = 218,365,952, so +436,731,904
  → 4,294,705,152.
- pool1 is 56×56×64 (the blog's walk-through).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from resnet_inspect.cli import app
from resnet_inspect.language.spec import bundled_specs

runner = CliRunner()
RESNET50 = bundled_specs()["resnet50"].read_text(encoding="utf-8")
EIGHT_BLOCKS = RESNET50.replace("blocks: 6, stride: 2}", "blocks: 8, stride: 2}  # was 6: an intended change")


def run(*args: str):
    return runner.invoke(app, list(args))


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def test_update_rewrites_only_the_failing_values_byte_for_byte(tmp_path):
    assert EIGHT_BLOCKS != RESNET50
    path = write(tmp_path, "r50.yaml", EIGHT_BLOCKS)
    os.chmod(path, 0o640)
    result = run("check", str(path), "--update")
    expected = (EIGHT_BLOCKS.replace("params: 25636712", "params: 27880296")
                .replace("trainable_params: 25583592", "trainable_params: 27821032")
                .replace("non_trainable_params: 53120", "non_trainable_params: 59264")
                .replace("macs: {224: 3857973248}", "macs: {224: 4294705152}"))
    assert path.read_bytes() == expected.encode("utf-8")  # comments, order, the budget line: all kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r50.yaml"]  # atomic: no temporary file left
    assert os.stat(path).st_mode & 0o777 == 0o640
    # the budget (max_macs 4.0e9) is a limit, not a snapshot: still failing, said so, exit 1
    assert result.exit_code == 1
    assert "kept: " in result.stdout and "max_macs[224]: a budget is a limit you set" in result.stdout
    # the diff, as git prints it
    assert f"--- a/{path}" in result.stdout and f"+++ b/{path}" in result.stdout
    assert "-  params: 25636712\n" in result.stdout and "+  params: 27880296\n" in result.stdout
    assert "resnet-inspect check: 1 spec, 0 passed, 1 failed; 7/8 expectations hold; " \
           "4 expectations updated in 1 file — FAILED" in result.stdout
    again = run("check", str(path))
    assert "7/8 expectations hold" in again.stdout  # the updated file now keeps what it says


def test_update_then_everything_holds_exit_0_and_json_says_what_changed(tmp_path):
    text = EIGHT_BLOCKS.replace("  max_macs: {224: 4.0e9}\n", "  max_macs: {224: '4.5e9'}   # quoted\n")
    path = write(tmp_path, "r50.yaml", text)
    result = run("check", str(path), "--update", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["summary"]["updated"] == 4 and data["summary"]["expectations_failed"] == 0
    (spec,) = data["specs"]
    edits = {e["name"]: (e["old"], e["new"], e["line"]) for e in spec["update"]["edits"]}
    line = text[: text.index("  params: 25636712")].count("\n") + 1
    assert edits == {"params": ("25636712", "27880296", line),
                     "trainable_params": ("25583592", "27821032", line + 1),
                     "non_trainable_params": ("53120", "59264", line + 2),
                     "macs[224]": ("3857973248", "4294705152", line + 3)}
    assert spec["update"]["written"] is True and spec["update"]["kept"] == []
    assert {e["name"] for e in spec["expectations"] if e["updated"]} == set(edits)
    assert "4.5e9'}   # quoted" in path.read_text(encoding="utf-8")


def test_update_shapes_in_flow_and_block_lists_keeps_comments(tmp_path):
    head = RESNET50[: RESNET50.index("expect:")]
    flow = write(tmp_path, "flow.yaml", head + "expect:\n  shapes: {pool1: [55, 56, 64]}   # wrong on purpose\n")
    block = write(tmp_path, "block.yaml", head + "expect:\n  shapes:\n    pool1:\n      - 55   # rows\n"
                  "      - 56   # columns\n      - 64\n")
    result = run("check", str(flow), str(block), "--update")
    assert result.exit_code == 0, result.stdout
    assert flow.read_text(encoding="utf-8").endswith("shapes: {pool1: [56, 56, 64]}   # wrong on purpose\n")
    assert block.read_text(encoding="utf-8").endswith("    pool1:\n      - 56   # rows\n      - 56   # columns\n      - 64\n")


def test_update_leaves_a_spec_that_does_not_build_unchanged(tmp_path):
    broken = EIGHT_BLOCKS.replace("blocks: 3, stride: 1}", "blocks: 0, stride: 1}")
    path = write(tmp_path, "broken.yaml", broken)
    result = run("check", str(path), "--update")
    assert result.exit_code == 1
    assert path.read_bytes() == broken.encode("utf-8")
    assert f"not updated: {path} does not build" in result.stdout
    assert "1 spec, 0 passed, 1 failed (1 failed to build); 0/0 expectations hold in the specs that built; " \
           "0 expectations updated in 0 files" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.yaml"]


def test_update_with_nothing_to_do_writes_nothing(tmp_path):
    path = write(tmp_path, "r50.yaml", RESNET50)
    before = os.stat(path).st_mtime_ns
    result = run("check", str(path), "--update")
    assert result.exit_code == 0 and "---" not in result.stdout
    assert os.stat(path).st_mtime_ns == before


def test_folder_skips_yaml_that_is_not_a_spec_and_counts_it(tmp_path):
    write(tmp_path, "docker-compose.yml", "services:\n  web:\n    image: nginx\n")
    write(tmp_path, ".github/workflows/ci.yml", "on: [push]\n")  # hidden: not even counted
    write(tmp_path, "specs/r50.yaml", RESNET50)
    result = run("check", str(tmp_path))
    assert result.exit_code == 0, result.stdout
    assert "resnet-inspect check: 1 spec, 1 passed, 0 failed; 8/8 expectations hold; " \
           "1 YAML file skipped (not specs) — all hold" in result.stdout
    data = json.loads(run("check", str(tmp_path), "--format", "json").stdout)
    assert data["skipped"] == [str(tmp_path / "docker-compose.yml")] and data["summary"]["skipped"] == 1


def test_a_file_named_explicitly_is_always_checked(tmp_path):
    compose = write(tmp_path, "docker-compose.yml", "services:\n  web:\n    image: nginx\n")
    result = run("check", str(compose))
    assert result.exit_code == 1 and "failed to build" in result.stdout


def test_a_folder_of_only_other_yaml_is_misuse_that_states_the_rule(tmp_path):
    write(tmp_path, "docker-compose.yml", "services: {}\n")
    result = run("check", str(tmp_path))
    assert result.exit_code == 2
    assert "1 YAML file skipped: a spec has a top-level `stages:` key" in result.stderr


def test_a_broken_spec_in_a_folder_is_still_checked(tmp_path):
    """The rule is read from the text, so a spec with a YAML error (or a typo elsewhere) is not skipped."""
    write(tmp_path, "bad.yaml", "# yaml-language-server: $schema=spec.schema.json\nname: [\n")
    write(tmp_path, "typo.yaml", RESNET50.replace("stem:", "stme:"))
    result = run("check", str(tmp_path), "--format", "json")
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and data["summary"]["unbuilt"] == 2 and data["skipped"] == []


def test_update_keeps_crlf_a_byte_order_mark_and_unicode_comments(tmp_path):
    """Spans are character positions in the text (libyaml leaves a BOM out of its count)."""
    text = "\ufeff# é€😀: a comment the update must not shift\n" + EIGHT_BLOCKS.replace("\n", "\r\n")
    path = write(tmp_path, "r50.yaml", text)
    result = run("check", str(path), "--update")
    expected = (text.replace("params: 25636712", "params: 27880296")
                .replace("trainable_params: 25583592", "trainable_params: 27821032")
                .replace("non_trainable_params: 53120", "non_trainable_params: 59264")
                .replace("macs: {224: 3857973248}", "macs: {224: 4294705152}"))
    assert path.read_bytes() == expected.encode("utf-8"), result.stdout
