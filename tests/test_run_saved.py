"""`run --save-input/--save-output` say where they wrote (issue 18), in the table and in JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from resnet_inspect.cli import app

TINY = str(Path(__file__).resolve().parent / "data" / "tiny-run.yaml")
runner = CliRunner()


def cli(*args) -> object:
    return runner.invoke(app, [str(a) for a in args])


def test_run_says_where_it_wrote(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("weights", "init", TINY, "-o", "w.npz").exit_code == 0
    np.save("x.npy", np.zeros((32, 32, 3), np.float32))  # H×W×C: run adds the batch dimension
    result = cli("run", TINY, "-w", "w.npz", "--array", "x.npy", "--save-input", "in.npy", "--save-output", "out.npy")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "wrote the input batch (1×32×32×3 NHWC, as the network received it) to in.npy" in lines
    assert "wrote the output (softmax 1×1000) to out.npy" in lines
    assert np.load("in.npy").shape == (1, 32, 32, 3) and np.load("out.npy").shape == (1, 1000)
    data = json.loads(cli("run", TINY, "-w", "w.npz", "--array", "x.npy", "--save-input", "in2.npy",
                          "--format", "json").stdout)
    assert data["saved"] == {"input": "in2.npy", "output": None}


def test_nothing_saved_says_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli("weights", "init", TINY, "-o", "w.npz")
    np.save("x.npy", np.zeros((32, 32, 3), np.float32))
    result = cli("run", TINY, "-w", "w.npz", "--array", "x.npy")
    assert "wrote" not in result.stdout
