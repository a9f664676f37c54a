"""One dtype table (core/dtypes.py): every dtype any part of the tool accepts is in it, with the
bytes NumPy gives (NumPy is the independent source; ml_dtypes for bfloat16, which NumPy lacks)."""

from __future__ import annotations

import numpy as np
import pytest
import typer

from resnet_inspect.analysis.memory import memory_profile
from resnet_inspect.cli import app
from resnet_inspect.core.dtypes import BYTES, DTYPES, MEMORY_DTYPES, SAFETENSORS_DTYPES, TABLE, WEIGHT_DTYPES
from resnet_inspect.execute import executor
from resnet_inspect.model.engine import trace


def _numpy_bytes(name: str) -> int:
    if name == "bfloat16":
        ml_dtypes = pytest.importorskip("ml_dtypes")
        return np.dtype(ml_dtypes.bfloat16).itemsize
    return np.dtype(name).itemsize


def _cli_dtypes() -> set[str]:
    """Every value any command's ``--dtype`` offers, read off the command line itself."""
    offered: set[str] = set()
    commands = [typer.main.get_command(app)]
    while commands:
        command = commands.pop()
        commands.extend(getattr(command, "commands", {}).values())  # a group's subcommands
        for param in command.params:
            if "--dtype" in getattr(param, "opts", ()):
                offered.update(param.type.choices)
    return offered


@pytest.mark.parametrize("dtype", TABLE, ids=lambda d: d.name)
def test_every_dtype_has_numpys_bytes(dtype):
    assert dtype.bytes == _numpy_bytes(dtype.name)
    assert DTYPES[dtype.name] is dtype and len(DTYPES) == len(TABLE)


def test_every_dtype_anything_accepts_is_in_the_table_with_its_bytes():
    cli = _cli_dtypes()
    assert {"float32", "float64", "float16", "bfloat16", "int8"} <= cli  # run/verify and memory
    accepted = {
        "cli": cli,
        "executor": set(executor.DTYPES),
        "weights": set(WEIGHT_DTYPES),
        "safetensors": set(SAFETENSORS_DTYPES.values()),
    }
    for who, names in accepted.items():
        assert names <= set(BYTES), who
    for name, size in executor.DTYPES.items():
        assert size == _numpy_bytes(name)


def test_safetensors_codes_are_the_safetensors_packages_own():
    st = pytest.importorskip("safetensors.numpy")
    for code, name in SAFETENSORS_DTYPES.items():
        assert np.dtype(st._TYPES[code]) == np.dtype(name), code


@pytest.mark.parametrize("dtype", sorted(_cli_dtypes()))
def test_every_dtype_the_cli_offers_is_quoted_in_its_own_bytes(dtype):
    """The sizes `trace` and `memory` quote come from the table: params × bytes, by hand."""
    result = trace("resnet18")
    assert result.sizes(dtype).params_bytes == result.totals.params * _numpy_bytes(dtype)
    if dtype in MEMORY_DTYPES:  # memory quotes float32, float16, bfloat16 and int8
        profile = memory_profile(result, 1, dtype)
        assert profile.param_bytes == result.totals.params * _numpy_bytes(dtype)
