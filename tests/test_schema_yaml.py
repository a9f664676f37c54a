"""The schema agrees with what YAML produces: an editor or CI job validating a spec with PyYAML +
jsonschema gets the verdict the loader gives (issue 9: integer keys of ``macs: {224: …}`` and
``4.0e9`` budgets, which PyYAML reads as a string, used to trip it)."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from resnet_inspect.language._schema_validator import validate as compiled_validate
from resnet_inspect.analysis.check import check_paths
from resnet_inspect.language.spec import bundled_specs, schema

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
VALIDATOR = jsonschema.Draft7Validator(schema())


@pytest.mark.parametrize("path", list(bundled_specs().values()), ids=lambda p: p.name)
def test_bundled_specs_validate_as_pyyaml_reads_them(path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert [e.message for e in VALIDATOR.iter_errors(data)] == []
    compiled_validate(data)  # the shipped fastjsonschema validator agrees on the same data


def test_pyyaml_really_reads_the_documented_forms_this_way():
    # The premise of the schema's two anyOf branches, checked on PyYAML itself (YAML 1.1).
    data = yaml.safe_load("macs: {224: 1}\nmax_macs: {224: 4.0e9, 224x320: 5.6e+9}")
    assert list(data["macs"]) == [224] and data["max_macs"] == {224: "4.0e9", "224x320": 5.6e9}


def test_readme_expect_block_validates_with_pyyaml():
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", README, flags=re.S) if b.startswith("expect:"))
    spec = yaml.safe_load(bundled_specs()["resnet50"].read_text(encoding="utf-8"))
    spec["expect"] = yaml.safe_load(block)["expect"]
    assert [e.message for e in VALIDATOR.iter_errors(spec)] == []


@pytest.mark.parametrize("key, value", [("4x", 1), ("224", -1), ("224", "4.0e9x"), ("0x0", 1.5)])
def test_schema_still_rejects_nonsense_budgets(key, value):
    spec = yaml.safe_load(bundled_specs()["resnet50"].read_text(encoding="utf-8"))
    spec["expect"] = {"max_macs": {key: value}}
    assert list(VALIDATOR.iter_errors(spec)) or key == "0x0"


def test_quoted_budgets_are_numbers_to_check(tmp_path):
    text = bundled_specs()["resnet50"].read_text(encoding="utf-8")
    text = text[: text.index("expect:")]
    # resnet50 at 224: 3,857,973,248 MACs (Keras' count, the README's table): under 4.0e9, over 3.0e9.
    (tmp_path / "ok.yaml").write_text(text + 'expect:\n  max_macs: {"224": "4.0e9"}\n', encoding="utf-8")
    (tmp_path / "over.yaml").write_text(text + 'expect:\n  max_macs: {"224": "3.0e9"}\n', encoding="utf-8")
    ok, over = check_paths([tmp_path]).specs  # sorted by name
    assert ok.ok and ok.expectations[0].found == 3_857_973_248
    assert not over.ok and "over by 857,973,248" in over.expectations[0].message
