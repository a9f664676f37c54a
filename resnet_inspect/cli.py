"""The command line: declares options and wires them to library calls. No logic lives here."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import Enum
from functools import wraps
from typing import Annotated, Any, Optional

import typer

from . import formatting
from .errors import InspectError

app = typer.Typer(
    name="resnet-inspect",
    help="Trace a residual network from a YAML spec: every layer's name, shape, parameters and cost.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class CheckFormat(str, Enum):
    table = "table"
    json = "json"
    github = "github"
    junit = "junit"


class DiffFormat(str, Enum):
    table = "table"
    json = "json"


class Depth(str, Enum):
    layer = "layer"
    block = "block"
    stage = "stage"


SpecArg = Annotated[str, typer.Argument(help="Bundled spec name (see `list`) or path to a YAML spec.")]
InputOpt = Annotated[Optional[str], typer.Option("--input", "-i", help="Input size: 224 or HxW like 224x320.")]
InputsOpt = Annotated[Optional[list[str]], typer.Option("--input", "-i", help="Input size (repeatable): 224 or 224x320.")]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
DepthOpt = Annotated[Depth, typer.Option("--depth", "-d", help="Rows per layer, per block or per stage.")]


def emit(output: Any) -> None:
    """Print a string as is, or a Rich renderable through a console sized for pipes too."""
    if isinstance(output, str):
        sys.stdout.write(output if output.endswith("\n") else output + "\n")
        return
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 120)
    console.print(output)


def reports_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Turn an :class:`InspectError` into one line on stderr (or JSON on stdout) and exit 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except InspectError as exc:
            if kwargs.get("fmt") == Format.json:
                sys.stdout.write(json.dumps(exc.to_dict(), indent=2) + "\n")
            else:
                sys.stderr.write(f"error: {exc}\n")
            raise typer.Exit(2) from None

    return wrapper


@app.command()
@reports_errors
def trace(
    spec: SpecArg = "resnet50",
    input: InputOpt = None,
    depth: DepthOpt = Depth.layer,
    fmt: FormatOpt = Format.table,
) -> None:
    """One row per layer (or block, or stage): name, op, output shape, params, MACs."""
    from .engine import trace as run_trace

    result = run_trace(spec, input)
    emit(formatting.render_trace(result, fmt.value, depth.value))


@app.command()
@reports_errors
def flops(spec: SpecArg = "resnet50", input: InputsOpt = None, fmt: FormatOpt = Format.table) -> None:
    """MACs and FLOPs per input size, with a per-stage breakdown."""
    from .engine import trace as run_trace
    from .spec import load_spec

    loaded = load_spec(spec)
    results = [run_trace(loaded, size) for size in (input or [None])]
    emit(formatting.render_flops(loaded.name, results, fmt.value))


@app.command()
@reports_errors
def params(spec: SpecArg = "resnet50", fmt: FormatOpt = Format.table) -> None:
    """Total, trainable and non-trainable parameters, per stage."""
    from .engine import trace as run_trace

    emit(formatting.render_params(run_trace(spec), fmt.value))


@app.command("list")
@reports_errors
def list_specs(fmt: FormatOpt = Format.table) -> None:
    """The bundled specs and what each reproduces."""
    from .spec import bundled_specs, load_spec

    specs = [(name, load_spec(path).description) for name, path in bundled_specs().items()]
    emit(formatting.render_list(specs, fmt.value))


@app.command()
@reports_errors
def check(
    paths: Annotated[Optional[list[str]], typer.Argument(help="Spec files and folders (searched for *.yaml, *.yml).")] = None,
    fmt: Annotated[CheckFormat, typer.Option("--format", "-f", help="table, json, github (annotations) or junit (XML).")] = CheckFormat.table,
) -> None:
    """Check specs build and keep their `expect:` promises. Exit 0 all hold, 1 any fails, 2 misuse."""
    from . import report
    from .check import check_paths

    result = check_paths(paths or ["."])
    emit(report.render_check(result, fmt.value))
    if not result.ok:
        raise typer.Exit(1)


@app.command()
@reports_errors
def diff(
    a: Annotated[str, typer.Argument(help="The first spec (bundled name or path).")],
    b: Annotated[str, typer.Argument(help="The second spec (bundled name or path).")],
    input: InputOpt = None,
    fmt: Annotated[DiffFormat, typer.Option("--format", "-f", help="Output format.")] = DiffFormat.table,
) -> None:
    """Layer-by-layer differences between two specs. Exit 0 identical, 1 they differ, 2 misuse."""
    from . import report
    from .diff import diff_specs

    result = diff_specs(a, b, input)
    emit(report.render_diff(result, fmt.value))
    if not result.identical:
        raise typer.Exit(1)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the spec format (the one the loader validates against)."""
    from .spec import SCHEMA_PATH

    emit(SCHEMA_PATH.read_text(encoding="utf-8"))


def main() -> None:
    app()
