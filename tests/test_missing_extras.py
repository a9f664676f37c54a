"""A missing optional package (issue 18): the error names the user's file (never the hidden
temporary one a write goes through) and the pip extra that installs it. Each case runs the CLI in
a fresh interpreter where the package cannot be imported (``sys.modules[name] = None`` makes
``import name`` raise ImportError, as on a machine without it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from resnet_inspect.cli import app  # noqa: F401 (the package under test must import here too)

RUN = """import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
sys.argv = ["resnet-inspect", *sys.argv[2:]]
from resnet_inspect.cli import main
main()
"""


def without(modules: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUN, modules, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120, check=False)


@pytest.mark.parametrize("name", ["w.h5", "w.weights.h5"])
def test_writing_h5_without_h5py_names_the_file_and_the_extra(tmp_path, name):
    proc = without("h5py", "weights", "init", "resnet18", "-o", name, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == (f"error: {name}: writing HDF5 files needs the h5py package, which is not installed: "
                           "pip install 'resnet-inspect[h5]'\n")
    assert list(tmp_path.iterdir()) == []  # no temporary file, no partial file


def test_reading_h5_without_h5py(tmp_path):
    made = subprocess.run([sys.executable, "-m", "resnet_inspect", "weights", "init", "resnet18", "-o", "w.h5"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)
    assert made.returncode == 0, made.stderr
    proc = without("h5py", "weights", "check", "resnet18", "w.h5", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == ("error: w.h5: reading HDF5 files needs the h5py package, which is not installed: "
                           "pip install 'resnet-inspect[h5]'\n")


def test_image_without_pillow(tmp_path):
    (tmp_path / "cat.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    subprocess.run([sys.executable, "-m", "resnet_inspect", "weights", "init", "resnet18", "-o", "w.npz"],
                   capture_output=True, cwd=tmp_path, timeout=120, check=True)
    proc = without("PIL", "run", "resnet18", "--weights", "w.npz", "--image", "cat.png", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: cat.png: --image: reading an image needs the Pillow package")
    assert proc.stderr.endswith("pip install 'resnet-inspect[image]'\n") and proc.stderr.count("\n") == 1
