"""The work budget: how much a single command may compute from what a user typed or a spec says.

The engine's cost grows as sizes × layers: each input size is one pass over every layer. A range
(``--input 1:100000``), a spec with thousands of blocks or ``expect:`` sizes, or both, can ask
for hours of pure-Python work, and a pull request must not be able to stall CI with one. Every
command that walks the layers at user-chosen sizes asks :func:`check_work` first, before any of
that work (and before a list of sizes is made): past :data:`WORK_BUDGET`, one error that names
the request and the budget. The README states the figure (section "Limits").
"""

from __future__ import annotations

from .errors import InspectError, Location
from .usertext import excerpt

# Layer passes (one layer at one input size) per command: 1-3 s on one core (5-12 µs a layer), or
# 1,396 sizes of ResNet-50 (179 layers), 481 of ResNet-152 (519), 12 of a 20,000-layer spec.
WORK_BUDGET = 250_000


def check_work(sizes: int, layers: int, asked: str, *, field: str | None = None,
               where: Location | None = None) -> int:
    """``sizes × layers`` layer passes, or an :class:`InspectError` naming the request and the budget.

    ``asked`` says what asked for the work as the user wrote it (``input 1:100000``, ``expect:
    8,999 sizes``); an API error starts with the argument's name, which the CLI turns into its flag.
    """
    work = sizes * layers
    if work > WORK_BUDGET:
        raise InspectError(f"{excerpt(asked, 60)} asks for {sizes:,} size{'s' if sizes != 1 else ''} × {layers:,} "
                           f"layers = {work:,} layer traces; the budget is {WORK_BUDGET:,} "
                           "per command: ask for fewer sizes (a larger step) or a smaller network",
                           field=field, where=where)
    return work
