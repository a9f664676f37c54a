"""The package's one import rule, checked from the source (nothing of the package is run).

    an import may only point to its own layer or to a layer on its left:
    core < language < model < analysis < io < execute < render < face

``analysis`` and ``io`` never import each other. Imports inside functions count (they run when
called); imports under ``if TYPE_CHECKING:`` never run and are not counted. A module in
``resnet_inspect/<layer>/`` belongs to that layer; the root modules are the face (``_version`` is
core: pyproject reads it there). Written for this project; ../shared/tools/check_layers.py is the
reviewers' independent check of the same rule.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "resnet_inspect"
LAYERS = ("core", "language", "model", "analysis", "io", "execute", "render", "face")
RANK = {name: i for i, name in enumerate(LAYERS)}
NEVER = {("analysis", "io"), ("io", "analysis")}


def layer_of(module: tuple[str, ...]) -> str:
    """``("model", "engine")`` -> model; a root module -> face (``_version``: core)."""
    if len(module) > 1 and module[0] in RANK:
        return module[0]
    return "core" if module == ("_version",) else "face"


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.ImportFrom | ast.Import]:
    """Every import that runs: module level and in functions, not under ``if TYPE_CHECKING:``."""
    found: list[ast.ImportFrom | ast.Import] = []

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for other in child.orelse:
                    walk(other)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
            walk(child)

    walk(tree)
    return found


def _targets(package: Path, module: tuple[str, ...], is_package: bool,
             node: ast.Import | ast.ImportFrom) -> list[tuple[str, ...]]:
    """The package modules an import statement reaches, as paths below ``resnet_inspect``."""
    if isinstance(node, ast.Import):
        return [tuple(a.name.split(".")[1:]) for a in node.names if a.name.split(".")[0] == "resnet_inspect"]
    if node.level == 0:
        if not (node.module or "").startswith("resnet_inspect"):
            return []
        base = tuple((node.module or "").split(".")[1:])
    else:
        here = module if is_package else module[:-1]
        base = here[:len(here) - (node.level - 1)] + (tuple(node.module.split(".")) if node.module else ())
    if node.module is None or base and package.joinpath(*base).is_dir():
        # `from . import x` / `from .render import display`: each name may be a module
        subs = [base + (a.name,) for a in node.names if package.joinpath(*base, f"{a.name}.py").exists()
                or package.joinpath(*base, a.name).is_dir()]
        return subs or [base]
    return [base]


def violations(package: Path = PACKAGE) -> list[str]:
    """``file:line: importer (layer) -> imported (layer)`` for every import against the rule."""
    found = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        module = parts[:-1] if is_package else parts
        source = layer_of(module) if module else "face"
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _targets(package, module, is_package, node):
                layer = layer_of(target) if target else "face"  # () is the package's own __init__
                if RANK[layer] > RANK[source] or (source, layer) in NEVER:
                    found.append(f"{path.relative_to(package)}:{node.lineno}: {'.'.join(module)} ({source}) "
                                 f"-> {'.'.join(target)} ({layer})")
    return found


def test_every_import_points_to_its_own_layer_or_left():
    assert violations() == []


def test_every_module_is_in_a_layer_folder_or_the_face():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} - {"specs"}
    assert folders == set(LAYERS) - {"face"}, folders


@pytest.mark.parametrize("where, statement", [
    ("model/_upward.py", "def f():\n    from ..render.formatting import trace_table\n"),  # late, upward
    ("core/_upward.py", "from ..model import engine\n"),  # module level, upward
    ("analysis/_sideways.py", "from ..io import npz\n"),  # analysis and io never meet
    ("language/_absolute.py", "import resnet_inspect.execute.executor\n"),
])
def test_the_rule_rejects_an_upward_import(tmp_path, where, statement):
    copy = Path(shutil.copytree(PACKAGE, tmp_path / "resnet_inspect",
                                ignore=shutil.ignore_patterns("__pycache__")))
    (copy / where).write_text(statement, encoding="utf-8")
    found = violations(copy)
    assert len(found) == 1 and found[0].startswith(where), found


def test_type_only_imports_do_not_count(tmp_path):
    copy = Path(shutil.copytree(PACKAGE, tmp_path / "resnet_inspect",
                                ignore=shutil.ignore_patterns("__pycache__")))
    (copy / "model" / "_typed.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..render.formatting import Row\n",
        encoding="utf-8")
    assert violations(copy) == []
