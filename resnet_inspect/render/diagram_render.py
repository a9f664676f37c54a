"""Writers over one laid-out :class:`~.diagrams.Diagram`: SVG, Graphviz DOT and Mermaid. Compute nothing.

SVG is drawn from the layout's own positions (no Graphviz binary needed); DOT and Mermaid hand the
same boxes, styles and labels to those tools, which lay them out themselves. Every text already
went through :func:`.usertext.visible` when the model was built; here it is escaped once more for
the target language (XML, DOT strings, Mermaid entity codes), so a layer named ``a"]<b>`` stays
one label.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.sax.saxutils import escape as _xml_escape

from ..core.usertext import visible

if TYPE_CHECKING:
    from .diagrams import Diagram, TextBox

# fill, stroke per box kind: convs blue, BN amber, ReLU green, add violet, pools pink.
STYLES = {
    "conv": ("#dbeafe", "#2563eb"),
    "batch_norm": ("#fef3c7", "#d97706"),
    "relu": ("#dcfce7", "#16a34a"),
    "add": ("#ede9fe", "#7c3aed"),
    "max_pool": ("#fce7f3", "#db2777"),
    "avg_pool": ("#fce7f3", "#db2777"),
    "global_avg_pool": ("#fce7f3", "#db2777"),
    "global_avg_pool_flat": ("#fce7f3", "#db2777"),
    "conv_block": ("#dbeafe", "#2563eb"),
    "identity_block": ("#dcfce7", "#16a34a"),
    "shortcut_block": ("#fce7f3", "#db2777"),
    "stage": ("#e0f2fe", "#0284c7"),
    "io": ("#f1f5f9", "#64748b"),
}
# The SVG font; the layout in .diagrams measures text widths for it (CHAR_EM).
FONT = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace"
DEFAULT_STYLE = ("#f8fafc", "#475569")
TEXT_COLOUR = "#0f172a"
EDGE_COLOUR = "#334155"
LABEL_COLOUR = "#475569"


def style(kind: str) -> tuple[str, str]:
    return STYLES.get(kind, DEFAULT_STYLE)


# --------------------------------------------------------------------------- SVG


def xml(text: str) -> str:
    """Text or attribute value for XML: control characters visible, ``& < > " '`` escaped."""
    return _xml_escape(visible(text), {'"': "&quot;", "'": "&apos;"})


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def svg_text(box: "TextBox", colour: str = TEXT_COLOUR) -> str:
    """A ``<text>`` on its box's baseline; ``data-w`` carries the estimated width for the tests."""
    x = box.x + box.width / 2 if box.anchor == "middle" else box.x
    baseline = box.y + box.height / 2 + box.size * 0.36
    weight = ' font-weight="bold"' if box.bold else ""
    anchor = ' text-anchor="middle"' if box.anchor == "middle" else ""
    return (f'<text x="{_num(x)}" y="{_num(baseline)}" font-size="{_num(box.size)}"{weight}{anchor} '
            f'fill="{colour}" data-w="{_num(box.width)}">{xml(box.text)}</text>')


def svg(diagram: "Diagram", id_prefix: str = "d") -> str:
    """A standalone SVG document (also fine inline in HTML: ids carry ``id_prefix``)."""
    w, h = _num(diagram.width), _num(diagram.height)
    arrow = f"{xml(id_prefix)}-arrow"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
           f'font-family="{xml(FONT)}" role="img" aria-label="{xml(diagram.title)}">',
           f"<title>{xml(diagram.title)}</title>",
           f'<defs><marker id="{arrow}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{EDGE_COLOUR}"/></marker></defs>',
           f'<rect width="100%" height="100%" fill="#ffffff"/>',
           svg_text(diagram.title_box)]
    out.append('<g class="edges">')
    for edge in diagram.edges:
        points = " ".join(f"{_num(x)},{_num(y)}" for x, y in edge.points)
        out.append(f'<polyline points="{points}" fill="none" stroke="{EDGE_COLOUR}" stroke-width="1.4" '
                   f'marker-end="url(#{arrow})"/>')
        if edge.label_box is not None:
            out.append(svg_text(edge.label_box, LABEL_COLOUR))
    out.append("</g>")
    out.append('<g class="nodes">')
    for node in diagram.nodes:
        fill, stroke = style(node.kind)
        out.append(f'<g class="node {xml(node.kind)}" data-id="{xml(node.id)}">'
                   f'<rect x="{_num(node.x)}" y="{_num(node.y)}" width="{_num(node.width)}" '
                   f'height="{_num(node.height)}" rx="7" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>')
        out.extend(svg_text(t) for t in node.texts)
        out.append("</g>")
    out.append("</g></svg>")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- DOT


def dot_string(text: str) -> str:
    """A DOT double-quoted string: backslashes doubled (no ``\\N``/``\\G`` expansions), quotes escaped."""
    return '"' + visible(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(diagram: "Diagram") -> str:
    ids = {node.id: f"n{i}" for i, node in enumerate(diagram.nodes)}
    font = dot_string(FONT.split(",")[0])
    out = [f"digraph {dot_string(diagram.title)} {{",
           f"  graph [rankdir=TB, label={dot_string(diagram.title)}, labelloc=t, fontname={font}, fontsize=14];",
           f'  node [shape=box, style="rounded,filled", fontname={font}, fontsize=11];',
           f"  edge [fontname={font}, fontsize=10, color=\"{EDGE_COLOUR}\", fontcolor=\"{LABEL_COLOUR}\"];"]
    for node in diagram.nodes:
        fill, stroke = style(node.kind)
        label = '"' + "\\n".join(dot_string(line)[1:-1] for line in node.lines) + '"'
        out.append(f'  {ids[node.id]} [label={label}, fillcolor="{fill}", color="{stroke}"];')
    for edge in diagram.edges:
        out.append(f"  {ids[edge.source]} -> {ids[edge.target]} [label={dot_string(edge.label)}];")
    out.append("}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- Mermaid

_MERMAID = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "`": "#96;", "|": "#124;",
            "[": "#91;", "]": "#93;", "{": "#123;", "}": "#125;"}


def mermaid_text(text: str) -> str:
    """A Mermaid label: every character that could end a label or start markup as an entity code."""
    return "".join(_MERMAID.get(ch, ch) for ch in visible(text))


def mermaid_comment(text: str) -> str:
    """A ``%%`` comment line. Mermaid reads ``%%{init: …}%%`` directives even inside comments, so
    user text in one is escaped as in a label, and ``%`` too: no directive can open or close."""
    return "  %% " + mermaid_text(text).replace("%", "#37;")


def mermaid(diagram: "Diagram") -> str:
    ids = {node.id: f"n{i}" for i, node in enumerate(diagram.nodes)}
    out = ["flowchart TB", mermaid_comment(diagram.title)]
    for node in diagram.nodes:
        out.append(f'  {ids[node.id]}["{"<br/>".join(mermaid_text(line) for line in node.lines)}"]')
    for edge in diagram.edges:
        label = f'|"{mermaid_text(edge.label)}"|' if edge.label else ""
        out.append(f"  {ids[edge.source]} -->{label} {ids[edge.target]}")
    kinds = list(dict.fromkeys(node.kind for node in diagram.nodes))
    for kind in kinds:
        fill, stroke = style(kind)
        out.append(f"  classDef {_class(kind)} fill:{fill},stroke:{stroke},color:{TEXT_COLOUR}")
        out.append(f"  class {','.join(ids[n.id] for n in diagram.nodes if n.kind == kind)} {_class(kind)}")
    return "\n".join(out) + "\n"


def _class(kind: str) -> str:
    """A Mermaid class name from a box kind (kinds come from the op table, but keep it an identifier)."""
    return "k_" + "".join(ch if ch.isalnum() else "_" for ch in kind)


WRITERS = {"svg": svg, "dot": dot, "mermaid": mermaid}
