"""The Python API in a notebook: short reprs, Rich and HTML display, records, and every function
taking what ``trace`` takes (a bundled name, a path, a ``Spec`` or a ``Graph``)."""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console

import resnet_inspect
from resnet_inspect import SpecError, build_graph, load_graph, load_spec, smallest_input, trace, trace_graph
from resnet_inspect.analysis.check import check_paths
from resnet_inspect.analysis.diff import diff_specs
from resnet_inspect.language.spec import bundled_specs, parse_spec

# Keras' model.summary() of ResNet50 (the blog's network): total and trainable params.
KERAS_PARAMS, KERAS_TRAINABLE = 25_636_712, 25_583_592


def rich_text(obj) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(obj)
    return console.file.getvalue()


class _Cells(HTMLParser):
    """Rows of <td>/<th> text per section, and every tag seen (to catch unescaped markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, list[list[str]]] = {}
        self.section, self.tags, self.caption, self._in = "", [], "", ""

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("thead", "tbody", "tfoot"):
            self.section = tag
        elif tag == "tr":
            self.sections.setdefault(self.section, []).append([])
        elif tag in ("td", "th", "caption"):
            self._in = tag
            if tag != "caption":
                self.sections[self.section][-1].append("")

    def handle_endtag(self, tag):
        self._in = ""

    def handle_data(self, data):
        if self._in == "caption":
            self.caption += data
        elif self._in:
            self.sections[self.section][-1][-1] += data


def parse_html(text: str) -> _Cells:
    parser = _Cells()
    parser.feed(text)
    return parser


def test_trace_repr_is_short_and_says_spec_input_and_totals():
    result = trace("resnet50")
    text = repr(result)
    assert len(text) < 300, len(text)  # the dataclass repr was ~39,000 characters
    for part in ("'resnet50'", "224×224×3", f"{KERAS_PARAMS:,}", f"{KERAS_TRAINABLE:,}", "3,857,973,248"):
        assert part in text, part


def test_other_results_have_short_reprs():
    results = [load_spec("resnet50"), load_graph("resnet50"), check_paths(["resnet50"]),
               diff_specs("resnet50", "resnet50-torchvision")]
    for obj in results:
        assert len(repr(obj)) < 300, type(obj).__name__
    assert "layers=179" in repr(results[1])  # 179 rows in `trace resnet50` (counted by test_cli's JSON)
    assert "passed=1" in repr(results[2]) and "identical=False" in repr(results[3])


def test_rich_renders_the_cli_table():
    out = rich_text(trace("resnet50"))
    assert "res2a_branch2a" in out and "Total" in out and f"{KERAS_PARAMS:,}" in out


def test_html_table_has_one_row_per_layer_and_the_totals():
    result = trace("resnet50")
    page = parse_html(result._repr_html_())
    body, (footer,) = page.sections["tbody"], page.sections["tfoot"]
    assert [row[0] for row in body] == [info.name for info in result.layers]
    assert footer[0] == "Total" and footer[4] == f"{KERAS_PARAMS:,}"
    res2a = body[[info.name for info in result.layers].index("res2a")]
    assert res2a[3] == "56×56×256"  # the blog's walk-through: res2a is 56×56×256


def test_html_escapes_user_text():
    text = bundled_specs()["resnet50"].read_text(encoding="utf-8")
    hostile = text.replace("name: resnet50", 'name: "<script>alert(1)</script> & <b>bold</b>"', 1)
    result = trace(parse_spec(hostile, "hostile.yaml"))
    page = parse_html(result._repr_html_())
    assert "script" not in page.tags and "b" not in page.tags
    assert "<script>alert(1)</script> & <b>bold</b>" in page.caption  # shown as text, not run


def test_verify_check_and_diff_display_in_a_notebook():
    from resnet_inspect.execute.verify import verify

    result = verify(Path(__file__).parent / "data" / "tiny-run.yaml")  # milliseconds, not seconds
    assert "ok=True" in repr(result) and len(repr(result)) < 300
    assert len(parse_html(result._repr_html_()).sections["tbody"]) == len(result.layers)
    assert "predicted" in rich_text(result)
    report = check_paths(["resnet50"])
    assert parse_html(report._repr_html_()).sections["tbody"][0][2] == "ok"
    diff = diff_specs("resnet50", "resnet50-torchvision")
    rows = parse_html(diff._repr_html_()).sections["tbody"]
    assert len(rows) == len(diff.layers) and any("stride" in row[4] for row in rows)


def test_to_records_are_plain_dicts_with_params():
    result = trace("resnet50")
    records = result.to_records()
    assert len(records) == len(result.layers)
    assert json.loads(json.dumps(records)) == records  # only plain types: dict, list, str, int
    assert sum(r["params"] for r in records) == KERAS_PARAMS
    assert all(r["params"] == r["trainable_params"] + r["non_trainable_params"] for r in records)
    # conv1: 7·7·3·64 weights + 64 biases = 9,472 (hand count)
    assert next(r for r in records if r["name"] == "conv1")["params"] == 7 * 7 * 3 * 64 + 64
    stages = result.to_records("stage")
    assert [s["name"] for s in stages] == ["stem", "stage2", "stage3", "stage4", "stage5", "head"]
    assert sum(s["params"] for s in stages) == KERAS_PARAMS


def test_to_records_make_a_dataframe():
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(trace("resnet50").to_records())
    assert frame["params"].sum() == KERAS_PARAMS


@pytest.mark.parametrize("form", ["name", "path", "Path", "Spec", "Graph"])
def test_every_function_takes_what_trace_takes(form):
    path = bundled_specs()["resnet50"]
    spec = {"name": "resnet50", "path": str(path), "Path": path, "Spec": load_spec(path),
            "Graph": load_graph(path)}[form]
    # Hand count: 193 → conv1 (193+6-7)//2+1 = 97 → pool (97+2-3)//2+1 = 49 → 25 → 13 → 7, and avg_pool
    # 7×7 fits; 192 → 96 → 48 → 24 → 12 → 6 does not.
    assert smallest_input(spec) == 193  # raised AttributeError for a name before 0.2.0
    assert trace_graph(spec).totals.params == KERAS_PARAMS
    assert len(load_graph(spec)) == 179
    if form != "Graph":
        assert build_graph(spec).output == "fc1000_softmax"
        assert load_spec(spec).name == "resnet50"


def test_load_spec_by_name_works_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_spec("resnet50").name == "resnet50"
    with pytest.raises(SpecError, match="no such spec file"):  # the README's old path form, outside the repo
        load_spec("specs/resnet50.yaml")
    assert resnet_inspect.trace(Path(bundled_specs()["resnet50"])).totals.params == KERAS_PARAMS


def test_to_json_is_the_cli_contract_writer():
    # Regression: the API's to_json used plain json.dumps (no version key, bare NaN possible).
    import json

    import resnet_inspect

    data = json.loads(resnet_inspect.trace("resnet50").to_json())
    assert data["resnet_inspect"] == resnet_inspect.__version__
    assert data["totals"]["params"] == 25_636_712  # Keras' ResNet50 model.summary()
