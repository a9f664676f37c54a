"""`report`: one self-contained HTML page (no fetches), its numbers from the trace, user text escaped.

Totals asserted here are Keras' ``model.summary()`` count for the blog's ResNet50 (25,636,712, as
in ``specs/resnet50.yaml``'s ``expect:``) and the paper-layout MACs the README states; the page is
rendered in Chromium by ``test_pictures_chromium.py``.
"""

from __future__ import annotations

import itertools
import re
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

from typer.testing import CliRunner

import resnet_inspect
from resnet_inspect.render import charts
from resnet_inspect.cli import app
from resnet_inspect.model.graph import load_graph
from resnet_inspect.render.html_report import report_html

SVG = "{http://www.w3.org/2000/svg}"


class Tags(HTMLParser):
    """Every start tag and its attributes, to look for anything that could fetch."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def inline_svgs(page: str) -> list[ElementTree.Element]:
    return [ElementTree.fromstring(s) for s in re.findall(r"<svg .*?</svg>", page, flags=re.S)]


def test_page_fetches_nothing():
    page = report_html("resnet50")
    parser = Tags()
    parser.feed(page)
    tags = {tag for tag, _ in parser.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "video", "audio", "source"}
    for tag, attrs in parser.tags:
        for name in ("src", "href", "srcset", "action", "xlink:href"):
            assert name not in attrs, (tag, attrs)
    assert "@import" not in page and "@font-face" not in page
    assert re.findall(r"url\(([^)]*)\)", page) and all(u.startswith("#") for u in re.findall(r"url\(([^)]*)\)", page))
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}  # a namespace, not a fetch
    assert "default-src 'none'" in page  # and the browser is told to refuse any fetch


def test_page_holds_the_summary_charts_figures_and_every_layer():
    page = report_html("resnet50")
    assert "25,636,712" in page  # Keras' model.summary() for the blog's ResNet50
    assert "3,857,973,248" in page  # the README's MACs at 224 (conv + dense)
    svgs = inline_svgs(page)  # every inline SVG is well-formed XML
    titles = [svg.find(f"{SVG}title").text for svg in svgs]
    assert "MACs by stage" in titles and "Parameters by stage" in titles
    assert any(t.startswith("res2a: conv block") for t in titles)
    assert any(t.startswith("res2b: identity block") for t in titles)
    ids = [el.get("id") for svg in svgs for el in svg.iter() if el.get("id")]
    assert len(ids) == len(set(ids))  # arrow markers of several inline figures do not collide
    rows = re.findall(r"<tr><td><code>([^<]*)</code>", page)
    assert rows == [layer.name for layer in load_graph("resnet50")]


def test_bar_lengths_are_proportional_and_chart_texts_do_not_overlap():
    rows = [("stem", 118.0, "118 M"), ("stage2", 600.0, "600 M"), ("stage4", 1200.0, "1.2 G"), ("head", 0.0, "0")]
    chart = charts.bar_chart("MACs by stage", rows, "#2563eb")
    lengths = [r.width for r in chart.rects]
    assert lengths[2] == charts.BAR_SPAN and lengths[1] == charts.BAR_SPAN / 2  # 600 of 1200: half
    assert abs(lengths[0] - charts.BAR_SPAN * 118 / 1200) < 1e-9 and lengths[3] == 0
    result = resnet_inspect.trace("resnet152")
    real = charts.bar_chart("MACs", [(n, t.macs, f"{t.macs:,}") for n, t in result.by_stage().items()], "#000")
    for texts in (chart.texts, real.texts):
        for a, b in itertools.combinations(texts, 2):
            assert not a.overlaps(b), (a.text, b.text)


def test_hostile_spec_name_and_description_are_escaped(tmp_path: Path):
    text = resnet_inspect.language.spec.bundled_specs()["resnet50"].read_text(encoding="utf-8")
    text = text.replace("name: resnet50", 'name: "<img src=x onerror=alert(1)>\\e[2J"')
    text = re.sub(r"description: >-\n(  .*\n)+", 'description: "</style><script>alert(2)</script>"\n', text)
    path = tmp_path / "evil.yaml"
    path.write_text(text, encoding="utf-8")
    page = report_html(str(path))
    parser = Tags()
    parser.feed(page)
    assert not {tag for tag, _ in parser.tags} & {"img", "script"}
    assert "&lt;img src=x onerror=alert(1)&gt;\\x1b[2J" in page and "\x1b" not in page
    assert "&lt;/style&gt;&lt;script&gt;" in page
    inline_svgs(page)  # still well-formed


runner = CliRunner()


def test_cli_writes_the_page_and_refuses_other_suffixes(tmp_path: Path):
    out = tmp_path / "r.html"
    done = runner.invoke(app, ["report", "resnet50-torchvision", "--input", "224x320", "-o", str(out)])
    assert done.exit_code == 0, done.output
    page = out.read_text(encoding="utf-8")
    assert "resnet50-torchvision" in page and "224×320×3" in page
    done = runner.invoke(app, ["report", "-o", str(tmp_path / "r.txt")])
    assert done.exit_code == 2 and "must end in .htm, .html" in done.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


def test_receptive_field_and_memory_sections():
    page = report_html("resnet50")
    # Published: ResNet-50 v1's last stage sees 483 px with effective stride 32 (Google's
    # receptive_field library; Araujo et al., Distill 2019); padding 241 with the blog's
    # symmetric pool padding (issue 10).
    assert "each unit sees 483 px with an effective stride of 32 and an effective padding of 241" in page
    from resnet_inspect.analysis.memory import memory_profile

    profile = memory_profile(resnet_inspect.trace("resnet50"))
    assert f"({profile.peak_activation_bytes:,} bytes) at <code>{profile.peak_layer}</code>" in page
    titles = [svg.find(f"{SVG}title").text for svg in inline_svgs(page)]
    assert "Receptive field per layer" in titles and "Activation memory held during a forward pass" in titles


def test_line_chart_ticks_are_round_and_texts_do_not_overlap():
    assert [charts.nice_step(v) for v in (675, 7_225_344, 1.0, 90)] == [200, 2_000_000, 0.25, 25]
    bands = [("stem", 0, 4), ("stage2", 5, 40), ("stage3", 41, 80), ("head", 81, 81)]
    chart = charts.line_chart("t", [float(i * i) for i in range(82)], bands, "#000", lambda v: f"{v:,.0f}", "y",
                              mark=30)
    ticks = [t.text for t in chart.texts[2:] if t.text.replace(",", "").isdigit()]
    assert ticks == ["0", "2,000", "4,000", "6,000", "8,000"]  # 81² = 6,561 rounded up to a 2,000 step
    # one layer wide: no room for its name in the band, so it goes one row down (issue 18: every band named)
    (head,) = [t for t in chart.texts if t.text == "head"]
    (stage3,) = [t for t in chart.texts if t.text == "stage3"]
    assert head.y > stage3.y
    for a, b in itertools.combinations(chart.texts, 2):
        assert not a.overlaps(b), (a.text, b.text)


def test_marked_line_is_labelled_and_the_page_explains_the_field_after_the_last_stage():
    bands = [("stem", 0, 4), ("stage2", 5, 80), ("head", 81, 81)]
    chart = charts.line_chart("t", [float(i) for i in range(82)], bands, "#000", str, "y", mark=30, mark_label="peak 7 MB")
    assert "peak 7 MB" in [t.text for t in chart.texts]
    for a, b in itertools.combinations(chart.texts, 2):
        assert not a.overlaps(b), (a.text, b.text)
    page = report_html("resnet50")
    # resnet50's last stage sees 483 px (rf: res5c_relu), the global pool after it 675 px = 483 + 6·32
    # (the 7×7 pool over the last map at effective stride 32: 483 + (7 - 1)·32 = 675, hand count)
    assert "last stage: 483 px" in page and "peak 7.23 MB at res2a_branch1" in page
    assert "The curve ends higher, at 675 px: from <code>avg_pool</code> on" in page
    assert 'width="100%" viewBox=' in page  # charts scale to the window


def test_cli_json_record_of_the_written_page(tmp_path: Path):
    import json

    out = tmp_path / "r.html"
    done = runner.invoke(app, ["report", "-o", str(out), "--format", "json"])
    assert done.exit_code == 0, done.output
    record = json.loads(done.stdout)
    assert record["ok"] and record["action"] == "wrote" and record["file"] == str(out)
    assert record["bytes"] == out.stat().st_size and record["spec"] == "resnet50"
