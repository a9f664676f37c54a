"""Every CLI choice list is the table it names (issue 16): built from it where the table is light
enough to load at start-up, and checked against it here either way, so the two cannot drift."""

from __future__ import annotations

import pytest

from resnet_inspect import cli
from resnet_inspect.analysis import memory, peers
from resnet_inspect.core.dtypes import MEMORY_DTYPES
from resnet_inspect.execute import executor, export
from resnet_inspect.model import keras as kerasio
from resnet_inspect.model.naming import SCHEMES
from resnet_inspect.model.statistics import DEPTHS
from resnet_inspect.render import choices, diagram_render, diagrams, formatting, report


def values(enum) -> list[str]:
    return [member.value for member in enum]


@pytest.mark.parametrize("choice, table", [
    (cli.Format, formatting.FORMATS),
    (cli.RecordFormat, formatting.RECORD_FORMATS),
    (cli.DiffFormat, report.DIFF_FORMATS),
    (cli.ExplainFormat, formatting.RECORD_FORMATS),
    (cli.CheckFormat, choices.CHECK_FORMATS),
    (cli.Depth, DEPTHS),
    (cli.Names, SCHEMES),
    (cli.DiagramLevel, diagrams.LEVELS),
    (cli.DiagramFormat, tuple(diagram_render.WRITERS)),
    (cli.Convention, tuple(peers.CONVENTIONS)),
    (cli.MemoryDType, tuple(MEMORY_DTYPES)),
    (cli.MemoryConvention, memory.CONVENTIONS),
    (cli.DType, tuple(executor.DTYPES)),
    (cli.KerasLayout, tuple(kerasio.LAYOUTS)),
    (cli.ExportTo, export.FORMATS),
])
def test_each_choice_list_is_its_table(choice, table):
    assert values(choice) == list(table)


def test_light_tables_build_the_choices():
    """Format, the record formats, depth, names, check formats and diagram choices come from
    their tables at import: a new entry in the table is a new choice with no CLI edit."""
    for built in (cli.Format, cli.RecordFormat, cli.Depth, cli.Names, cli.CheckFormat, cli.DiagramLevel,
                  cli.DiagramFormat, cli.DType, cli.MemoryDType):
        assert built.__module__ == cli.__name__ and issubclass(built, str)
    assert cli.vocabulary("Probe", ("a", "b-c")).__members__.keys() == {"a", "b-c"}


def test_the_columns_help_lists_the_registry():
    from typer.testing import CliRunner

    text = " ".join(CliRunner().invoke(cli.app, ["trace", "--help"], env={"COLUMNS": "400"}).output.split())
    assert ", ".join(formatting.COLUMNS) in text


def test_every_check_format_renders():
    from resnet_inspect.analysis.check import check_paths
    from resnet_inspect.language.spec import bundled_specs

    result = check_paths([str(bundled_specs()["resnet18"])])
    for fmt in choices.CHECK_FORMATS:
        assert report.render_check(result, fmt) is not None
