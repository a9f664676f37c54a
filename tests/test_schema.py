"""The shipped, precompiled validator is exactly what fastjsonschema makes of the schema today."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_validator_is_current():
    spec = importlib.util.spec_from_file_location("generate_validator", ROOT / "scripts" / "generate_validator.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (ROOT / "resnet_inspect" / "language" / "_schema_validator.py").read_text(encoding="utf-8")
    assert current == module.generate(), "stale validator: run `python scripts/generate_validator.py`"


def test_the_validator_carries_the_schema_as_is():
    """The loader's float-for-integer walk reads the schema from the generated module (no JSON file
    read, no json import at start-up): it must be the shipped schema, key for key."""
    from resnet_inspect.language._schema_validator import SCHEMA
    from resnet_inspect.language.spec import schema

    assert SCHEMA == schema()
