"""The CLI as people expect a modern one to be: defaults in --help, a JSON form of every record
(`weights`, `schema -o`, `new`), shared option definitions, and `new` / `schema -o` for editors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

import resnet_inspect
import typer
import yaml
from typer.testing import CliRunner

import resnet_inspect
from resnet_inspect.cli import app
from resnet_inspect.language.spec import SCHEMA_PATH, schema

runner = CliRunner()
# Keras' model.summary() of ResNet50: 25,636,712 params. Arrays, by hand: 53 convs × (kernel, bias)
# + 53 BatchNorms × (gamma, beta, moving mean, moving variance) + fc1000 (kernel, bias) = 320.
KERAS_PARAMS, RESNET50_ARRAYS = 25_636_712, 53 * 2 + 53 * 4 + 2
EAGER = {"--help", "--version", "--install-completion", "--show-completion"}


def commands(group, prefix: str = "") -> dict:
    """Every leaf command of typer's (vendored) click tree, by its full name."""
    found = {}
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found.update(commands(command, f"{prefix}{name} "))
        else:
            found[prefix + name] = command
    return found


COMMANDS = commands(typer.main.get_command(app))


def invoke(*args: str, cwd: Path | None = None):
    if cwd is None:
        return runner.invoke(app, list(args))
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return runner.invoke(app, list(args))
    finally:
        os.chdir(old)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_shows_a_default_for_every_option(name):
    for param in COMMANDS[name].params:
        if param.param_type_name == "option" and not set(param.opts) & EAGER:
            shown = param.required or isinstance(param.show_default, str) or (
                param.show_default is not False and param.default not in (None, (), []))
            assert shown, f"{name} {param.opts[0]}: no default in --help"


def test_help_names_the_spec_default_input_and_check_default_folder():
    trace = invoke("trace", "--help").stdout
    assert "the spec's input" in trace and "224×224" in trace
    assert "[default: (.)]" in " ".join(invoke("check", "--help").stdout.split())


def test_every_command_with_a_format_option_shares_one_definition():
    # Each command's --format choices: what the README's command table states (test_readme_runs).
    formats = {name: tuple(p.type.choices) for name, c in COMMANDS.items() for p in c.params
               if p.param_type_name == "option" and "--format" in p.opts}
    assert set(formats) == set(COMMANDS) - {"schema"} | {"schema"}, set(COMMANDS) - set(formats)
    for name in ("run", "weights init", "weights convert", "weights check", "new", "schema"):
        assert formats[name] == ("table", "json"), name


def test_weights_json_records(tmp_path):
    init = invoke("weights", "init", "resnet50", "-o", "w.npz", "--seed", "3", "--format", "json", cwd=tmp_path)
    assert init.exit_code == 0, init.output
    data = json.loads(init.stdout)
    assert data == {"resnet_inspect": resnet_inspect.__version__, "ok": True, "action": "wrote", "spec": "resnet50", "file": "w.npz", "arrays": RESNET50_ARRAYS,
                    "numbers": KERAS_PARAMS, "seed": 3, "seed_scheme": 2, "source": None}  # scheme 2: float32 draws
    check = json.loads(invoke("weights", "check", "resnet50", "w.npz", "-f", "json", cwd=tmp_path).stdout)
    assert (check["action"], check["numbers"], check["arrays"]) == ("fits", KERAS_PARAMS, RESNET50_ARRAYS)
    pytest.importorskip("h5py")
    convert = invoke("weights", "convert", "w.npz", "-o", "w.h5", "-f", "json", cwd=tmp_path)
    assert json.loads(convert.stdout)["source"] == "w.npz" and (tmp_path / "w.h5").is_file()


def test_weights_check_json_error_on_a_file_that_does_not_fit(tmp_path):
    invoke("weights", "init", "resnet50", "-o", "w.npz", cwd=tmp_path)
    result = invoke("weights", "check", "resnet50-torchvision", "w.npz", "-f", "json", cwd=tmp_path)
    assert result.exit_code == 2 and json.loads(result.stdout)["error"]["file"]


def test_schema_output_writes_the_shipped_schema(tmp_path):
    result = invoke("schema", "-o", "editor/spec.schema.json", "--format", "json", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["file"] == "editor/spec.schema.json"
    written = tmp_path / "editor" / "spec.schema.json"
    assert json.loads(written.read_text(encoding="utf-8")) == schema()
    assert sorted(p.name for p in written.parent.iterdir()) == ["spec.schema.json"]  # no temp file left
    again = invoke("schema", "-o", "editor/spec.schema.json", cwd=tmp_path)  # refreshing it is fine
    assert again.exit_code == 0 and again.stdout.startswith("wrote editor/spec.schema.json")


def test_schema_output_must_be_json(tmp_path):
    result = invoke("schema", "-o", "spec.yaml", cwd=tmp_path)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "spec.yaml" in result.stderr
    assert not (tmp_path / "spec.yaml").exists()


def test_new_spec_is_guarded_by_check_at_once(tmp_path):
    result = invoke("new", "ours", "--from", "resnet50", "-o", "specs/ours.yaml", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    spec = tmp_path / "specs" / "ours.yaml"
    assert invoke("check", "specs/", cwd=tmp_path).exit_code == 0
    text = spec.read_text(encoding="utf-8")
    assert "params: 25636712" in text  # Keras' count, filled in by `new`
    spec.write_text(text.replace("params: 25636712", "params: 25636713"), encoding="utf-8")
    failed = invoke("check", "specs/", "--format", "json", cwd=tmp_path)
    assert failed.exit_code == 1
    (bad,) = [e for e in json.loads(failed.stdout)["specs"][0]["expectations"] if not e["ok"]]
    assert (bad["name"], bad["expected"], bad["found"]) == ("params", 25_636_713, KERAS_PARAMS)


def test_new_spec_schema_line_points_at_a_real_schema(tmp_path):
    invoke("new", "ours", "-o", "specs/ours.yaml", cwd=tmp_path)
    spec = tmp_path / "specs" / "ours.yaml"
    first = spec.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = spec.parent / first.split("=", 1)[1]
    assert json.loads(target.read_text(encoding="utf-8")) == json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    # What an editor or a CI job does with it: PyYAML + jsonschema accept the file.
    data = yaml.safe_load(spec.read_text(encoding="utf-8"))
    assert list(jsonschema.Draft7Validator(schema()).iter_errors(data)) == []


def test_new_spec_points_at_an_existing_schema_file(tmp_path):
    assert invoke("schema", "-o", "schemas/spec.schema.json", cwd=tmp_path).exit_code == 0
    result = invoke("new", "ours", "-o", "specs/nets/ours.yaml", "--schema", "schemas/spec.schema.json", "-f", "json",
                    cwd=tmp_path)
    data = json.loads(result.stdout)
    assert data["schema"] == "../../schemas/spec.schema.json" and data["schema_written"] is None
    assert data["expect"]["params"] == KERAS_PARAMS and data["expect"]["macs"] == {"224": 3_857_973_248}
    assert invoke("check", "specs", cwd=tmp_path).exit_code == 0


def test_new_from_a_path_keeps_its_architecture(tmp_path):
    source = Path(__file__).parent / "data" / "tiny-run.yaml"
    result = invoke("new", "tiny2", "--from", str(source), "-f", "json", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["expect"]["macs"] == {"32": json.loads(
        invoke("trace", str(source), "-f", "json").stdout)["totals"]["macs"]}
    assert invoke("check", "tiny2.yaml", cwd=tmp_path).exit_code == 0


@pytest.mark.parametrize("args, message", [
    (["new", "ours", "-o", "ours.yaml"], "already exists"),
    (["new", "../evil"], "spec name"),
    (["new", "ours", "-o", "ours.txt"], ".yaml or .yml"),
    (["new", "other", "--from", "no-such-net"], "unknown spec"),
])
def test_new_refuses_with_one_line(tmp_path, args, message):
    (tmp_path / "ours.yaml").write_text("precious", encoding="utf-8")
    result = invoke(*args, cwd=tmp_path)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and message in result.stderr, result.output
    assert (tmp_path / "ours.yaml").read_text(encoding="utf-8") == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ours.yaml"]
