"""`run` and `verify` build the graph once and trace it once per input size, and `run` is one
library call that does all the CLI does (the CLI only wires its options to it)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import resnet_inspect
from resnet_inspect.cli import app
from resnet_inspect.model import engine, graph as graph_module

TINY = str(Path(__file__).resolve().parent / "data" / "tiny-run.yaml")
runner = CliRunner()


@pytest.fixture
def counts(monkeypatch):
    """How often a graph is built from a spec and how often shapes are propagated through one."""
    seen = {"build": 0, "trace": 0}
    build, propagate = graph_module.build_graph, engine._propagate

    def counting_build(*args, **kwargs):
        seen["build"] += 1
        return build(*args, **kwargs)

    def counting_propagate(*args, **kwargs):
        seen["trace"] += 1
        return propagate(*args, **kwargs)

    monkeypatch.setattr(graph_module, "build_graph", counting_build)
    monkeypatch.setattr(engine, "_propagate", counting_propagate)
    engine._TRACES.clear()
    return seen


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("w") / "tiny.npz"
    assert runner.invoke(app, ["weights", "init", TINY, "-o", str(path), "--seed", "3"]).exit_code == 0
    return path


@pytest.fixture
def batch(tmp_path) -> Path:
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(1).normal(0, 50, (2, 32, 32, 3)).astype(np.float32))
    return path


def test_cli_run_builds_and_traces_once(counts, weights, batch):
    result = runner.invoke(app, ["run", TINY, "-w", str(weights), "--array", str(batch), "--format", "json"])
    assert result.exit_code == 0, result.output
    # issue 16 counted 5 traces here (memory estimate, weight shapes, fit checks, the progress bar)
    assert counts == {"build": 1, "trace": 1}


def test_cli_verify_builds_and_traces_once(counts):
    result = runner.invoke(app, ["verify", TINY, "--input", "48", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert counts == {"build": 1, "trace": 1}  # issue 16 counted 2 builds and 6 traces


def test_the_run_api_does_what_the_cli_does(weights, batch, tmp_path):
    """The same file in, the same JSON out; the API also writes what --save-input/--save-output write."""
    out, seen = tmp_path / "out.npy", tmp_path / "in.npy"
    api = resnet_inspect.execute.inference.run(TINY, weights, array=batch, top=3, save_output=out, save_input=seen)
    cli = runner.invoke(app, ["run", TINY, "-w", str(weights), "--array", str(batch), "--top", "3",
                              "--save-output", str(out), "--save-input", str(seen), "--format", "json"])
    assert cli.exit_code == 0, cli.output
    ours, theirs = api.to_dict(), json.loads(cli.stdout)
    del theirs["resnet_inspect"], ours["forward_s"], theirs["forward_s"]  # the version line; wall time differs
    assert ours == theirs and len(ours["top_per_item"]) == 2 and len(ours["top"]) == 3
    np.testing.assert_array_equal(np.load(out), api.output)
    np.testing.assert_array_equal(np.load(seen), np.load(batch))


def test_the_run_api_refuses_a_bad_output_path_before_any_work(weights, batch, counts):
    with pytest.raises(resnet_inspect.InspectError, match="save_output"):  # the API's argument, not the flag
        resnet_inspect.execute.inference.run(TINY, weights, array=batch, save_output=batch)  # a file it reads
    assert counts["trace"] == 0
