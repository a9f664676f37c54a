"""The Keras codes a spec can reproduce (``conventions.keras_layout``): one row each.

They differ in one thing: the residual add's input order. ``keras.applications`` (Keras 2.x and
3) writes ``layers.Add()([shortcut, x])``, the blog's ``keras_applications/resnet50.py``
``layers.add([x, shortcut])``. The graph builds each add in its layout's order (so a trace's
``inputs`` read as Keras' "Connected to"), and :mod:`.keras` orders ``model.layers`` by it.
Pure data: the graph and Keras' layer order both read it, neither owns it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KerasLayout:
    """How one Keras code wires a block, as far as Keras' layer order can see it."""

    name: str
    shortcut_first: bool  # the residual add lists the shortcut before the main path
    source: str  # the line of Keras code this reproduces

    def add_inputs(self, main: str, shortcut: str) -> tuple[str, str]:
        """The residual add's inputs in this code's order."""
        return (shortcut, main) if self.shortcut_first else (main, shortcut)


LAYOUTS = {
    "keras3": KerasLayout("keras3", True, "keras.applications resnet.py / resnet_v2.py: layers.Add()([shortcut, x])"),
    "blog": KerasLayout("blog", False, "keras_applications/resnet50.py (the blog's Keras 2 code): "
                                       "layers.add([x, shortcut])"),
}
DEFAULT_LAYOUT = "keras3"  # what keras.applications builds, in Keras 2.x and 3 alike
