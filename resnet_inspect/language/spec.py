"""The spec language: YAML in, a typed, fully evaluated :class:`Spec` out.

Structure is checked against the JSON Schema shipped beside this module (the single source of
truth, also printed by ``resnet-inspect schema``); the arithmetic in sizes is evaluated here with
:mod:`resnet_inspect.expr`. Everything that can go wrong is reported as a one-line
:class:`SpecError` naming file:line:column and the field.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from ..core import numbers
from ..core.records import record
from ..core.errors import Location, SpecError, close_names
from .expr import ExprError, Number, evaluate
from ..core.usertext import excerpt
from .yamlsafe import Document, YamlPath, field_name, load, read_text

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # the package root: resnet_inspect/
# Filters each block kind takes (the block functions themselves live in graph.BLOCKS).
BLOCK_FILTERS = {"bottleneck": 3, "basic": 2, "preact_bottleneck": 3}
MAX_BLOCKS = 1000  # per stage; ResNet-1001 has 111. Bounds the graph so bad input cannot eat memory.
SCHEMA_PATH = PACKAGE_DIR / "spec.schema.json"
SPEC_SUFFIXES = (".yaml", ".yml")  # compared lower-cased: `R50.YAML` is a spec too


@record
class Conventions:
    """The choices on which real ResNet50s differ; defaults follow Keras / the blog's code."""

    conv_bias: bool = True
    stride_on: str = "1x1"
    pool_padding: int = 1
    bn_epsilon: float = 1e-3
    block_naming: str = "auto"
    preprocessing: str = "caffe"
    stride_block: str = "first"
    strided_shortcut: str = "conv"
    keras_layout: str = "keras3"  # the Keras code whose layer order a Keras 3 weights file follows
    param_count: str = "keras"  # whose "params" the table's Total row leads with (model.statistics.PARAM_COUNTS)


@record
class ConvSpec:
    filters: int
    kernel: int
    stride: int


@record
class PoolSpec:
    size: int
    stride: int


@record
class StemSpec:
    pad: int
    conv: ConvSpec
    pool: PoolSpec | None


@record
class StageSpec:
    number: int
    filters: tuple[int, ...]
    blocks: int
    stride: int
    first_block: str
    block_naming: str
    where: Location
    groups: int = 1


@record
class HeadSpec:
    pool: str
    pool_size: int
    units: int
    dense_name: str
    activation: str
    where: Location


@record
class Framework:
    """The framework constructor a spec reproduces, and the smallest input it accepts itself.

    ``keras.applications`` refuses inputs below 32×32 (``obtain_input_shape(min_size=32)``)
    although every layer of its ResNets builds at 1×1; where the smallest input is reported,
    both are said.
    """

    name: str  # "keras.applications.ResNet50V2"
    min_input: int  # the smallest H and W it accepts


@record
class Spec:
    """A network declared symbolically, every size evaluated to a whole number."""

    name: str
    description: str
    input_shape: tuple[int, int, int]
    block: str
    conventions: Conventions
    stem: StemSpec
    stages: tuple[StageSpec, ...]
    head: HeadSpec
    file: str
    document: Document = field(repr=False, compare=False)
    framework: Framework | None = None  # the framework constructor it reproduces, when the spec says

    def __repr__(self) -> str:  # the dataclass repr spells out every stage and convention
        h, w, c = self.input_shape
        blocks = [stage.blocks for stage in self.stages]
        return (f"Spec(name={self.name!r}, file={self.file!r}, input={h}×{w}×{c}, block={self.block!r}, "
                f"blocks={blocks})")

    @property
    def expect(self) -> dict:
        return self.document.data.get("expect", {})

    def where(self, *path: str | int) -> Location:
        """Location in the spec file of a field (or its nearest parent)."""
        return self.document.where(path)


# --------------------------------------------------------------------------- finding specs


def bundled_specs_dir() -> Path:
    """The bundled specs: inside the installed package, or ``specs/`` in a source checkout."""
    installed = PACKAGE_DIR / "specs"
    return installed if installed.is_dir() else PACKAGE_DIR.parent / "specs"


def bundled_specs() -> dict[str, Path]:
    return {p.stem: p for p in sorted(bundled_specs_dir().glob("*.yaml"), key=lambda p: p.stem)}


@record
class Catalog:
    """What ``resnet-inspect list`` prints: each bundled spec's name and what it reproduces."""

    specs: tuple[tuple[str, str], ...]  # (name, description)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``list --format json``."""
        return {"specs": [{"name": name, "description": description} for name, description in self.specs]}

    def to_json(self) -> str:
        from ..core.text import to_json

        return to_json(self.to_dict())


def catalog() -> Catalog:
    """The bundled specs, each parsed for its description (the Python API of ``list``)."""
    return Catalog(tuple((name, load_spec(path).description) for name, path in bundled_specs().items()))


# How `check` tells a spec from other YAML in a folder (docker-compose.yml, CI workflows): a line
# that starts the top-level key `stages:`, or the schema line `new` writes. Stated in the README
# and in check's --help; a file named explicitly is checked whatever it holds.
SPEC_RULE = "a top-level `stages:` key, or a `# yaml-language-server: $schema=` line naming spec.schema.json"
_SPEC_MARK = re.compile(r"^(?:stages[ \t]*:|#[ \t]*yaml-language-server:[^\n]*spec\.schema\.json)", re.MULTILINE)


def is_spec_text(text: str) -> bool:
    """Whether a YAML file found in a folder is a spec, by :data:`SPEC_RULE` (text only: nothing parsed)."""
    return _SPEC_MARK.search(text) is not None


def is_path(text: str) -> bool:
    """A path contains a folder separator or ends in .yaml / .yml (any case); anything else is a name.

    So ``resnet50`` always means the bundled spec, even when a file or folder of that name sits in
    the current folder (a pull request cannot swap it); ``./resnet50`` or ``resnet50.yaml`` is a file.
    """
    separators = {"/", os.sep, os.altsep} - {None}
    return any(sep in text for sep in separators) or text.lower().endswith(SPEC_SUFFIXES)


def resolve(name_or_path: str | Path) -> Path:
    """A bundled spec's name (``resnet50``) or a path to any YAML file (see :func:`is_path`)."""
    if isinstance(name_or_path, Path):
        return name_or_path
    text = os.fspath(numbers.path(name_or_path, "spec"))  # a tuple or a 5,000-digit int: one error
    if text == "":
        raise SpecError("empty spec name; give a bundled spec's name or a path to a YAML file", where=Location("''"))
    if is_path(text):
        if not os.path.lexists(text) and bundled_hint(text):
            raise SpecError(f"no such spec file{bundled_hint(text)}", where=Location(excerpt(text)))
        return Path(text)
    directory = bundled_specs_dir()
    try:  # what bundled_specs() would find, without its glob (start-up)
        if f"{text}.yaml" in os.listdir(directory):
            return directory / f"{text}.yaml"
    except OSError:
        pass
    specs = bundled_specs()
    if text in specs:
        return specs[text]
    close = close_names(text, specs)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise SpecError(f"unknown spec '{excerpt(text)}'{hint} (`resnet-inspect list` shows the {len(specs)} bundled "
                    "specs; a path contains / or ends in .yaml or .yml, e.g. ./name)", where=Location(excerpt(text)))


def bundled_hint(path: str) -> str:
    """For a spec file that does not exist, a pointer to the bundled spec its name recalls, or "".

    ``trace resnet50.yaml`` in a folder without that file most likely meant the bundled ``resnet50``.
    """
    stem = Path(path).name
    for suffix in SPEC_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    close = close_names(stem, bundled_specs(), n=1) if stem else []
    return f"; did you mean the bundled spec {close[0]} (its name, without a path or .yaml)?" if close else ""


def load_spec(name_or_path: "str | Path | Spec") -> Spec:
    """Load, validate and evaluate a spec by bundled name or path (a :class:`Spec` as is)."""
    if isinstance(name_or_path, Spec):
        return name_or_path
    path = resolve(name_or_path)
    shown = name_or_path if isinstance(name_or_path, str) and is_path(name_or_path) else str(path)
    return parse_spec(read_text(path), shown)  # errors name the file as the user wrote it (./r50)


def parse_spec(text: str, file: str = "<spec>") -> Spec:
    """A spec from its YAML ``text``; ``file`` is what errors call it."""
    document = load(numbers.text(text, "text"), numbers.text(file, "file"))
    if not isinstance(document.data, dict):
        kind = type(document.data).__name__
        raise SpecError(f"a spec is a mapping (name, stem, stages, head), not a {kind}", where=document.where(()))
    _validate_schema(document)
    return _Evaluator(document).spec()


# --------------------------------------------------------------------------- schema


def schema() -> dict:
    import json

    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _validator() -> Callable[[Any], Any]:
    """The schema compiled by fastjsonschema ahead of time (scripts/generate_validator.py)."""
    from ._schema_validator import validate

    return validate


def _validate_schema(document: Document) -> None:
    from ._schema_validator import JsonSchemaValueException  # the shipped file's own: no fastjsonschema import

    try:
        _validator()(document.data)
    except JsonSchemaValueException as exc:
        raise _schema_error(document, exc) from None
    # only a float can be a float where an integer belongs: without one, the schema (a JSON
    # file to read and parse, with json to import) is not needed
    path = _float_for_integer(_cached_schema(), document.data, ()) if _has_float(document.data) else None
    if path is not None:
        value = _value_at(document.data, path)
        raise SpecError(f"must be a whole number, got {value!r}; write {int(value)}", where=document.where(path),
                        field=field_name(path))


def _has_float(data: Any) -> bool:
    if isinstance(data, float):
        return True
    if isinstance(data, dict):
        return any(_has_float(value) for value in data.values())
    if isinstance(data, list):
        return any(_has_float(item) for item in data)
    return False


@lru_cache(maxsize=1)
def _cached_schema() -> dict:
    """The schema as the generated validator carries it (the same data as :func:`schema`, a test
    says so), so checking a spec reads no JSON file and imports no json."""
    from ._schema_validator import SCHEMA

    return SCHEMA


def _float_for_integer(node: dict, data: Any, path: YamlPath) -> YamlPath | None:
    """The first path where the schema wants an integer and the YAML holds a float such as ``2.0``.

    JSON Schema counts 2.0 as an integer (so do both validators), but in a spec it is a typo or a
    YAML surprise: ``stage: 2.0`` named layers ``res2.0a_branch2a``. Walking the schema keeps
    this one rule for every integer field, present and future.
    """
    node = _deref(node)
    if isinstance(data, float):
        return path if _wants_integer(node) else None
    if isinstance(data, dict):
        properties, extra = node.get("properties", {}), node.get("additionalProperties")
        for key, value in data.items():
            child = properties.get(key, extra if isinstance(extra, dict) else None)
            found = None if child is None else _float_for_integer(child, value, path + (key,))
            if found is not None:
                return found
    elif isinstance(data, list) and isinstance(node.get("items"), dict):
        for index, item in enumerate(data):
            found = _float_for_integer(node["items"], item, path + (index,))
            if found is not None:
                return found
    return None


def _deref(node: dict) -> dict:
    while "$ref" in node:
        node = _cached_schema()["definitions"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _wants_integer(node: dict) -> bool:
    if node.get("type") == "integer":
        return True
    branches = [_deref(b) for b in node.get("oneOf", []) + node.get("anyOf", [])]
    return any(_wants_integer(b) for b in branches) and not any(b.get("type") == "number" for b in branches)


def _value_at(data: Any, path: YamlPath) -> Any:
    for part in path:
        data = data[part]
    return data


def _schema_error(document: Document, exc: Any) -> SpecError:
    path = _document_path(document.data, exc.path[1:])
    definition = exc.definition if isinstance(exc.definition, dict) else {}
    message = exc.message.split(" ", 1)[1] if " " in exc.message else exc.message
    if exc.rule == "additionalProperties" and isinstance(exc.value, dict):
        allowed = list(definition.get("properties", {}))
        unknown = next(k for k in exc.value if k not in allowed)
        path = path + (unknown,)
        message = f"unknown key '{excerpt(unknown)}' (allowed: {', '.join(allowed)})"
    elif exc.rule == "required" and isinstance(exc.value, dict):
        missing = [k for k in definition.get("required", []) if k not in exc.value]
        message = f"missing field {missing[0]!r}"
        unknown = [k for k in exc.value if k not in definition.get("properties", {})]
        message += f" (unknown key '{excerpt(unknown[0])}' found)" if unknown else ""  # most often a typo
    elif exc.rule == "oneOf" and "description" in definition:
        message = f"expected {definition['description'][0].lower()}{definition['description'][1:].rstrip('.')}, got {excerpt(repr(exc.value))}"
    elif exc.rule == "propertyNames" and isinstance(exc.value, dict):
        pattern = _key_pattern(definition)
        bad = next((key for key in exc.value if not re.search(pattern, key)), None) if pattern else None
        path, message = (path + (bad,), f"bad key '{excerpt(bad)}' (must match {pattern})") if bad else (path, message)
    return SpecError(message, where=document.where(path), field=field_name(path) or None)


def _document_path(data: Any, parts: list[str]) -> YamlPath:
    """fastjsonschema names list items "0", "1"; the document's locations use int indices."""
    path: list[str | int] = []
    for part in parts:
        index = numbers.digits(str(part)) if isinstance(data, list) else None  # "²".isdigit() is true
        key: str | int = part if index is None else index
        path.append(key)
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            data = None
    return tuple(path)


def _key_pattern(definition: dict) -> str | None:
    names = definition.get("propertyNames", {})
    if "$ref" in names:
        names = schema()["definitions"].get(names["$ref"].rsplit("/", 1)[-1], {})
    for branch in (names, *names.get("anyOf", ())):  # input_size: an integer, or a string with a pattern
        if "pattern" in branch:
            return branch["pattern"]
    return None


# --------------------------------------------------------------------------- evaluation


class _Evaluator:
    """Turns validated YAML data into a :class:`Spec`, evaluating every size expression."""

    def __init__(self, document: Document) -> None:
        self.doc = document
        self.data: dict = document.data
        self.variables: dict[str, Number] = {}

    def error(self, path: YamlPath, message: str) -> SpecError:
        return SpecError(message, where=self.doc.where(path), field=field_name(path))

    def get(self, path: YamlPath, default: Any = None) -> Any:
        value: Any = self.data
        for part in path:
            if isinstance(value, dict) and part in value:
                value = value[part]
            elif isinstance(value, list) and isinstance(part, int) and part < len(value):
                value = value[part]
            else:
                return default
        return value

    def number(self, path: YamlPath, default: Any = None) -> Number:
        value = self.get(path, default)
        if path in self.doc.dates:
            raise self.error(path, f"'{excerpt(value)}' is a date (a YAML 1.1 timestamp), not a number")
        if isinstance(value, str):
            try:
                return evaluate(value, self.variables)
            except ExprError as exc:
                raise self.error(path, str(exc)) from None
        return value

    def size(self, path: YamlPath, default: Any = None, minimum: int = 1) -> int:
        value = self.number(path, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(path, f"must be a whole number, got {excerpt(repr(value))}")
        if value < minimum:
            raise self.error(path, f"must be >= {minimum}, got {value}")
        return value

    def spec(self) -> Spec:
        for name in self.get(("variables",), {}):
            self.variables[name] = self.number(("variables", name))
        return Spec(
            name=self.data["name"],
            description=self.get(("description",), "").strip(),
            input_shape=self.input_shape(),
            block=self.get(("block",), "bottleneck"),
            conventions=self.conventions(),
            stem=self.stem(),
            stages=tuple(self.stage(i) for i in range(len(self.data["stages"]))),
            head=self.head(),
            file=self.doc.file,
            document=self.doc,
            framework=self.framework(),
        )

    def framework(self) -> Framework | None:
        if self.get(("framework",), None) is None:
            return None
        return Framework(self.get(("framework", "name")), self.size(("framework", "min_input")))

    def input_shape(self) -> tuple[int, int, int]:
        if "input" not in self.data:
            return (224, 224, 3)
        h, w, c = (self.size(("input", i)) for i in range(3))
        return (h, w, c)

    def conventions(self) -> Conventions:
        defaults = Conventions()
        c = ("conventions",)
        epsilon = self.number(c + ("bn_epsilon",), defaults.bn_epsilon)
        if not isinstance(epsilon, (int, float)) or isinstance(epsilon, bool) or not 0 < epsilon < math.inf:
            raise self.error(c + ("bn_epsilon",), f"must be a positive number, got {epsilon!r}")
        return Conventions(
            conv_bias=self.get(c + ("conv_bias",), defaults.conv_bias),
            stride_on=self.get(c + ("stride_on",), defaults.stride_on),
            pool_padding=self.size(c + ("pool_padding",), defaults.pool_padding, minimum=0),
            bn_epsilon=float(epsilon),
            block_naming=self.get(c + ("block_naming",), defaults.block_naming),
            preprocessing=self.get(c + ("preprocessing",), defaults.preprocessing),
            stride_block=self.get(c + ("stride_block",), defaults.stride_block),
            strided_shortcut=self.get(c + ("strided_shortcut",), defaults.strided_shortcut),
            keras_layout=self.get(c + ("keras_layout",), defaults.keras_layout),
            param_count=self.get(c + ("param_count",), defaults.param_count),
        )

    def stem(self) -> StemSpec:
        conv = ("stem", "conv")
        pool = self.get(("stem", "pool"), None)
        return StemSpec(
            pad=self.size(("stem", "pad"), 3, minimum=0),
            conv=ConvSpec(self.size(conv + ("filters",)), self.size(conv + ("kernel",)), self.size(conv + ("stride",))),
            pool=None if pool is None else PoolSpec(self.size(("stem", "pool", "size")), self.size(("stem", "pool", "stride"))),
        )

    def stage(self, index: int) -> StageSpec:
        p: YamlPath = ("stages", index)
        filters = tuple(self.size(p + ("filters", i)) for i in range(len(self.get(p + ("filters",)))))
        block = self.get(("block",), "bottleneck")
        expected = BLOCK_FILTERS[block]
        if len(filters) != expected:
            raise self.error(p + ("filters",), f"a {block} block takes {expected} filters, got {len(filters)}")
        return StageSpec(
            number=self.size(p + ("stage",), minimum=0),
            filters=filters,
            blocks=self.blocks(p + ("blocks",)),
            stride=self.size(p + ("stride",), 1),
            first_block=self.get(p + ("first_block",), "conv"),
            block_naming=self.get(p + ("block_naming",), self.get(("conventions", "block_naming"), "auto")),
            where=self.doc.where(p),
            groups=self.groups(p, block, filters),
        )

    def groups(self, p: YamlPath, block: str, filters: tuple[int, ...]) -> int:
        """ResNeXt's cardinality: the 3×3 conv (the middle filters) splits into this many groups."""
        groups = self.size(p + ("groups",), 1)
        if groups > 1 and block == "basic":
            raise self.error(p + ("groups",), "a basic block has no grouped conv (torchvision's BasicBlock "
                                              "supports only groups: 1); use a bottleneck block")
        if filters[1] % groups:
            raise self.error(p + ("groups",), f"the 3×3 conv's {filters[1]} filters do not split into {groups} groups")
        return groups

    def blocks(self, path: YamlPath) -> int:
        blocks = self.size(path)
        if blocks > MAX_BLOCKS:
            raise self.error(path, f"{blocks} blocks in one stage; at most {MAX_BLOCKS} are supported")
        return blocks

    def head(self) -> HeadSpec:
        return HeadSpec(
            pool=self.get(("head", "pool")),
            pool_size=self.size(("head", "pool_size"), 7),
            units=self.size(("head", "dense", "units")),
            dense_name=self.get(("head", "dense", "name"), "fc1000"),
            activation=self.get(("head", "dense", "activation"), "softmax"),
            where=self.doc.where(("head",)),
        )
