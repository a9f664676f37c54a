"""The shipped JSON Schema and the loader agree, judged by an independent validator (jsonschema).

tests/specs/valid holds specs both must accept (and that build, with their expectations holding:
resnet18/34 trainable counts are torchvision's published `num_params`); tests/specs/invalid holds
specs both must reject, each with the loader's exact one-line error in its `# error:` header.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from resnet_inspect.analysis.check import check_paths
from resnet_inspect.cli import app
from resnet_inspect.core.errors import SpecError
from resnet_inspect.language.spec import SCHEMA_PATH, bundled_specs, parse_spec, schema
from resnet_inspect.language.yamlsafe import load

SPECS = Path(__file__).parent / "specs"
VALID = sorted((SPECS / "valid").glob("*.yaml")) + list(bundled_specs().values())
INVALID = sorted((SPECS / "invalid").glob("*.yaml"))
VALIDATOR = jsonschema.Draft7Validator(schema())


def test_schema_is_a_valid_draft7_schema():
    jsonschema.Draft7Validator.check_schema(schema())


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_specs_pass_both(path):
    text = path.read_text(encoding="utf-8")
    assert list(VALIDATOR.iter_errors(load(text, str(path)).data)) == []
    parse_spec(text, str(path))  # the loader accepts it too
    (result,) = check_paths([path]).specs
    assert result.ok, result.error or [e.message for e in result.failures]


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_specs_fail_both_with_the_stated_line(path):
    text = path.read_text(encoding="utf-8")
    assert list(VALIDATOR.iter_errors(load(text, str(path)).data)), "jsonschema accepts it"
    expected = text.splitlines()[1].removeprefix("# error: ")
    with pytest.raises(SpecError) as info:
        parse_spec(text, str(path))
    assert str(info.value) == f"{path}:{expected}"


def test_there_are_enough_examples():
    assert len(VALID) >= 6 and len(INVALID) >= 10


def test_schema_command_prints_the_shipped_schema():
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", list(bundled_specs().values()), ids=lambda p: p.name)
def test_bundled_specs_name_the_schema_for_editors(path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    assert (path.parent / first.split("=", 1)[1]).resolve() == SCHEMA_PATH
