"""Run the hostile matrix and print, per class, its size, failures, worst time and worst peak RSS,
then every failing (command, option, class) by owner (:data:`hostile_matrix.KNOWN`), for the notes.

    PYTHONPATH=. python tests/hostile_matrix_report.py          # the default run (one value a class)
    PYTHONPATH=. python tests/hostile_matrix_report.py --all    # every value (what -m slow runs)

Ignores ``KNOWN``'s xfail markers: it reports what fails today, whoever owns it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hostile
import hostile_matrix as hm


def table(rows: list[tuple[str, str, float, float]], failures: dict[str, list[str]], items: list[hm.Item]) -> str:
    failed_cases: dict[str, int] = {}
    for item in items:
        failed_cases[item.klass] = failed_cases.get(item.klass, 0) + len(failures[item.id])
    lines = [f"{'class':<10} {'cases':>6} {'failing':>8} {'worst time':>11}  {'worst RSS':>9}  slowest / largest case",
             "-" * 110]
    for klass in hm.CLASSES:
        mine = [r for r in rows if r[0] == f"matrix {klass}"]
        if not mine:
            continue
        slow = max(mine, key=lambda r: r[2])
        big = max(mine, key=lambda r: r[3])
        lines.append(f"{klass:<10} {len(mine):>6} {failed_cases.get(klass, 0):>8} {slow[2]:>9.2f} s  {big[3]:>6.0f} MB"
                     f"  {hostile.raw_controls(slow[1]) and slow[1].encode('unicode_escape').decode()[:40] or slow[1][:40]}"
                     f" / {big[1][:40].encode('unicode_escape').decode()}")
    total = len(rows)
    lines.append(f"{'all':<10} {total:>6} {sum(failed_cases.values()):>8} {max(r[2] for r in rows):>9.2f} s"
                 f"  {max(r[3] for r in rows):>6.0f} MB")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="every value of every class (else one a class)")
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    items = hm.items(exhaustive=options.all)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="matrix-") as folder:
        failures = hm.run_items(items, Path(folder), options.workers)
    seconds = time.perf_counter() - start
    print(f"{len(items)} (parameter, class) items, {sum(len(i.cases) for i in items)} cases, "
          f"{options.workers} workers, {seconds:.0f} s")
    print(table(hostile.measured(), failures, items))
    by_owner: dict[str, list[str]] = {}
    for item in items:
        if failures[item.id]:
            by_owner.setdefault(hm.known_owner(item.id) or "unowned", []).append(item.id)
    for owner, ids in sorted(by_owner.items()):
        print(f"\nfailing ({owner}): {len(ids)}")
        for item_id in ids:
            print(f"  {item_id}: {failures[item_id][0][:300]!r}")
    return 1 if by_owner.get("unowned") else 0


if __name__ == "__main__":
    raise SystemExit(main())
