"""The hostile matrix (issue 17): every option of every command, and every keyword argument of the
API, meets generated hostile values (``tests/hostile_matrix.py`` says how they are found and made).

All cases run once, up front, two at a time (CI has 2 cores), each in a child forked from a warm
zygote (``tests/hostile.py``), and are judged by the corpus's rules: no traceback, one ``error:``
line and exit 2 (or success, for a value the option may take), the error line an excerpt (at most
2,000 characters), time and the child's own peak RSS within bounds, nothing written outside the
case's folder, no raw Cc/Cf/Zl/Zp character in stdout or stderr. Each (parameter, class) is one
test, so a failure names the command, the option and the class; the ones another branch is fixing
are strict xfails (``KNOWN``). ``pytest -m slow`` runs every value of every class
(``HOSTILE_MATRIX=all`` makes each default item take every value); ``python
tests/hostile_matrix_report.py`` prints the corpus size, the worst time and the worst RSS per class.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import hostile_matrix as hm
from hostile import Zygote, run_in
from hostile_matrix import WARM, run_items

EXHAUSTIVE = os.environ.get("HOSTILE_MATRIX") == "all"
ITEMS = hm.items(exhaustive=EXHAUSTIVE)


def _param(item: hm.Item) -> object:
    owner = hm.known_owner(item.id)
    marks = [pytest.mark.xfail(strict=True, reason=f"known ({owner}): fixed on the {owner} branch")] if owner else []
    return pytest.param(item.id, id=item.id, marks=marks)


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Every selected item's failures (``-k`` runs only the items it selects)."""
    selected = {test.callspec.params["item_id"] for test in request.session.items
                if "item_id" in getattr(getattr(test, "callspec", None), "params", {})}
    return run_items([item for item in ITEMS if item.id in selected], tmp_path_factory.mktemp("matrix"))


@pytest.mark.parametrize("item_id", [_param(item) for item in ITEMS])
def test_hostile_matrix(item_id: str, outcomes: dict[str, list[str]]) -> None:
    failures = outcomes[item_id]
    assert not failures, f"{len(failures)} failing value(s):\n" + "\n\n".join(failures)


def test_every_command_and_function_has_a_base() -> None:
    """A new command or API function joins the matrix by itself, once it has one valid call here."""
    commands = {p.command for p in hm.cli_params()} | {"list", "schema"}
    assert sorted(commands - set(hm.BASES)) == []
    assert sorted(set(hm.api_functions()) - set(hm.API_BASES)) == []


def test_the_matrix_covers_every_option_and_class() -> None:
    """Found from click, not listed: spot-check options a hand-made list would miss, and the sizes."""
    ids = {p.id for p in hm.cli_params()}
    for expected in ("trace --input", "rf --unit", "memory --batch", "run --save-input", "diagram --block",
                     "new NAME", "new --schema", "weights init --seed", "weights convert --keras-layout",
                     "explain LAYER", "check PATHS", "diff B"):
        assert expected in ids, expected
    api = {p.id for p in hm.api_params()}
    for expected in ("api trace input", "api memory_profile batch", "api run top", "api verify seed"):
        assert expected in api, expected
    assert {item.klass for item in ITEMS} == set(hm.CLASSES)
    assert len(ITEMS) >= 8 * 100


def test_the_control_values_hold_every_character_of_their_category() -> None:
    import unicodedata

    values = dict(hm.hostile_values()["control"])
    assert set(values) == {"Cc", "Cf", "Zl", "Zp"}
    assert "\u2028" in values["Zl"] and "\u2029" in values["Zp"] and "\x1b" in values["Cc"]
    assert "\u061c" in values["Cf"] and "\u200b" in values["Cf"] and "\U000e0041" in values["Cf"]
    # Cf holds 170 characters in Unicode 15 (Python 3.11's unicodedata): all of them, no other
    assert sum(unicodedata.category(c) == "Cf" for c in values["Cf"]) == len(hm.category_characters("Cf"))


def test_bases_are_valid(tmp_path: Path) -> None:
    """Each base call succeeds as it stands: a hostile value, not the base, is what a case tests."""
    from hostile import Case

    files = hm.base_files()
    cases = [Case("bases", command, [*command.split(), *(f"{f}={v}" for f, v in base.options), "--", *base.positionals],
                  {name: files[name] for name in base.files}, codes=base.codes, controls=True)
             for command, base in hm.BASES.items()]
    cases += [Case("bases", where, [], {n: files[n] for n in hm.API_FILES}, code=0, controls=True, api=(where, *call))
              for where, call in hm.API_BASES.items()]
    zygote = Zygote(WARM)
    failures = []
    try:
        for index, case in enumerate(cases):
            try:
                run_in(zygote, case, tmp_path / f"base{index}")
            except AssertionError as exc:
                failures.append(str(exc)[:800])
    finally:
        zygote.close()
    assert not failures, "\n\n".join(failures)


def test_known_failures_name_real_items() -> None:
    """A KNOWN line names an existing (parameter, class), so a renamed option cannot hide in it."""
    ids = {item.id for item in ITEMS}
    assert sorted(k for known in hm.KNOWN.values() for k in known if k not in ids) == []
    owners = [set(known) for known in hm.KNOWN.values()]
    assert not owners or not set.intersection(*owners)


@pytest.mark.slow
def test_every_value_of_every_class(tmp_path: Path) -> None:
    """The exhaustive matrix: every value of every class for every parameter (the default run takes
    one a class; KNOWN items, which run every value there, are left to it)."""
    items = [item for item in hm.items(exhaustive=True) if hm.known_owner(item.id) is None]
    failures = {item_id: found for item_id, found in run_items(items, tmp_path).items() if found}
    assert not failures, "\n\n".join(f"{item_id}: {found[0]}" for item_id, found in failures.items())
