"""The command line: declares options and wires them to library calls. No logic lives here."""

from __future__ import annotations

import gc

# Start-up (issue 16): the collector is paused while the CLI's modules load. Importing them makes
# some 10,000 objects that all live until exit, and the collections they would trigger, which
# find nothing to free, cost ~3 ms of every command; it is resumed at the end of this module.
_COLLECTING = gc.isenabled()
gc.disable()

import os  # noqa: E402 (after the pause, like every import below)
import sys  # noqa: E402
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from enum import Enum
from functools import wraps
from typing import Annotated, Any, Optional

import typer

from .render import choices, formatting
from .core.dtypes import MEMORY_DTYPES, RUN_DTYPES
from .core.errors import InspectError
from .core.usertext import visible
from .model.naming import SCHEMES
from .model.statistics import DEPTHS

app = typer.Typer(
    name="resnet-inspect",
    help="Trace a residual network from a YAML spec: every layer's name, shape, parameters and cost.",
    no_args_is_help=True,
    # --install-completion / --show-completion: click answers completion requests from its env
    # variable before any command runs; shellingham is imported only by those two options.
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from ._version import __version__

        sys.stdout.write(f"resnet-inspect {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", "-V", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Trace a residual network from a YAML spec: every layer's name, shape, parameters and cost."""


def vocabulary(name: str, table: Iterable[str]) -> Any:
    """A choice option's Enum, built from the table that defines the choices (never typed twice:
    tests/test_vocabularies.py checks every choice list against its table)."""
    return Enum(name, {choice: choice for choice in table}, type=str)


Format = vocabulary("Format", formatting.FORMATS)


def one_of(choices: Any) -> str:
    """A choice list for help text, from the option's Enum (or table). With a short ``metavar``
    on the option, help wraps between choices, never inside one (``torchvis ion``, issue 18)."""
    return ", ".join(getattr(choice, "value", choice) for choice in choices)


CheckFormat = vocabulary("CheckFormat", choices.CHECK_FORMATS)


# `run`, `weights …`, `schema -o`, `new`, `explain` and `diff` print a record: a table (or a line) or JSON.
RecordFormat = vocabulary("RecordFormat", formatting.RECORD_FORMATS)
DiffFormat = RecordFormat
Depth = vocabulary("Depth", DEPTHS)


SpecArg = Annotated[str, typer.Argument(help="Bundled spec name (see `list`) or path to a YAML spec.")]
SPEC_INPUT = "the spec's input, e.g. 224×224"
InputOpt = Annotated[Optional[str], typer.Option("--input", "-i", help="Input size: 224 or HxW like 224x320.",
                                                 show_default=SPEC_INPUT)]
InputsOpt = Annotated[Optional[list[str]], typer.Option(
    "--input", "-i", help="Input size (repeatable): 224, 224x320, or a range start:stop:step like 160:640:32 (stop included).",
    show_default=SPEC_INPUT)]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help=f"Output format: {one_of(Format)}.", metavar="FORMAT")]
DepthOpt = Annotated[Depth, typer.Option("--depth", "-d", help=f"Rows per layer, per block or per stage: {one_of(Depth)}.",
                                         metavar="DEPTH")]
RecordFormatOpt = Annotated[RecordFormat, typer.Option("--format", "-f", help="Output format: table or json.", metavar="FORMAT")]
ColumnsOpt = Annotated[Optional[list[str]], typer.Option(
    "--columns", "-c", help=f"Columns to show, repeatable or comma-separated: {', '.join(formatting.COLUMNS)} "
    "(kernel: \\[kernel, stride, padding]); the table leaves optional ones out to fit a narrow terminal.",
    show_default="op, output_shape, params, macs; CSV: all but kernel")]


Names = vocabulary("Names", SCHEMES)


NamesOpt = Annotated[Optional[Names], typer.Option(
    "--names", metavar="SCHEME", help=f"List layers under this framework's names: {one_of(Names)} (— where it has no such layer); see `names`.",
    show_default="the spec's own (blog) names")]
ArrayNamesOpt = Annotated[Optional[Names], typer.Option(
    "--names", metavar="SCHEME", help=f"One of {one_of(Names)}: name layers and arrays in errors (missing, extra, misshapen, NaN) under this framework's names.",
    show_default="the spec's own (blog) names")]


class KerasLayout(str, Enum):
    keras3 = "keras3"
    blog = "blog"


KerasLayoutOpt = Annotated[Optional[KerasLayout], typer.Option(
    "--keras-layout", metavar="LAYOUT", help="The Keras code a .weights.h5/.keras file was saved by (or an .h5 will be loaded by): "
    "keras3 (keras.applications, Add()(\\[shortcut, x])) or blog (the blog's code, add(\\[x, shortcut])). "
    "Keras matches these by layer position, and the two codes order layers differently.",
    show_default="the spec's keras_layout")]


DType = vocabulary("DType", RUN_DTYPES)  # what the NumPy executor computes in


def _integer(text: Any) -> int:
    """Whole-number options (--batch, --seed, --top, --repeat) read by the one parser of user
    numbers (ASCII digits: click's int() would take "２" or "1_0"); click's own message if not."""
    from .core.numbers import integer

    from .core.usertext import excerpt

    try:
        return integer(text)
    except InspectError:
        raise typer.BadParameter(f"'{excerpt(text)}' is not a valid int.") from None


_integer.__name__ = "int"  # click shows a parser's name as the metavar: <int>, as before

BatchOpt = Annotated[int, typer.Option("--batch", "-b", help="Batch size of the forward pass.", parser=_integer)]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the random weights and input: same seed, same run.",
                                      parser=_integer)]
DtypeOpt = Annotated[DType, typer.Option("--dtype", help="float32 (fast) or float64 (a reference run).", metavar="DTYPE")]
MaxMemoryOpt = Annotated[str, typer.Option("--max-memory", help="Refuse a forward pass estimated to need more (e.g. 4GB, 512MB).")]


def emit(output: Any) -> None:
    """Print a string (control characters made visible, line breaks kept) or a Rich renderable.

    A terminal's own width is used; when piped, ``COLUMNS`` if set, else no wrapping at all; never
    narrower than ``streams.MIN_WIDTH``, nor than the output's own minimum (names and numbers stay
    whole: a line longer than the terminal is wrapped by the terminal, not cut by us).
    """
    if isinstance(output, str):
        output = visible(output, keep_newlines=True)
        sys.stdout.write(output if output.endswith("\n") else output + "\n")
        return
    width = output_width()
    plain_text = getattr(output, "plain_text", None)  # a table that can skip Rich when piped
    if plain_text is not None:
        from .render.plaintable import plain_console

        text = plain_text(width) if plain_console() else None
        if text is not None:
            sys.stdout.write(text)
            return
    from rich.measure import Measurement

    from .render.streams import console as stdout_console

    console = stdout_console(width)
    least = Measurement.get(console, console.options.update_width(UNWRAPPED), output).minimum
    (stdout_console(least) if least > width else console).print(output)


# Wide enough never to wrap a table (resnet-1001 at --columns all is far narrower), small enough
# that Rich's per-line buffers stay cheap.
UNWRAPPED = 10_000


def output_width() -> int:
    """A terminal's width; piped, ``COLUMNS`` if it is a number, else no wrapping. At least
    ``streams.MIN_WIDTH`` either way (``COLUMNS=0`` on a terminal printed nothing)."""
    from .render.streams import floor

    if sys.stdout.isatty():
        import shutil

        return floor(shutil.get_terminal_size().columns)  # COLUMNS when positive, else the terminal's
    from .core.numbers import digits

    columns = digits(os.environ.get("COLUMNS", "").strip())  # ASCII digits: "²".isdigit() is true, int("²") raises
    return floor(min(columns, UNWRAPPED)) if columns else UNWRAPPED


def reports_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Turn an :class:`InspectError` into one line on stderr (or JSON on stdout) and exit 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            try:
                command(*args, **kwargs)
            except MemoryError as exc:  # one place for every allocation a raised --max-memory let through
                raise out_of_memory(exc) from None
        except InspectError as exc:
            exc = as_flag(exc)
            if getattr(kwargs.get("fmt"), "value", None) == "json":
                sys.stdout.write(formatting.to_json(exc.to_dict()) + "\n")
            else:
                sys.stderr.write(f"error: {exc}\n")
            raise typer.Exit(2) from None

    return wrapper


# The library's argument names, as the flags that set them: an API error says `input must be …`,
# the command line's `--input must be …`, in the field and at the head of the message.
ARGUMENTS = ("input", "max_memory", "unit", "batch", "seed", "repeat", "dtype", "array", "image", "resize",
             "names", "keras_layout", "convention", "level", "block", "columns", "output",
             "top", "save_input", "save_output", "weights", "to")
FLAGS = {name: "--" + name.replace("_", "-") for name in ARGUMENTS} | {"image/array": "--image/--array"}


def as_flag(exc: InspectError) -> InspectError:
    flag = FLAGS.get(exc.field or "")
    if flag is not None:
        field = exc.field or ""
        if exc.message.startswith(f"{field} "):
            exc.message = flag + exc.message[len(field):]
        exc.field = flag
        exc.args = (str(exc),)
    return exc


def out_of_memory(exc: MemoryError) -> InspectError:
    """NumPy's ``Unable to allocate 119. GiB ...`` (or a bare MemoryError) as one line."""
    from .core.usertext import excerpt

    detail = str(exc).split(" for an array")[0].strip() or "an allocation failed"
    return InspectError(f"out of memory: {excerpt(detail, 80)}; the estimate was within --max-memory "
                        "but this machine could not allocate it: lower --max-memory, the batch or the input size")


@app.command()
@reports_errors
def trace(
    spec: SpecArg = "resnet50",
    input: InputOpt = None,
    depth: DepthOpt = Depth.layer,
    fmt: FormatOpt = Format.table,
    columns: ColumnsOpt = None,
    names: NamesOpt = None,
) -> None:
    """One row per layer (or block, or stage): name, op, output shape, params, MACs; totals and sizes below."""
    from .model.engine import trace as run_trace

    formatting.columns(columns)  # an unknown column is an error before any work
    result = run_trace(spec, input)
    if names is not None:
        from .model.statistics import rename_trace

        result = rename_trace(result, _load_graph(spec), names.value, depth.value)
    emit(formatting.render_trace(result, fmt.value, depth.value, columns))


class Convention(str, Enum):
    paper = "paper"
    torchinfo = "torchinfo"
    fvcore = "fvcore"
    ptflops = "ptflops"
    ptflops_aten = "ptflops-aten"
    thop = "thop"


ConventionOpt = Annotated[Optional[Convention], typer.Option(
    "--convention", metavar="PEER", help=f"One of {one_of(Convention)}. Count as a peer does, to the unit, with the per-op breakdown and each rule.",
    show_default="none: our MACs and FLOPs by stage")]


@app.command()
@reports_errors
def flops(spec: SpecArg = "resnet50", input: InputsOpt = None, fmt: FormatOpt = Format.table,
          convention: ConventionOpt = None) -> None:
    """MACs and FLOPs per input size, with a per-stage breakdown (or a peer's count by op); a range (160:640:32) gives one row per size."""
    from .analysis.counts import flops as flops_report
    from .analysis.sweep import is_range

    if input and any(is_range(text) for text in input):
        from .model.graph import load_graph
        from .analysis.sweep import parse_sizes, sweep

        if convention:
            raise InspectError("--convention counts one size at a time; give plain --input sizes, not a range",
                               field="--convention")
        graph = load_graph(spec)  # its layers count toward the work budget, checked before any size is made
        emit(formatting.render_sweep(sweep(graph, parse_sizes(input, len(graph.layers))), fmt.value))
        return

    emit(formatting.render_flops(flops_report(spec, input or None, convention.value if convention else None), fmt.value))


@app.command()
@reports_errors
def params(spec: SpecArg = "resnet50", input: InputOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Total, trainable and non-trainable parameters, per stage (at an input size: a flatten before a dense layer makes them depend on it)."""
    from .analysis.counts import params as params_report

    emit(formatting.render_params(params_report(spec, input), fmt.value))


@app.command("list")
@reports_errors
def list_specs(fmt: FormatOpt = Format.table) -> None:
    """The bundled specs: family, layout, params, MACs at 224 and what each reproduces."""
    from .analysis.zoo import zoo

    emit(formatting.render_list(zoo(), fmt.value))


@app.command()
@reports_errors
def check(
    paths: Annotated[Optional[list[str]], typer.Argument(help="Spec files and folders (searched for *.yaml, *.yml).",
                                                         show_default=".")] = None,
    fmt: Annotated[CheckFormat, typer.Option("--format", "-f", help="table, json, github (annotations) or junit (XML).", metavar="FORMAT")] = CheckFormat.table,
    update: Annotated[bool, typer.Option("--update", help="Rewrite failing exact expect: values in place (every other byte kept), print the diff. Budgets and specs that do not build are left as they are.")] = False,
) -> None:
    """Check specs build and keep their `expect:` promises. Exit 0 all hold, 1 any fails, 2 misuse.

    In a folder, a *.yaml/*.yml file is a spec if it has a top-level `stages:` key or a
    `# yaml-language-server: $schema=` line naming spec.schema.json; other YAML is skipped and counted.
    A file named explicitly is always checked.
    """
    from .render import report
    from .analysis.check import check_paths

    result = check_paths(paths or ["."], update=update)
    emit(report.render_check(result, fmt.value))
    if not result.ok:
        raise typer.Exit(1)


@app.command()
@reports_errors
def diff(
    a: Annotated[str, typer.Argument(help="The first spec (bundled name or path).")],
    b: Annotated[str, typer.Argument(help="The second spec (bundled name or path).")],
    input: InputOpt = None,
    fmt: Annotated[DiffFormat, typer.Option("--format", "-f", help=f"Output format: {one_of(DiffFormat)}.", metavar="FORMAT")] = DiffFormat.table,
    names: NamesOpt = None,
    layers: Annotated[bool, typer.Option("--layers", help="Also list every layer that differs (JSON always has them).")] = False,
) -> None:
    """What differs between two specs: settings, changes with their counts, totals. Exit 0 identical, 1 they differ, 2 misuse."""
    from .render import report
    from .analysis.diff import diff_specs

    result = diff_specs(a, b, input)
    if names is not None:
        from .analysis.diff import rename_diff

        result = rename_diff(result, _load_graph(a), _load_graph(b), names.value)
    emit(report.render_diff(result, fmt.value, layers))
    if not result.identical:
        raise typer.Exit(1)


@app.command("names")
@reports_errors
def names_table(spec: SpecArg = "resnet50", fmt: FormatOpt = Format.table) -> None:
    """Every layer's name in the blog, Caffe, Keras 3 and torchvision (— where a framework has none)."""
    from .model.naming import NameTable

    emit(formatting.render_names(NameTable.of(_load_graph(spec)), fmt.value))


@app.command()
@reports_errors
def rf(
    spec: SpecArg = "resnet50",
    input: InputOpt = None,
    unit: Annotated[Optional[str], typer.Option("--unit", help="An output unit of the last stage, row,column (e.g. 3,4): where its field is centred.", show_default="none")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Receptive field per layer (size, effective stride and padding), and whether the last stage sees the whole input."""
    from .model.engine import trace as run_trace
    from .analysis.receptive import parse_unit, receptive_report

    report = receptive_report(run_trace(spec, input), None if unit is None else parse_unit(unit))
    emit(formatting.render_rf(report, fmt.value))


MemoryDType = vocabulary("MemoryDType", MEMORY_DTYPES)  # what `memory --dtype` quotes bytes in


class MemoryConvention(str, Enum):
    inference = "inference"
    torchinfo = "torchinfo"


@app.command()
@reports_errors
def memory(
    spec: SpecArg = "resnet50",
    input: InputOpt = None,
    batch: BatchOpt = 1,
    dtype: Annotated[MemoryDType, typer.Option("--dtype", help="Bytes per value: float32 4, float16/bfloat16 2, int8 1.", metavar="DTYPE")] = MemoryDType.float32,
    convention: Annotated[MemoryConvention, typer.Option("--convention", help="inference: peak live activations of a forward pass; torchinfo: its forward/backward pass size.", metavar="CONVENTION")] = MemoryConvention.inference,
    fmt: FormatOpt = Format.table,
) -> None:
    """Activation memory per layer, its peak over a forward pass, and parameter bytes."""
    from .model.engine import trace as run_trace
    from .analysis.memory import memory_profile

    profile = memory_profile(run_trace(spec, input), batch, dtype.value, convention.value)
    emit(formatting.render_memory(profile, fmt.value))


ExplainFormat = RecordFormat


@app.command()
@reports_errors
def explain(
    spec: SpecArg,
    layer: Annotated[str, typer.Argument(help="A layer name, as `trace` prints it (res3a_branch2a, pool1, fc1000, …).")],
    input: InputOpt = None,
    fmt: Annotated[ExplainFormat, typer.Option("--format", "-f", help="Output format.")] = ExplainFormat.table,
) -> None:
    """The arithmetic behind one layer, step by step: its input, output size, params, MACs and FLOPs."""
    from .analysis.explain import explain as explain_layer

    emit(formatting.render_explain(explain_layer(spec, layer, input), fmt.value))


@app.command()
@reports_errors
def schema(
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write the schema to this file; a spec whose first line is `# yaml-language-server: $schema=PATH` gets completion and checks in editors with a YAML extension.",
                                                  show_default="print it")] = None,
    fmt: Annotated[RecordFormat, typer.Option("--format", "-f", help="With -o: a one-line note (table) or a JSON record; without: the schema is JSON either way.", metavar="FORMAT")] = RecordFormat.table,
) -> None:
    """Print (or write with -o) the JSON Schema of the spec format, the one the loader validates against."""
    from .analysis.newspec import write_schema
    from .render.records import render_schema_written
    from .language.spec import SCHEMA_PATH

    if output is None:
        emit(SCHEMA_PATH.read_text(encoding="utf-8"))
        return
    emit(render_schema_written(write_schema(output), fmt.value))


@app.command("new")
@reports_errors
def new(
    name: Annotated[str, typer.Argument(help="Name of the new spec (letters, digits, _ . -).")],
    source: Annotated[str, typer.Option("--from", help="Spec to start from: bundled name or path.")] = "resnet50",
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Spec file to write (never overwritten).",
                                                  show_default="NAME.yaml")] = None,
    schema_file: Annotated[Optional[str], typer.Option("--schema", help="Schema file the spec's $schema line points at; written when missing.",
                                                       show_default="spec.schema.json beside the spec")] = None,
    fmt: RecordFormatOpt = RecordFormat.table,
) -> None:
    """Start a spec from another, with a working $schema line and an expect: block of today's numbers."""
    from .analysis.newspec import write_new_spec
    from .render.records import render_new

    emit(render_new(write_new_spec(name, source, output, schema_file), fmt.value))


weights_app = typer.Typer(help="Weights files: seeded random ones, format conversion, fit checks.",
                          no_args_is_help=True)
app.add_typer(weights_app, name="weights")


RunFormat = RecordFormat


WeightsFileOpt = Annotated[str, typer.Option("--weights", "-w", help="Weights: .npz, .safetensors (torchvision), .h5, .weights.h5 or .keras (Keras).")]
OutputFileOpt = Annotated[str, typer.Option("--output", "-o", help="File to write: .npz, .h5/.weights.h5 (Keras layout) or .safetensors (PyTorch: torchvision's keys).")]


def _load_graph(spec: str) -> Any:
    from .model.graph import load_graph

    return load_graph(spec)


@weights_app.command("init")
@reports_errors
def weights_init(spec: SpecArg, output: OutputFileOpt,
                 seed: Annotated[int, typer.Option(help="Random seed: same seed, same file.", parser=_integer)] = 0,
                 max_memory: MaxMemoryOpt = "4GB", keras_layout: KerasLayoutOpt = None,
                 fmt: RecordFormatOpt = RecordFormat.table) -> None:
    """Write seeded random weights for a spec (He-normal convs, non-trivial BatchNorm statistics)."""
    from .execute.executor import check_bytes, parse_memory
    from .model.weights import Seeded, random_weights, weights_bytes

    from .io.weightfiles import check_layout_used

    check_layout_used(_value(keras_layout), output)
    limit = parse_memory(max_memory)
    graph = _load_graph(spec)
    check_bytes(weights_bytes(graph), limit, f"making the weights of {graph.spec.name}")
    seeded = Seeded(seed, spec=graph.spec.name)
    _write_weights(random_weights(graph, seed, scheme=seeded.scheme), output, graph, fmt, _value(keras_layout),
                   reads=(spec,), metadata=seeded.metadata(), seed=seed, seed_scheme=seeded.scheme)


@weights_app.command("convert")
@reports_errors
def weights_convert(source: Annotated[str, typer.Argument(help="Weights file to read (any supported format).")],
                    output: OutputFileOpt, spec: Annotated[str, typer.Option("--spec", "-s", help="The spec the weights belong to.")] = "resnet50",
                    names: ArrayNamesOpt = None, keras_layout: KerasLayoutOpt = None,
                    fmt: RecordFormatOpt = RecordFormat.table) -> None:
    """Rewrite a weights file as .npz, Keras .h5/.weights.h5 or a PyTorch state dict (.safetensors), checked against the spec first (--keras-layout applies to both files)."""
    from .model.naming import shown
    from .io.weightfiles import check_layout_used, read_weights

    check_layout_used(_value(keras_layout), source, output)
    graph = _load_graph(spec)
    weights, metadata = read_weights(source, graph, shown=shown(graph, _value(names)), keras_layout=_value(keras_layout))
    _write_weights(weights, output, graph, fmt, _value(keras_layout), reads=(source, spec), metadata=metadata,
                   source=source)  # a seeded file's mark goes with its numbers


def _value(option: Optional[Enum]) -> Optional[str]:
    return None if option is None else option.value


def _write_weights(weights: Any, output: str, graph: Any, fmt: RecordFormat, keras_layout: Optional[str],
                   reads: tuple[str, ...] = (), metadata: Optional[dict[str, str]] = None, **facts: Any) -> None:
    from .io.weightfiles import save_weights, summary
    from .render.records import WeightsRecord, render_weights

    path = save_weights(weights, output, graph, reads=reads, keras_layout=keras_layout, metadata=metadata)
    arrays, numbers = summary(weights)
    emit(render_weights(WeightsRecord("wrote", graph.spec.name, str(path), arrays, numbers, **facts), fmt.value))


@weights_app.command("check")
@reports_errors
def weights_check(spec: SpecArg, file: Annotated[str, typer.Argument(help="Weights file to check.")],
                  names: ArrayNamesOpt = None, keras_layout: KerasLayoutOpt = None,
                  fmt: RecordFormatOpt = RecordFormat.table) -> None:
    """Check that a weights file fits a spec: exit 0, or 2 with every missing/extra/misshapen array, NaN/inf or negative variance."""
    from .model.naming import shown
    from .io.weightfiles import check_layout_used, load_weights, summary
    from .render.records import WeightsRecord, render_weights

    check_layout_used(_value(keras_layout), file)
    graph = _load_graph(spec)
    arrays, numbers = summary(load_weights(file, graph, shown=shown(graph, _value(names)), keras_layout=_value(keras_layout)))
    emit(render_weights(WeightsRecord("fits", graph.spec.name, file, arrays, numbers), fmt.value))


@app.command("run")
@reports_errors
def run_network(
    spec: SpecArg,
    weights: WeightsFileOpt,
    image: Annotated[Optional[str], typer.Option("--image", help="A picture (PNG, JPEG, BMP, TIFF, WebP): resized as --resize says, normalised by the spec's convention.",
                                                 show_default="none: give --image or --array")] = None,
    array: Annotated[Optional[str], typer.Option("--array", help="An NHWC float32 .npy, already preprocessed (H×W×C gets a batch dim).",
                                                 show_default="none: give --image or --array")] = None,
    save_output: Annotated[Optional[str], typer.Option("--save-output", help="Write the final output (softmax or logits) as .npy.",
                                                       show_default="not saved")] = None,
    save_input: Annotated[Optional[str], typer.Option("--save-input", help="Write the batch the network received (NHWC, preprocessed) as .npy.",
                                                      show_default="not saved")] = None,
    resize: Annotated[Optional[str], typer.Option("--resize", help="How --image is resized: torch (shorter side 256, centre crop 224) or caffe (Keras: stretch, nearest).",
                                                  show_default="the spec's preprocessing")] = None,
    top: Annotated[int, typer.Option("--top", "-k", help="How many classes to show per item.", parser=_integer)] = 5,
    repeat: Annotated[int, typer.Option("--repeat", help="Timed forward passes after one warm-up (median and min).", parser=_integer)] = 0,
    max_memory: MaxMemoryOpt = "4GB",
    names: ArrayNamesOpt = None,
    keras_layout: KerasLayoutOpt = None,
    fmt: RecordFormatOpt = RecordFormat.table,
) -> None:
    """Real inference with real weights: top ImageNet classes and the forward time."""
    from .execute.executor import parse_memory
    from .execute.inference import run
    from .render.inference_report import progress, render_run

    result = run(spec, weights, image=image, array=array, resize=resize, top=top, repeat=repeat,
                 max_memory=parse_memory(max_memory), names=_value(names), keras_layout=_value(keras_layout),
                 save_input=save_input, save_output=save_output, progress=progress)
    if result.warning:  # before the classes: "barn 1.0000" never shows without it
        sys.stderr.write(f"warning: {result.warning}\n")
    emit(render_run(result, fmt.value))


@app.command()
@reports_errors
def verify(
    spec: SpecArg = "resnet50",
    input: InputOpt = None,
    batch: BatchOpt = 1,
    seed: SeedOpt = 0,
    dtype: DtypeOpt = DType.float32,
    max_memory: MaxMemoryOpt = "4GB",
    fmt: FormatOpt = Format.table,
    names: NamesOpt = None,
) -> None:
    """Prove the trace: a NumPy forward pass with seeded random weights, every layer's shape checked. Exit 1 on a mismatch."""
    from .model.engine import parse_input
    from .execute.executor import parse_memory
    from .render.inference_report import progress
    from .execute.verify import verify as run_verify

    graph = _load_graph(spec)
    hw = parse_input(input) if input is not None else graph.spec.input_shape[:2]
    limit = parse_memory(max_memory)
    with progress(graph, hw, batch, runs=1) as hooks:
        result = run_verify(graph, hw, batch=batch, seed=seed, dtype=dtype.value, max_memory=limit,
                            on_layer=hooks.on_layer)
    if names is not None:
        from .execute.verify import rename_verify

        result = rename_verify(result, graph, names.value)
    emit(formatting.render_verify(result, fmt.value))
    if not result.ok:
        sys.stderr.write(f"error: {visible(result.failure())}\n")
        raise typer.Exit(1)


DiagramLevel = vocabulary("DiagramLevel", choices.DIAGRAM_LEVELS)
DiagramFormat = vocabulary("DiagramFormat", choices.DIAGRAM_FORMATS)


@app.command()
@reports_errors
def diagram(
    spec: SpecArg = "resnet50",
    level: Annotated[DiagramLevel, typer.Option("--level", "-l", help=f"{one_of(DiagramLevel)}: the whole network by stage, one stage by block, or one block by layer.", metavar="LEVEL")] = DiagramLevel.block,
    block: Annotated[Optional[str], typer.Option("--block", help="The block (res3a; also stem or head) or, with --level stage, the stage (stage3) to draw.", show_default="the first block")] = None,
    input: InputOpt = None,
    fmt: Annotated[DiagramFormat, typer.Option("--format", "-f", help=f"{one_of(DiagramFormat)}: SVG (no Graphviz needed), Graphviz DOT or Mermaid.", metavar="FORMAT")] = DiagramFormat.svg,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="File to write (.svg, .dot/.gv, .mmd/.mermaid).", show_default="stdout")] = None,
) -> None:
    """The blog's figures from the spec: a block's convs, BN, ReLU, shortcut and add, or the network by stage, shapes on the edges."""
    from .render.diagrams import diagram as lay_out, save

    text = lay_out(spec, level.value, block, input).render(fmt.value)
    if output is None:
        emit(text)
    else:
        emit(f"wrote {save(text, output, fmt.value, reads=(spec,))}")


@app.command()
@reports_errors
def report(
    spec: SpecArg = "resnet50",
    input: InputOpt = None,
    output: Annotated[str, typer.Option("--output", "-o", help="The page to write (.html): self-contained, opens offline.")] = "report.html",
    fmt: RecordFormatOpt = RecordFormat.table,
) -> None:
    """One self-contained HTML page: summary, per-stage chart, block diagrams, layer table, receptive field, memory."""
    from .render.html_report import render_written, report_html, save

    page = report_html(spec, input)
    emit(render_written(save(page, output, reads=(spec,)), spec, len(page.encode()), fmt.value))


@app.command("import")
@reports_errors
def import_model(
    file: Annotated[str, typer.Argument(help="A .keras archive, an ONNX model (.onnx) or a torchvision state dict (.safetensors, .npz).")],
    output: Annotated[str, typer.Option("--output", "-o", help="The spec to write (.yaml); it loads and passes `check`.")],
    name: Annotated[Optional[str], typer.Option("--name", help="The spec's name.", show_default="the file's name")] = None,
    fmt: RecordFormatOpt = RecordFormat.table,
) -> None:
    """Rebuild a spec from a model file; what the file cannot tell is noted on stderr and in the spec."""
    from .io.importers import import_spec, write_spec

    result = import_spec(file, name)
    written = write_spec(result, output)
    for note in result.notes():
        sys.stderr.write(visible(note) + "\n")
    emit(result.to_json() if fmt.value == "json" else result.line(written))


@app.command()
@reports_errors
def identify(
    file: Annotated[str, typer.Argument(help="A model or weights file: .keras, .onnx, .safetensors, .npz, .h5, .weights.h5.")],
    fmt: RecordFormatOpt = RecordFormat.table,
) -> None:
    """Name the bundled spec a file is. Exit 0 exact, 1 nearest (with the difference), 2 none."""
    from .io.importers import identify as identify_file

    result = identify_file(file)
    emit(result.to_json() if fmt.value == "json" else result.line())
    if result.exit_code:
        raise typer.Exit(result.exit_code)
ExportTo = vocabulary("ExportTo", choices.EXPORT_FORMATS)


@app.command("export")
@reports_errors
def export_model(
    spec: SpecArg,
    to: Annotated[ExportTo, typer.Option("--to", "-t", help="onnx (a graph with weights), pytorch or keras (Python source with build_model()).")],
    output: Annotated[str, typer.Option("--output", "-o", help="File to write: .onnx, or .py for pytorch and keras.")],
    weights: Annotated[Optional[str], typer.Option("--weights", "-w", help="ONNX: weights to put in the graph (any supported weights file).",
                                                   show_default="seeded as verify makes them (--seed)")] = None,
    input: InputOpt = None,
    batch: Annotated[Optional[str], typer.Option("--batch", "-b", help="ONNX: the input's batch dimension, a number or dynamic.",
                                                 show_default="1")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="ONNX: seed of the seeded weights (as verify makes them).",
                                                parser=_integer, show_default="0")] = None,
    names: Annotated[Optional[Names], typer.Option("--names", help="ONNX: name nodes and initializers as this framework does (the spec's where it has none).",
                                                   show_default="the spec's own (blog) names")] = None,
    keras_layout: KerasLayoutOpt = None,
    fmt: RecordFormatOpt = RecordFormat.table,
) -> None:
    """Write the spec as a runnable model: ONNX (opset 17, weights in), a PyTorch module or Keras 3 code."""
    from .execute.export import export

    options = {"weights": weights, "input": input, "batch": batch, "seed": seed, "names": _value(names),
               "keras_layout": _value(keras_layout)}
    result = export(spec, to.value, output, **options)
    emit(result.to_json() if fmt.value == "json" else result.line())


def main() -> None:
    """The console script. Click's own usage errors (an unknown option, a value not among the
    choices, a missing argument) become one ``error:`` line and exit 2, like every other error,
    instead of a usage box; the command's own exit codes pass through. It is a process's entry
    point (it ends in ``SystemExit`` and freezes the objects already loaded, below): in a
    long-lived process, call the library, or ``app`` through ``typer.testing.CliRunner``."""
    # Everything loaded so far (typer, yaml, this package: some 20,000 objects) lives until
    # the process ends. Frozen, the collector leaves it out of every later pass, the full one at
    # interpreter exit included, which otherwise walks it all for nothing: ~30 M instructions, a
    # fifth of a trace's whole run (issue 16). Objects the command makes are collected as before.
    gc.freeze()
    from .render.streams import guard

    closed = guard()  # the one guard on the streams: encodings, closed ones (render/streams.py)
    if closed is not None:
        sys.stderr.write(f"error: {closed}\n")
        raise SystemExit(2)
    usage_error, click_error = _click_errors()
    try:
        with _only_invoked(app, sys.argv[1:2]):
            code = app(standalone_mode=False)
    except usage_error as exc:
        if type(exc).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
            command = f"`{exc.ctx.command_path} --help`" if exc.ctx is not None else "`resnet-inspect --help`"
            sys.stderr.write(f"error: {_excerpts(exc.format_message())} (see {visible(command)})\n")
        raise SystemExit(2) from None
    except click_error as exc:  # any other error click reports itself
        sys.stderr.write(f"error: {_excerpts(exc.format_message())}\n")
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        sys.stderr.write("error: aborted\n")
        raise SystemExit(1) from None
    raise SystemExit(code if isinstance(code, int) else 0)


def _excerpts(message: str) -> str:
    """Click's message, visible, each argument longer than 80 characters cut to an excerpt (click
    quotes a refused value whole: a 100,000-character --format would fill the error line)."""
    from .core.usertext import excerpt

    for argument in sorted({a for a in sys.argv[1:] if len(a) > 80}, key=len, reverse=True):
        value = argument.partition("=")[2] if argument.startswith("--") and "=" in argument else argument
        if len(value) > 80:
            message = message.replace(value, excerpt(value, 80))
    return visible(message)


@contextmanager
def _only_invoked(typer_app: typer.Typer, first: list[str]) -> Iterator[None]:
    """While running ``resnet-inspect NAME ...``, ``typer_app`` holds only command (or group) NAME.

    Typer turns every registered command into a click command (signatures, options, help) before
    it parses a single argument, which costs a trace 10-30 ms of start-up for 15 commands it does
    not run (issue 16). The top-level help, an unknown name (click suggests the close ones), a
    top-level option and a shell's completion request still see every command.
    """
    commands, groups = typer_app.registered_commands, typer_app.registered_groups
    name = first[0] if first else ""
    chosen = [c for c in commands if (c.name or c.callback.__name__.lower().replace("_", "-")) == name]
    chosen_groups = [g for g in groups if g.name == name]
    if (not chosen and not chosen_groups) or any(key.endswith("_COMPLETE") for key in os.environ):
        yield
        return
    typer_app.registered_commands, typer_app.registered_groups = chosen, chosen_groups
    try:
        yield
    finally:
        typer_app.registered_commands, typer_app.registered_groups = commands, groups


def _click_errors() -> tuple[type[Exception], type[Exception]]:
    """Click's UsageError and ClickException, found through typer's public BadParameter (typer
    vendors click in recent releases, so ``import click`` may not exist)."""
    bases = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
    return bases["UsageError"], bases["ClickException"]


if _COLLECTING:  # the pause at the top of this module ends here
    gc.enable()
