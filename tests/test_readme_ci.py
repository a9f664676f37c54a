"""The README's "Checking specs in CI" section stays true: its expect: block holds, its YAML
parses, the shipped pre-commit hook is what it says, and the documented JSON keys are the keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from resnet_inspect.analysis.check import check_paths
from resnet_inspect.cli import app
from resnet_inspect.language.spec import bundled_specs

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README[README.index("## Checking specs in CI"): README.index("## JSON output")]


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", SECTION, flags=re.S)


def test_readme_expect_block_holds_for_resnet50(tmp_path):
    text = bundled_specs()["resnet50"].read_text(encoding="utf-8")
    spec = tmp_path / "r50.yaml"
    spec.write_text(text[: text.index("expect:")] + yaml_blocks()[0], encoding="utf-8")
    (result,) = check_paths([spec]).specs
    assert result.ok and len(result.expectations) == 7, [e.message for e in result.failures]


def test_readme_workflow_and_pre_commit_config_parse():
    workflow, pre_commit = (yaml.safe_load(block) for block in yaml_blocks()[1:3])
    steps = workflow["jobs"]["specs"]["steps"]
    assert any(step.get("run") == "resnet-inspect check specs/ --format github" for step in steps)
    assert pre_commit["repos"][0]["hooks"][0]["id"] == "resnet-inspect-check"


def test_shipped_pre_commit_hook():
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "resnet-inspect-check" and hook["entry"] == "resnet-inspect check"
    assert re.search(hook["files"], "specs/a.yaml") and re.search(hook["files"], "b.yml")
    assert not re.search(hook["files"], "README.md")


def documented_keys(command: str) -> str:
    match = re.search(rf"^`{command}`: (.*?)(?=\n\n)", README, flags=re.S | re.M)
    assert match, command
    return match.group(1)


def test_check_json_keys_are_documented():
    data = json.loads(CliRunner().invoke(app, ["check", "resnet50", "--format", "json"]).stdout)
    keys = set(data) | set(data["summary"]) | set(data["specs"][0]) | set(data["specs"][0]["expectations"][0])
    doc = documented_keys("check")
    assert all(f'"{key}"' in doc for key in keys), keys


def test_diff_json_keys_are_documented():
    result = CliRunner().invoke(app, ["diff", "resnet50", "resnet50-torchvision", "--format", "json"])
    data = json.loads(result.stdout)
    keys = set(data) | set(data["a"]) | set(data["stride_moves"][0]) | set(data["layers"][0])
    doc = documented_keys("diff")
    assert all(f'"{key}"' in doc for key in keys), keys
