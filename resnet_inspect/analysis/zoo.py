"""``list``: the bundled specs as a table (name, family, layout, params, MACs at 224, what each reproduces).

The family, layout and depth are read from each spec's own settings (one small table of rules
each, below), and params/MACs from its trace at 224×224, so a new bundled spec needs no entry
here. The order is by family, then depth, then name: the way people look for a network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ..core.text import to_json
from ..language.spec import Spec, bundled_specs, load_spec
from ..model.engine import trace_graph
from ..model.graph import build_graph

LIST_INPUT = (224, 224)

# (family, test): the first that holds names a spec's family. Order matters: a ResNeXt bottleneck
# is as wide as a Wide ResNet's, the groups tell them apart.
FAMILIES: tuple[tuple[str, Callable[[Spec], bool]], ...] = (
    ("ResNet V2", lambda s: s.block.startswith("preact")),
    ("ResNeXt", lambda s: any(stage.groups > 1 for stage in s.stages)),
    ("Wide ResNet", lambda s: s.block == "bottleneck" and s.stages[0].filters[0] * 4 > s.stages[0].filters[-1]),
    ("ResNet", lambda s: True),
)
FAMILY_ORDER = [name for name, _ in FAMILIES][::-1]  # ResNet first, then its descendants

# Convolution layers on the main path per block (the depth in "ResNet-50" counts them, plus stem and fc).
LAYERS_PER_BLOCK = {"basic": 2, "bottleneck": 3, "preact_bottleneck": 3}


@dataclass(frozen=True)
class ZooEntry:
    name: str
    family: str
    layout: str  # whose conventions it follows: Keras (conv bias) or torchvision (none)
    depth: int
    params: int
    trainable_params: int
    macs: int  # at 224×224
    reproduces: str  # the first clause of the description
    description: str


@dataclass(frozen=True)
class Zoo:
    """What ``list`` prints (``render.formatting.render_list``); a plain record, like ``Catalog``."""

    specs: tuple[ZooEntry, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``list --format json``: ``name`` and ``description`` as before, and the rest."""
        return {"input": list(LIST_INPUT), "specs": [asdict(entry) for entry in self.specs]}

    def to_json(self) -> str:
        return to_json(self.to_dict())


def zoo() -> Zoo:
    """Every bundled spec, traced at 224×224, sorted by family, depth and name (the API of ``list``)."""
    entries = [_entry(load_spec(path)) for path in bundled_specs().values()]
    return Zoo(tuple(sorted(entries, key=lambda e: (FAMILY_ORDER.index(e.family), e.depth, e.name))))


def _entry(spec: Spec) -> ZooEntry:
    totals = trace_graph(build_graph(spec), LIST_INPUT).totals
    return ZooEntry(spec.name, family(spec), layout(spec), depth(spec), totals.params, totals.trainable_params, totals.macs,
                    reproduces(spec.description), " ".join(spec.description.split()))


def family(spec: Spec) -> str:
    return next(name for name, test in FAMILIES if test(spec))


def layout(spec: Spec) -> str:
    """Keras' conventions (conv bias, the blog's or Keras 3's layer order) or torchvision's."""
    if not spec.conventions.conv_bias:
        return "torchvision"
    return "Keras (blog)" if spec.conventions.keras_layout == "blog" else "Keras"


def depth(spec: Spec) -> int:
    """Weighted layers on the main path: the 50 of ResNet-50 (16 blocks × 3 + the stem conv + fc)."""
    return sum(stage.blocks for stage in spec.stages) * LAYERS_PER_BLOCK.get(spec.block, 3) + 2


def reproduces(description: str) -> str:
    """The description up to its first colon outside brackets: what the spec is, before how."""
    text, level = " ".join(description.split()), 0
    for i, char in enumerate(text):
        level += {"(": 1, "[": 1, ")": -1, "]": -1}.get(char, 0)
        if char == ":" and level == 0:
            return text[:i].strip()
    return text
