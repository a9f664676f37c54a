"""The diagram's SVG and the report page as a browser draws them: headless Chromium, checked with Pillow.

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it); without it these tests skip
and say why (pytest ``-rs`` prints the reason). The checks: the PNG has the expected size and is
not blank, each box's fill colour is where the layout model put the box, and the widths Chromium
measures for every text are within the widths the layout reserved (so "no text overlaps" holds for
the real font, not only for the estimate).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

import chromium
from resnet_inspect.render import charts
from resnet_inspect.render.diagram_render import style
from resnet_inspect.render.diagrams import diagram
from resnet_inspect.render.html_report import report_html

pytestmark = pytest.mark.skipif(chromium.binary() is None,
                                reason="chromium not installed (apt-get install chromium; .ci/run does): "
                                       "the SVG and HTML report are not rendered")

Image = pytest.importorskip("PIL.Image", reason="Pillow (the test extra) reads the screenshots")


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 4) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b))


def non_blank(image) -> tuple[float, int]:
    """(fraction of pixels that differ from the top-left background pixel, distinct colours)."""
    counts = colours(image)
    background = image.getpixel((0, 0))
    differing = sum(n for colour, n in counts.items() if not close(colour, background, 8))
    return differing / (image.width * image.height), len(counts)


def colours(image) -> dict[tuple[int, int, int], int]:
    return {colour: n for n, colour in image.convert("RGB").getcolors(image.width * image.height)}


def test_block_svg_renders_at_its_size_with_each_box_where_the_layout_put_it(tmp_path: Path):
    d = diagram("resnet50", "block", "res3a")
    page = tmp_path / "res3a.svg"
    page.write_text(d.to_svg(), encoding="utf-8")
    width, height = math.ceil(d.width), math.ceil(d.height)
    image = Image.open(chromium.screenshot(page, tmp_path / "res3a.png", width, height)).convert("RGB")
    assert image.size == (width, height)
    share, distinct = non_blank(image)
    assert share > 0.10 and distinct > 20, (share, distinct)  # boxes, lines and text, not an empty page
    assert image.getpixel((2, 2)) == (255, 255, 255)
    for node in d.nodes:  # inside the box's left margin (no text there): the box's fill colour
        x, y = int(node.x + 5), int(node.y + node.height / 2)
        assert close(image.getpixel((x, y)), rgb(style(node.kind)[0])), (node.id, image.getpixel((x, y)))


def test_every_text_chromium_draws_fits_the_width_the_layout_reserved(tmp_path: Path):
    figures = [diagram("resnet50", "block", "res3a"), diagram("resnet50", "block", "res3b"),
               diagram("resnet152", "network"), diagram("resnet50-torchvision", "stage", "stage4")]
    svgs = [d.to_svg(f"f{i}") for i, d in enumerate(figures)]
    svgs.append(charts.svg(charts.bar_chart("MACs by stage", [("stage4", 1.39e9, "1.39 G")], "#2563eb")))
    script = """
    const out = [];
    for (const t of document.querySelectorAll('text')) {
      out.push([t.textContent, t.getComputedTextLength(), parseFloat(t.getAttribute('data-w'))]);
    }
    document.getElementById('result').textContent = JSON.stringify(out);
    """
    page = tmp_path / "measure.html"
    page.write_text(f"<!DOCTYPE html><html><body>{''.join(svgs)}<pre id='result'></pre>"
                    f"<script>{script}</script></body></html>", encoding="utf-8")
    dom = chromium.dump_dom(page)
    found = re.search(r"<pre id=\"result\">(.*?)</pre>", dom, flags=re.S)
    assert found, dom[-2000:]
    measured = json.loads(found.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    assert len(measured) > 60
    for text, real, reserved in measured:
        assert 0 < real <= reserved + 0.5, f"{text!r}: drawn {real:.1f} px, reserved {reserved:.1f} px"


def test_report_page_renders_non_blank_at_the_window_size(tmp_path: Path):
    page = tmp_path / "report.html"
    page.write_text(report_html("resnet50"), encoding="utf-8")
    image = Image.open(chromium.screenshot(page, tmp_path / "report.png", 1280, 2200)).convert("RGB")
    assert image.size == (1280, 2200)
    share, distinct = non_blank(image)
    assert share > 0.25 and distinct > 100, (share, distinct)
    pixels = set(colours(image))
    for kind in ("conv", "batch_norm", "relu", "add"):  # the block figures were drawn, not left empty
        assert any(close(p, rgb(style(kind)[0]), 2) for p in pixels), kind
    assert any(close(p, rgb("#2563eb"), 2) for p in pixels)  # the MACs bars


def test_report_page_at_760_px_does_not_scroll_sideways_and_charts_fit(tmp_path: Path):
    """Issue 18: at 760 px the receptive-field and memory charts scrolled sideways, cut at "stag…".

    Measured by Chromium itself in a 760 px window: the page is no wider than the window, and every
    chart and figure lies inside its section (scaled by its viewBox, not cut). The page's own
    Content-Security-Policy forbids scripts, so the measuring copy drops that one meta line.
    """
    page = report_html("resnet50")
    policy = re.search(r'<meta http-equiv="Content-Security-Policy"[^>]*>', page)
    assert policy
    script = """
    const out = {scroll: document.documentElement.scrollWidth, inner: window.innerWidth, cut: []};
    for (const svg of document.querySelectorAll('svg')) {
      const box = svg.getBoundingClientRect(), section = svg.closest('section').getBoundingClientRect();
      if (box.right > section.right + 0.5 || box.width < 1) out.cut.push(svg.getAttribute('aria-label'));
    }
    document.getElementById('result').textContent = JSON.stringify(out);
    """
    measured = tmp_path / "report760.html"
    measured.write_text(page.replace(policy.group(0), "").replace(
        "</main>", f"</main><pre id='result'></pre><script>{script}</script>"), encoding="utf-8")
    dom = chromium.dump_dom(measured, width=760)
    found = re.search(r"<pre id=\"result\">(.*?)</pre>", dom, flags=re.S)
    assert found, dom[-2000:]
    result = json.loads(found.group(1))
    assert result["inner"] == 760
    assert result["scroll"] <= result["inner"], result  # no sideways scrolling
    assert result["cut"] == [], result
