"""What a user installs: the version, shell completion, and a wheel that builds cleanly and ships
everything the CLI reads at run time (bundled specs, schema, class names, ``py.typed``, LICENSE)."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import resnet_inspect
from resnet_inspect.cli import app
from resnet_inspect.language.spec import bundled_specs

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "resnet-inspect"


def test_one_version_everywhere():
    # The installed metadata is what pip reports; pyproject reads it from resnet_inspect/_version.py.
    assert resnet_inspect.__version__ == importlib.metadata.version("resnet-inspect") == "0.2.0"
    for flag in ("--version", "-V"):
        result = CliRunner().invoke(app, [flag])
        assert result.exit_code == 0 and result.stdout == f"resnet-inspect {resnet_inspect.__version__}\n"


def test_completion_options_are_offered():
    out = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"}).stdout
    assert "--install-completion" in out and "--show-completion" in out


@pytest.mark.skipif(not CLI.exists(), reason="the console script is not installed in this environment")
def test_bash_completion_completes_commands_and_options():
    # What bash's completion function does on <TAB>: the env variable names the shell, COMP_WORDS
    # the line typed so far. Click answers before any command runs.
    def complete(line: str) -> list[str]:
        words = line.split(" ")
        env = {**os.environ, "_RESNET_INSPECT_COMPLETE": "complete_bash", "COMP_WORDS": line,
               "COMP_CWORD": str(len(words) - 1)}
        out = subprocess.run([str(CLI)], env=env, capture_output=True, text=True, timeout=60).stdout
        return [w.split(",")[-1] for w in out.split()]

    assert "trace" in complete("resnet-inspect tr")
    assert {"--format", "--input", "--depth"} <= set(complete("resnet-inspect trace --"))
    assert set(complete("resnet-inspect trace --format ")) >= {"table", "json", "csv", "markdown"}


def _copy_source(target: Path) -> Path:
    """The worktree without build output, caches or virtual environments: the build never writes here."""
    ignore = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", "venv", ".venv",
                                    ".pytest_cache", ".hypothesis")
    return Path(shutil.copytree(ROOT, target / "src", ignore=ignore))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, str]:
    pytest.importorskip("build")
    tmp = tmp_path_factory.mktemp("wheel")
    source = _copy_source(tmp)
    run = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp / "dist"), str(source)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    (path,) = (tmp / "dist").glob("*.whl")
    return path, run.stdout + run.stderr


def test_wheel_builds_without_warnings(wheel):
    _, log = wheel
    # PYTHONDONTWRITEBYTECODE makes setuptools say it skips byte-compiling: not a packaging problem.
    warnings = [line for line in log.splitlines() if re.search(r"warn|deprecat", line, flags=re.I)
                and "byte-compiling is disabled" not in line]
    assert warnings == []


def test_wheel_ships_what_the_cli_reads(wheel):
    path, _ = wheel
    names = set(zipfile.ZipFile(path).namelist())
    shipped = {"resnet_inspect/spec.schema.json", "resnet_inspect/py.typed", "resnet_inspect/language/_schema_validator.py",
               "resnet_inspect/imagenet_classes.txt", "resnet_inspect-0.2.0.dist-info/licenses/LICENSE"}
    # Every module of every layer folder: pyproject lists the subpackages by name, and one left out
    # there ships a wheel whose `import resnet_inspect` fails.
    shipped |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "resnet_inspect").rglob("*.py")}
    shipped |= {f"resnet_inspect/specs/{p.name}" for p in bundled_specs().values()}
    assert shipped <= names, shipped - names
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "scripts/"))]


def test_wheel_metadata(wheel):
    path, _ = wheel
    with zipfile.ZipFile(path) as archive:
        metadata = archive.read("resnet_inspect-0.2.0.dist-info/METADATA").decode()
    for line in ("Version: 0.2.0", "License-Expression: MIT", "Author: The resnet-inspect maintainers",
                 "Keywords: resnet", "Classifier: Typing :: Typed", "Requires-Python: >=3.10"):
        assert line in metadata, line
    # No invented home (issue 18): URLs and an address come back only with a real public home.
    assert "Project-URL:" not in metadata and "Author-email:" not in metadata and "Home-page:" not in metadata
    assert "Provides-Extra: test" in metadata and "Requires-Dist: build" in metadata


def test_license_is_mit_like_pyproject():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text
    assert re.search(r'^license = "MIT"$', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), flags=re.M)
