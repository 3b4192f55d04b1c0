"""The HTML report: self-contained (every image a data: URI, no URL), the inputs' numbers
in its tables, escaped, byte-reproducible, strict about its inputs; and, in headless
Chromium, every image shown and no request leaving the machine."""

import base64
import binascii
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from digitwise.errors import UserError
from digitwise.report import captions as report_captions
from digitwise.report import figures as report_figures
from digitwise.report import inputs as report_inputs
from stages import report

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "reports"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CONTENT_SECURITY_POLICY = {
    "http-equiv": "Content-Security-Policy",
    "content": "default-src 'none'; img-src data:; style-src 'unsafe-inline'",
}
NASTY = "<b>&"  # a class name that breaks a page that forgets to escape

METRICS = {
    "accuracy": 0.75,
    "balanced_accuracy": 0.7222222222,
    "f1_macro": 0.70123456,
    "log_loss": None,  # undefined (infinite) log loss, as json_text writes it
    "auc_ovo_m": 0.87654321,
    "matthews_corrcoef": 0.61234,
    "cohen_kappa": 0.6,
    "top_2_accuracy": 0.95,
    "ece": 0.04321,
    "classwise_ece": 0.01234,
    "n_samples": 20,
    "precision_macro": 0.1,  # other keys of the real file are not shown, and not refused
    "per_class": {
        "10": {"precision": 0.5, "recall": 0.25, "f1": 0.3333333, "support": 4},
        "2": {"precision": 0.875, "recall": 1.0, "f1": 0.9333333, "support": 7},
        NASTY: {"precision": 0.77777, "recall": 0.77777, "f1": 0.77777, "support": 9},
    },
}
# A label-only evaluation (predictions without proba_ columns): no probability metrics at
# all, and a one-line note saying why.
PROBABILITY_KEYS = ("log_loss", "auc_ovo_m", "top_2_accuracy", "ece", "classwise_ece")
LABEL_ONLY_NOTE = (
    "no proba_ columns: log loss, top-2 accuracy, AUC and probability-based pairwise "
    "accuracy need probabilities and are not computed"
)
LABEL_ONLY_METRICS = {
    **{key: value for key, value in METRICS.items() if key not in PROBABILITY_KEYS},
    "note": LABEL_ONLY_NOTE,
}
TOP_CONFUSIONS = {
    "top_confusions": [
        {"rank": 1, "actual": NASTY, "predicted": "2", "count": 2, "share_of_actual": 0.2222222},
        {"rank": 2, "actual": "10", "predicted": NASTY, "count": 1, "share_of_actual": 0.25},
    ]
}
INTERVALS = {
    "accuracy": {"low": 0.55, "high": 0.9},
    "balanced_accuracy": {"low": 0.5123456, "high": 0.88},
    "f1_macro": {"low": 0.49, "high": 0.87},
}
NEW = "c3" * 32  # the content digest of the predictions evaluated and compared

COMPARISON = {  # the shape digitwise.comparison.compare writes
    "baseline": "main",
    "predictions_sha256": {"new": NEW, "baseline": "d4" * 32},
    "baseline_commit": "0123456789abcdef0123456789abcdef01234567",
    "baseline_source": "ignored",
    "n_samples": 20,
    "accuracy": {"new": 0.75, "base": 0.7, "difference": 0.05, "low": -0.1, "high": 0.2},
    "bootstrap": {"level": 0.9, "resamples": 1000, "seed": 0},
    "mcnemar": {"n_new_only": 3, "n_base_only": 2, "p_value": 0.00001},
    "per_class_recall": {
        "10": {"new": 0.25, "base": 0.5, "difference": -0.25, "support": 4},
        NASTY: {"new": 0.7777, "base": 0.6666, "difference": 0.1111, "support": 9},
    },
    "changed_confusions": [
        {"rank": 1, "actual": NASTY, "predicted": "2", "new": 2, "base": 1, "difference": 1},
        {"rank": 2, "actual": "10", "predicted": "2", "new": 0, "base": 2, "difference": -2},
    ],
    "a_key_added_later": {"ignored": True},
}
# Figure files as the hand-made figures directory holds them, and the order they must be shown.
SMALL_FIGURES = ["zeta.png", "pairwise_accuracy.png", "x<i>&y.png", "confusion_counts.png"]
SMALL_ORDER = ["confusion_counts.png", "pairwise_accuracy.png", "x<i>&y.png", "zeta.png"]


def tiny_png(width: int, height: int, rgb: tuple[int, int, int] = (200, 60, 60)) -> bytes:
    """A valid truecolour PNG, written by hand (zlib and struct) to keep the tests fast."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def write_json(path: Path, payload: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload))
    return path


class Inputs:
    """Hand-made inputs in a directory, and the report stage's arguments for them."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.metrics = write_json(directory / "metrics.json", METRICS)
        self.top_confusions = write_json(directory / "top_confusions.json", TOP_CONFUSIONS)
        self.intervals = write_json(directory / "intervals.json", INTERVALS)
        self.comparison = write_json(directory / "comparison" / "comparison.json", COMPARISON)
        self.confusion = write_json(directory / "confusion.json", {"predictions_sha256": NEW})
        self.comparison_plot = directory / "comparison" / "confusion_delta.png"
        self.comparison_plot.write_bytes(tiny_png(7, 5, (20, 90, 200)))
        self.figures = directory / "figures"
        self.figures.mkdir()
        for number, name in enumerate(SMALL_FIGURES, start=1):
            (self.figures / name).write_bytes(tiny_png(10 * number, 4 + number))
        (self.figures / "notes.txt").write_text("not a figure: ignored")
        self.out = directory / "out" / "report.html"

    def args(self, *, intervals: bool = False, comparison: bool = False) -> list[str]:
        args = ["--metrics", str(self.metrics), "--top-confusions", str(self.top_confusions)]
        args += ["--figures", str(self.figures), "--out", str(self.out)]
        if intervals:
            args += ["--intervals", str(self.intervals)]
        if comparison:
            args += ["--comparison", str(self.comparison)]
            args += ["--comparison-plot", str(self.comparison_plot)]
            args += ["--confusion", str(self.confusion)]
        return args


@pytest.fixture
def inputs(tmp_path) -> Inputs:
    return Inputs(tmp_path / "inputs")


def test_a_class_list_orders_the_per_class_rows(inputs):
    classes = write_json(inputs.directory / "classes.json", [NASTY, "10", "2"])
    page = Page(build([*inputs.args(), "--classes", str(classes)]))
    assert [row[0] for row in page.body("per-class")] == [NASTY, "10", "2"]


def test_a_class_list_of_other_classes_is_refused(inputs):
    classes = write_json(inputs.directory / "classes.json", ["2", "10", "11"])
    with pytest.raises(UserError, match=r"metrics\.json: its classes .* are not those of the"):
        report.main([*inputs.args(), "--classes", str(classes)])
    assert not inputs.out.exists()


def build(args: list[str]) -> str:
    report.main(args)
    return Path(args[args.index("--out") + 1]).read_text(encoding="utf-8")


class Page(HTMLParser):
    """What the tests look at in a page: images, attributes, tables by id, headings, captions;
    and any end tag that does not close the element last opened."""

    VOID = frozenset({"meta", "img", "br", "hr", "link", "input", "source", "wbr"})
    TEXT = frozenset({"td", "th", "h1", "h2", "h3", "figcaption", "p", "title"})

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.tags: set[str] = set()
        self.tables: dict[str, list[list[str]]] = {}
        self.texts: dict[str, list[str]] = {}
        self.unbalanced: list[str] = []
        self._open: list[str] = []
        self._rows: list[list[str]] = []
        self._text: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.elements.append((tag, {name: value or "" for name, value in attrs}))
        if tag not in self.VOID:
            self._open.append(tag)
        if tag == "table":
            self._rows = self.tables.setdefault(dict(attrs).get("id") or "", [])
        elif tag == "tr":
            self._rows.append([])
        elif tag in self.TEXT:
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if not self._open or self._open.pop() != tag:
            self.unbalanced.append(tag)
        if tag in self.TEXT and self._text is not None:
            text = "".join(self._text)
            self._text = None
            if tag in ("td", "th"):
                self._rows[-1].append(text)
            else:
                self.texts.setdefault(tag, []).append(text)

    @property
    def images(self) -> list[dict[str, str]]:
        return [attributes for tag, attributes in self.elements if tag == "img"]

    def body(self, table_id: str) -> list[list[str]]:
        return self.tables[table_id][1:]  # below the header row


def check_self_contained(text: str, expected_images: list[bytes]) -> Page:
    """Every image is an embedded PNG (the expected ones, in order); nothing points outside."""
    page = Page(text)
    assert page.unbalanced == [] and page._open == []
    assert text.startswith("<!DOCTYPE html>\n")
    decoded = []
    for image in page.images:
        match = re.fullmatch(r"data:image/png;base64,([A-Za-z0-9+/]+={0,2})", image["src"])
        assert match, image["src"][:80]
        try:
            data = base64.b64decode(match.group(1), validate=True)
        except binascii.Error as error:
            pytest.fail(f"an image's base64 does not decode: {error}")
        assert data.startswith(PNG_SIGNATURE)
        assert (int(image["width"]), int(image["height"])) == struct.unpack(">II", data[16:24])
        decoded.append(data)
    assert decoded == expected_images
    assert not re.search(r"(?i)\b(?:https?|ftp|wss?):|//[\w.-]+\.\w", text), "a URL"
    assert not page.tags & {"script", "link", "iframe", "object", "embed", "base", "form"}
    for tag, attributes in page.elements:
        for name, value in attributes.items():
            if name in ("src", "href", "srcset", "action", "poster", "data"):
                assert value.startswith(("data:image/png;base64,", "#")), (tag, name, value)
            assert not name.startswith("on"), (tag, name)  # no inline script either
    assert "url(" not in text and "@import" not in text
    # The browser itself is told, before the style, to load nothing but data: images and it.
    policy = ("meta", CONTENT_SECURITY_POLICY)
    assert policy in page.elements
    assert page.elements.index(policy) < [tag for tag, _ in page.elements].index("style")
    return page


# --- the page from hand-made inputs ----------------------------------------------------------


def test_tables_hold_the_input_numbers_to_four_decimals(inputs):
    page = check_self_contained(
        build(inputs.args()),
        [(inputs.figures / name).read_bytes() for name in SMALL_ORDER],
    )
    assert page.body("headline") == [
        ["Accuracy", "0.7500"],
        ["Balanced accuracy", "0.7222"],
        ["Macro F1", "0.7012"],
        ["Log loss", "n/a"],
        ["M measure (one-vs-one AUC)", "0.8765"],
        ["Matthews correlation", "0.6123"],
        ["Cohen's kappa", "0.6000"],
        ["Top-2 accuracy", "0.9500"],
        ["Calibration error (ECE, top label)", "0.0432"],
        ["Classwise calibration error", "0.0123"],
        ["Samples", "20"],
    ]
    assert page.tables["per-class"][0] == ["Class", "Precision", "Recall", "F1", "Support"]
    assert page.body("per-class") == [  # natural class order, not the file's string order
        ["2", "0.8750", "1.0000", "0.9333", "7"],
        ["10", "0.5000", "0.2500", "0.3333", "4"],
        [NASTY, "0.7778", "0.7778", "0.7778", "9"],
    ]
    assert page.body("top-confusions") == [
        ["1", NASTY, "2", "2", "0.2222"],
        ["2", "10", NASTY, "1", "0.2500"],
    ]


def test_every_text_from_the_inputs_is_escaped(inputs):
    text = build(inputs.args(comparison=True))
    assert NASTY not in text and "x<i>&y" not in text
    assert "&lt;b&gt;&amp;" in text and "x&lt;i&gt;&amp;y.png" in text
    page = Page(text)
    assert page.unbalanced == []
    assert [NASTY, "2", "2", "1", "+1"] in page.body("changed-confusions")


def test_every_figure_is_shown_in_the_defined_order_with_its_caption(inputs):
    page = Page(build(inputs.args()))
    figure_headings = page.texts["h3"]
    assert figure_headings == ["Confusion matrix, counts", "Pairwise accuracy", "x<i>&y", "zeta"]
    captions = page.texts["figcaption"]
    assert len(captions) == len(SMALL_ORDER)
    for caption, name in zip(captions, SMALL_ORDER, strict=True):
        stem = name.removesuffix(".png")
        expected = (
            report_captions.FIGURES[stem][1]
            if stem in report_captions.FIGURES
            else report_captions.GENERIC_CAPTION
        )
        assert caption == f"{expected} {name}"


def test_figure_order_puts_known_figures_first_then_the_rest_by_name():
    names = ["b.png", "steps_confusion.png", "a.png", "confusion_counts.png"]
    assert report_figures.figure_order(names) == [
        "confusion_counts.png",
        "steps_confusion.png",
        "a.png",
        "b.png",
    ]


def test_every_figure_the_pipeline_draws_has_a_written_caption():
    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    drawn = {
        Path(path).stem
        for stage in pipeline["stages"].values()
        for out in stage.get("outs", [])
        for path in ([out] if isinstance(out, str) else list(out))
        if path.startswith("reports/figures/") and path.endswith(".png")
    }
    assert drawn and drawn <= set(report_captions.FIGURES), drawn - set(report_captions.FIGURES)


def test_every_caption_is_one_sentence():
    for heading, caption in [
        *report_captions.FIGURES.values(),
        *report_captions.LABEL_ONLY_FIGURES.values(),
        ("", report_captions.GENERIC_CAPTION),
    ]:
        assert caption.endswith(".") and caption.count(". ") == 0, heading


def test_intervals_appear_only_when_given(inputs):
    plain = Page(build(inputs.args()))
    assert plain.tables["headline"][0] == ["Metric", "Value"]
    page = Page(build(inputs.args(intervals=True)))
    assert page.tables["headline"][0] == ["Metric", "Value", "95% interval"]
    rows = {row[0]: row[2] for row in page.body("headline")}
    assert rows["Accuracy"] == "0.5500 to 0.9000"
    assert rows["Balanced accuracy"] == "0.5123 to 0.8800"
    assert rows["Macro F1"] == "0.4900 to 0.8700"
    assert rows["Log loss"] == rows["Samples"] == ""


def test_the_comparison_section_appears_only_with_a_comparison(inputs):
    plain = build(inputs.args())
    assert 'id="comparison"' not in plain and "#comparison" not in plain
    assert "baseline" not in plain.lower()

    text = build(inputs.args(comparison=True))
    page = check_self_contained(  # the comparison comes first, after the headline metrics
        text,
        [inputs.comparison_plot.read_bytes()]
        + [(inputs.figures / name).read_bytes() for name in SMALL_ORDER],
    )
    assert '<section id="comparison">' in text and 'href="#comparison"' in text
    assert "<code>main</code> (commit <code>0123456789ab</code>); 20 held-out samples." in text
    assert page.tables["comparison-accuracy"] == [
        ["", "This run", "Baseline", "Difference", "90% interval of the difference"],
        ["Accuracy", "0.7500", "0.7000", "+0.0500", "-0.1000 to 0.2000"],
    ]
    assert page.body("mcnemar") == [
        ["Samples only this run classifies correctly", "3"],
        ["Samples only the baseline classifies correctly", "2"],
        ["p-value (exact, two-sided)", "< 0.0001"],
    ]
    assert page.body("per-class-recall") == [
        ["10", "4", "0.2500", "0.5000", "-0.2500"],
        [NASTY, "9", "0.7777", "0.6666", "+0.1111"],
    ]
    assert page.body("changed-confusions") == [
        [NASTY, "2", "2", "1", "+1"],
        ["10", "2", "0", "2", "-2"],
    ]
    assert page.texts["h3"][3] == "Confusion matrix, this run minus the baseline"
    assert page.texts["h2"] == [
        "Headline metrics",
        "Comparison with the baseline",
        "Per class",
        "Top confusions",
        "Figures",
    ]


def test_a_comparison_of_other_predictions_is_refused(inputs):
    """The headline would say one accuracy and the comparison another."""
    stale = {**COMPARISON, "accuracy": {**COMPARISON["accuracy"], "new": 0.8}}
    write_json(inputs.comparison, stale)
    with pytest.raises(UserError, match=r"comparison\.json: not a comparison of the predictions"):
        build(inputs.args(comparison=True))


def test_a_comparison_without_its_optional_parts_still_renders(inputs):
    write_json(
        inputs.comparison,
        {
            "baseline": "v1.0",
            "accuracy": {"new": 0.75, "base": 0.9, "difference": -0.15},
            "predictions_sha256": {"new": NEW},
        },
    )
    text = build(inputs.args(comparison=True))
    page = Page(text)
    assert page.body("comparison-accuracy") == [["Accuracy", "0.7500", "0.9000", "-0.1500"]]
    assert not {"mcnemar", "per-class-recall", "changed-confusions"} & set(page.tables)
    assert "<code>v1.0</code>. Differences" in text

    partly = {**COMPARISON, "baseline_commit": None, "bootstrap": {"seed": 1, "level": 0.95}}
    recalls = {**COMPARISON["per_class_recall"], "3": {"new": 1, "base": 1, "difference": 0}}
    write_json(inputs.comparison, {**partly, "per_class_recall": recalls})
    text = build(inputs.args(comparison=True))
    page = Page(text)
    assert "<code>main</code>; 20 held-out samples." in text
    assert page.tables["comparison-accuracy"][0][-1] == "95% interval of the difference"
    assert page.tables["per-class-recall"][0] == ["Class", "This run", "Baseline", "Difference"]
    assert page.body("per-class-recall")[0] == ["3", "1.0000", "1.0000", "+0.0000"]
    assert page.images[0]["src"].endswith(
        base64.b64encode(inputs.comparison_plot.read_bytes()).decode()
    )


def test_empty_lists_say_so_instead_of_drawing_empty_tables(inputs):
    write_json(inputs.top_confusions, {"top_confusions": []})
    write_json(inputs.comparison, {**COMPARISON, "per_class_recall": {}, "changed_confusions": []})
    text = build(inputs.args(comparison=True))
    assert not {"top-confusions", "per-class-recall", "changed-confusions"} & set(Page(text).tables)
    assert "every held-out sample was classified correctly" in text
    assert "No off-diagonal cell changed." in text


def test_the_same_inputs_give_the_same_bytes_wherever_they_are(tmp_path):
    first, second = Inputs(tmp_path / "one"), Inputs(tmp_path / "two")
    report.main(first.args(intervals=True, comparison=True))
    report.main(first.args(intervals=True, comparison=True))  # again, over its own output
    report.main(second.args(intervals=True, comparison=True))
    assert first.out.read_bytes() == second.out.read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "stages.report", *second.args(intervals=True, comparison=True)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        # elsewhere than the repository root, the stage entry points need it on the path
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert first.out.read_bytes() == second.out.read_bytes()


# --- label-only evaluations and what the evaluate stage says beside its numbers ---------------


def metrics_paragraphs(text: str) -> list[str]:
    """The texts of the paragraphs in the headline metrics section."""
    start = text.index('<section id="metrics">')
    return Page(text[start : text.index("</section>", start)]).texts.get("p", [])


def test_a_label_only_file_is_told_apart_by_its_absent_probability_metrics():
    metrics = report_inputs.parse_metrics(LABEL_ONLY_METRICS, "metrics.json")
    assert metrics.label_only and metrics.note == LABEL_ONLY_NOTE
    assert set(PROBABILITY_KEYS).isdisjoint(metrics.headline)
    assert metrics.predicted_not_argmax is None
    with_probabilities = report_inputs.parse_metrics(METRICS, "metrics.json")
    assert not with_probabilities.label_only and with_probabilities.note is None


def test_an_evaluation_from_before_calibration_has_no_calibration_rows(inputs):
    write_json(inputs.metrics, {k: v for k, v in METRICS.items() if "ece" not in k})
    rows = Page(build(inputs.args())).body("headline")
    assert [row[0] for row in rows] == [
        "Accuracy",
        "Balanced accuracy",
        "Macro F1",
        "Log loss",
        "M measure (one-vs-one AUC)",
        "Matthews correlation",
        "Cohen's kappa",
        "Top-2 accuracy",
        "Samples",
    ]


def test_a_label_only_evaluation_shows_no_probability_rows_its_note_and_label_captions(inputs):
    with_probabilities = Page(build(inputs.args()))
    write_json(inputs.metrics, LABEL_ONLY_METRICS)
    text = build(inputs.args(intervals=True, comparison=True))
    page = check_self_contained(
        text,
        [inputs.comparison_plot.read_bytes()]
        + [(inputs.figures / name).read_bytes() for name in SMALL_ORDER],
    )
    assert page.body("headline") == [  # left out, not shown as n/a, 0 or NaN
        ["Accuracy", "0.7500", "0.5500 to 0.9000"],
        ["Balanced accuracy", "0.7222", "0.5123 to 0.8800"],
        ["Macro F1", "0.7012", "0.4900 to 0.8700"],
        ["Matthews correlation", "0.6123", ""],
        ["Cohen's kappa", "0.6000", ""],
        ["Samples", "20", ""],
    ]
    assert "Log loss" not in text and "Top-2" not in text
    assert metrics_paragraphs(text)[0] == LABEL_ONLY_NOTE  # once, right below the table
    assert text.count("no proba_ columns") == 1

    # Only the pairwise figure is read differently: from the labels, its diagonal recall.
    at = SMALL_ORDER.index("pairwise_accuracy.png")
    headings = page.texts["h3"][-len(SMALL_ORDER) :]  # the figures section's, after others
    captions = page.texts["figcaption"][-len(SMALL_ORDER) :]
    assert headings[at].startswith("Pairwise accuracy") and "label" in headings[at]
    assert "recall" in captions[at] and "higher probability" not in captions[at]
    assert captions[at].endswith(" pairwise_accuracy.png")
    assert "higher probability" in with_probabilities.texts["figcaption"][at]
    others = [i for i in range(len(SMALL_ORDER)) if i != at]
    assert [captions[i] for i in others] == [
        with_probabilities.texts["figcaption"][i] for i in others
    ]
    assert headings[:at] + headings[at + 1 :] == [
        heading for i, heading in enumerate(with_probabilities.texts["h3"]) if i != at
    ]


def test_a_label_only_page_keeps_its_note_in_class_order_and_its_bytes(tmp_path):
    first, second = Inputs(tmp_path / "one"), Inputs(tmp_path / "two")
    for inputs in (first, second):
        write_json(inputs.metrics, LABEL_ONLY_METRICS)
        classes = write_json(inputs.directory / "classes.json", [NASTY, "10", "2"])
        report.main([*inputs.args(intervals=True), "--classes", str(classes)])
    text = first.out.read_text(encoding="utf-8")
    assert [row[0] for row in Page(text).body("per-class")] == [NASTY, "10", "2"]
    assert LABEL_ONLY_NOTE in metrics_paragraphs(text)
    assert first.out.read_bytes() == second.out.read_bytes()


@pytest.mark.parametrize(
    ("share", "shown"),
    [(0.125, "12.5%"), (1, "100.0%"), (1e-5, "< 0.1%"), (0.99999, "> 99.9%")],
)
def test_predictions_not_the_most_probable_class_are_said_with_their_share(inputs, share, shown):
    write_json(inputs.metrics, {**METRICS, "predicted_not_argmax": share})
    lines = [line for line in metrics_paragraphs(build(inputs.args())) if "probable" in line]
    assert len(lines) == 1
    assert lines[0].startswith(f"{shown} of predictions ")
    assert "not the most probable class" in lines[0]


def test_without_anything_new_to_say_the_page_is_unchanged(inputs):
    before = build(inputs.args(intervals=True, comparison=True))
    assert metrics_paragraphs(before) == [
        "Intervals: 95% bootstrap intervals over the held-out samples."
    ]
    for share in (0.0, 0):
        write_json(inputs.metrics, {**METRICS, "predicted_not_argmax": share})
        assert build(inputs.args(intervals=True, comparison=True)) == before


def test_a_note_beside_probabilities_is_shown_and_the_captions_stay(inputs):
    before = Page(build(inputs.args()))
    write_json(inputs.metrics, {**METRICS, "note": "scored on the <b> & 'test' split"})
    text = build(inputs.args())
    assert metrics_paragraphs(text) == ["scored on the <b> & 'test' split"]
    assert "scored on the &lt;b&gt; &amp; &#x27;test&#x27; split" in text
    assert Page(text).texts["figcaption"] == before.texts["figcaption"]
    assert [row[0] for row in Page(text).body("headline")] == [
        row[0] for row in before.body("headline")
    ]


# --- refusing bad input ----------------------------------------------------------------------


def edit_json(attribute: str, change: Callable[[Any], Any]) -> Callable[[Inputs], list[str]]:
    """A case: rewrite one input file through ``change`` (which edits a copy of it)."""

    def apply(inputs: Inputs) -> list[str]:
        path = getattr(inputs, attribute)
        payload = json.loads(path.read_text())
        write_json(path, change(payload) or payload)
        return inputs.args(intervals=True, comparison=True)

    return apply


def delete(*keys: str | int) -> Callable[[Any], None]:
    def change(payload: Any) -> None:
        for key in keys[:-1]:
            payload = payload[key]
        del payload[keys[-1]]

    return change


def put(value: Any, *keys: str | int) -> Callable[[Any], None]:
    def change(payload: Any) -> None:
        for key in keys[:-1]:
            payload = payload[key]
        payload[keys[-1]] = value

    return change


def as_label_only(**changes: Any) -> Callable[[Any], None]:
    """The metrics without their probability metrics, with a note, then ``changes``."""

    def change(payload: Any) -> None:
        for key in PROBABILITY_KEYS:
            del payload[key]
        payload["note"] = LABEL_ONLY_NOTE
        payload.update(changes)

    return change


def with_args(change: Callable[[Inputs, list[str]], list[str]]) -> Callable[[Inputs], list[str]]:
    return lambda inputs: change(inputs, inputs.args(intervals=True, comparison=True))


def drop(flag: str) -> Callable[[Inputs, list[str]], list[str]]:
    def change(inputs: Inputs, args: list[str]) -> list[str]:
        at = args.index(flag)
        return args[:at] + args[at + 2 :]

    return change


def replace(flag: str, value: Callable[[Inputs], Path]) -> Callable[[Inputs, list[str]], list[str]]:
    def change(inputs: Inputs, args: list[str]) -> list[str]:
        args[args.index(flag) + 1] = str(value(inputs))
        return args

    return change


def write_file(name: str, data: bytes) -> Callable[[Inputs], Path]:
    def path(inputs: Inputs) -> Path:
        target = inputs.directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target

    return path


def directory(name: str, files: dict[str, bytes]) -> Callable[[Inputs], Path]:
    def path(inputs: Inputs) -> Path:
        target = inputs.directory / name
        target.mkdir()
        for file, data in files.items():
            (target / file).write_bytes(data)
        return target

    return path


BAD_INPUTS = {
    "metric missing": (
        edit_json("metrics", delete("accuracy")),
        r"metrics\.json: accuracy is missing",
    ),
    "metric a string": (
        edit_json("metrics", put("high", "f1_macro")),
        r"metrics\.json: f1_macro must be a finite number; got 'high' \(str\)",
    ),
    "metric a bool": (
        edit_json("metrics", put(True, "cohen_kappa")),
        r"cohen_kappa must be a finite number",
    ),
    "n_samples a float": (
        edit_json("metrics", put(20.0, "n_samples")),
        r"n_samples must be an integer >= 0",
    ),
    "per_class missing": (
        edit_json("metrics", delete("per_class")),
        r"metrics\.json: has no per_class, and no per-class file \(per_class\.json\) was given",
    ),
    "per_class empty": (
        edit_json("metrics", put({}, "per_class")),
        r"per_class must name at least one class",
    ),
    "support fractional": (
        edit_json("metrics", put(1.5, "per_class", "2", "support")),
        r"per_class\.2\.support must be an integer >= 0; got 1\.5 \(float\)",
    ),
    "recall missing": (
        edit_json("metrics", delete("per_class", "10", "recall")),
        r"per_class\.10\.recall is missing",
    ),
    "a probability metric missing": (
        edit_json("metrics", delete("log_loss")),
        r"metrics\.json: has auc_ovo_m, top_2_accuracy but not log_loss; the probability "
        r"metrics \(log_loss, auc_ovo_m, top_2_accuracy\) come all together",
    ),
    "a probability metric beside a note": (
        edit_json("metrics", as_label_only(top_2_accuracy=0.9)),
        r"metrics\.json: has top_2_accuracy but not log_loss, auc_ovo_m",
    ),
    "a calibration error beside a note": (
        edit_json("metrics", as_label_only(ece=0.1)),
        r"metrics\.json: ece needs probabilities, but the file has none of log_loss, ",
    ),
    "one calibration error of two": (
        edit_json("metrics", delete("classwise_ece")),
        r"metrics\.json: has ece but not classwise_ece; the calibration errors \(ece, "
        r"classwise_ece\) come together",
    ),
    "a calibration error above 1": (
        edit_json("metrics", put(5, "ece")),
        r"metrics\.json: ece must be a number in 0\.\.1; got 5 \(int\)",
    ),
    "note a number": (
        edit_json("metrics", as_label_only(note=3)),
        r"metrics\.json: note must be one line of text \(no line break or control character\); "
        r"got 3 \(int\)",
    ),
    "note null": (edit_json("metrics", as_label_only(note=None)), r"note must be one line"),
    "note blank": (edit_json("metrics", as_label_only(note=" ")), r"note must be one line"),
    "note on two lines": (
        edit_json("metrics", as_label_only(note="no probabilities:\nno log loss")),
        r"note must be one line of text .*; got 'no probabilities:\\nno log loss' \(str\)",
    ),
    "note with a carriage return": (
        edit_json("metrics", as_label_only(note="shown\rhidden")),
        r"note must be one line",
    ),
    "note with a terminal escape": (
        edit_json("metrics", as_label_only(note="\x1b[31mred")),
        r"note must be one line",
    ),
    "note with a line separator": (
        edit_json("metrics", as_label_only(note="one\u2028two")),
        r"note must be one line",
    ),
    "note with a bidirectional override": (
        edit_json("metrics", as_label_only(note="note \u202etxt.exe")),
        r"note must be one line",
    ),
    "note with a lone surrogate": (
        edit_json("metrics", as_label_only(note="half \ud800 a character")),
        r"note must be one line",
    ),
    "not-argmax share above 1": (
        edit_json("metrics", put(1.5, "predicted_not_argmax")),
        r"metrics\.json: predicted_not_argmax must be a number in 0\.\.1; got 1\.5 \(float\)",
    ),
    "not-argmax share negative": (
        edit_json("metrics", put(-0.1, "predicted_not_argmax")),
        r"predicted_not_argmax must be a number in 0\.\.1",
    ),
    "not-argmax share a bool": (
        edit_json("metrics", put(True, "predicted_not_argmax")),
        r"predicted_not_argmax must be a number in 0\.\.1; got True \(bool\)",
    ),
    "not-argmax share a string": (
        edit_json("metrics", put("0.1", "predicted_not_argmax")),
        r"predicted_not_argmax must be a number in 0\.\.1",
    ),
    "not-argmax share without probabilities": (
        edit_json("metrics", as_label_only(predicted_not_argmax=0.0)),
        r"metrics\.json: predicted_not_argmax needs probabilities, but the file has none",
    ),
    "metrics not an object": (
        edit_json("metrics", lambda _: [1, 2]),
        r"metrics\.json: the file must be an object",
    ),
    "confusions not a list": (
        edit_json("top_confusions", put({"a": 1}, "top_confusions")),
        r"top_confusions must be a list",
    ),
    "confusion count missing": (
        edit_json("top_confusions", delete("top_confusions", 1, "count")),
        r"top_confusions\[1\]\.count is missing",
    ),
    "confusion class empty": (
        edit_json("top_confusions", put("", "top_confusions", 0, "predicted")),
        r"top_confusions\[0\]\.predicted must be a non-empty string",
    ),
    "interval reversed": (
        edit_json("intervals", put({"low": 0.9, "high": 0.8}, "accuracy")),
        r"intervals\.json: accuracy\.low \(0\.9\) is above accuracy\.high \(0\.8\)",
    ),
    "interval unknown metric": (
        edit_json("intervals", put({"low": 0.1, "high": 0.2}, "accuracy_typo")),
        r"'accuracy_typo' is not a headline metric",
    ),
    "interval bound missing": (
        edit_json("intervals", delete("f1_macro", "high")),
        r"f1_macro\.high is missing",
    ),
    "interval not an object": (
        edit_json("intervals", put([0.1, 0.2], "f1_macro")),
        r"f1_macro must be an object",
    ),
    "baseline missing": (
        edit_json("comparison", delete("baseline")),
        r"comparison\.json: baseline is missing",
    ),
    "accuracy change incomplete": (
        edit_json("comparison", delete("accuracy", "difference")),
        r"accuracy\.difference is missing",
    ),
    "one bound of the difference": (
        edit_json("comparison", delete("accuracy", "high")),
        r"accuracy has low but not the other bound",
    ),
    "interval level a percentage": (
        edit_json("comparison", put(95, "bootstrap", "level")),
        r"bootstrap\.level must be strictly between 0 and 1; got 95\.0 \(float\)",
    ),
    "baseline commit a number": (
        edit_json("comparison", put(123, "baseline_commit")),
        r"baseline_commit must be a non-empty string",
    ),
    "recall support negative": (
        edit_json("comparison", put(-1, "per_class_recall", "10", "support")),
        r"per_class_recall\.10\.support must be an integer >= 0",
    ),
    "p-value out of range": (
        edit_json("comparison", put(1.5, "mcnemar", "p_value")),
        r"mcnemar\.p_value must be in 0\.\.1",
    ),
    "recall change not an object": (
        edit_json("comparison", put(0.5, "per_class_recall", "10")),
        r"per_class_recall\.10 must be an object",
    ),
    "changed cell fractional": (
        edit_json("comparison", put(0.5, "changed_confusions", 1, "difference")),
        r"changed_confusions\[1\]\.difference must be an integer",
    ),
    "metrics not JSON": (
        with_args(replace("--metrics", write_file("bad.json", b'{"accuracy": '))),
        r"bad\.json: not valid JSON",
    ),
    "metrics absent": (
        with_args(replace("--metrics", lambda inputs: inputs.directory / "absent.json")),
        r"absent\.json: file not found",
    ),
    "figures absent": (
        with_args(replace("--figures", lambda inputs: inputs.directory / "nowhere")),
        r"nowhere: not a directory",
    ),
    "figures empty": (
        with_args(replace("--figures", directory("empty", {"a.svg": b"<svg/>"}))),
        r"empty: holds no \.png figures",
    ),
    "figure not a PNG": (
        with_args(replace("--figures", directory("fake", {"a.png": b"GIF89a..."}))),
        r"a\.png: not a PNG image",
    ),
    "comparison plot not a PNG": (
        with_args(replace("--comparison-plot", write_file("delta.png", b"\x89PNG but no"))),
        r"delta\.png: not a PNG image",
    ),
    "comparison without its plot": (
        with_args(drop("--comparison-plot")),
        r"--comparison and --comparison-plot must be given together",
    ),
    "out is a directory": (
        with_args(replace("--out", lambda inputs: inputs.directory / "figures")),
        r"figures: is a directory",
    ),
    "out is an input": (
        with_args(replace("--out", lambda inputs: inputs.metrics)),
        r"metrics\.json: is also an input",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_naming_the_file_and_nothing_is_written(inputs, case):
    make_args, message = BAD_INPUTS[case]
    args = make_args(inputs)
    before = inputs.metrics.read_bytes()
    with pytest.raises(UserError, match=message) as error:
        report.main(args)
    assert str(error.value).isprintable()  # one line, no control or format character
    assert not inputs.out.exists()
    assert inputs.metrics.read_bytes() == before


def test_the_command_line_reports_a_bad_input_in_one_line_with_exit_code_2(inputs):
    inputs.metrics.write_text('{"accuracy": "x"}')
    result = subprocess.run(
        [sys.executable, "-m", "stages.report", *inputs.args()],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert (
        result.stderr
        == f"error: {inputs.metrics}: accuracy must be a finite number; got 'x' (str)\n"
    )


# --- the real reports, in a browser ----------------------------------------------------------

# Debian's package (.ci/run installs it), else a Chrome that is already there (as on
# GitHub's Ubuntu runners, whose `chromium` package is only a snap stub)
_BROWSERS = [Path("/usr/bin/chromium"), Path("/usr/bin/google-chrome")]
CHROMIUM = next((path for path in _BROWSERS if path.exists()), _BROWSERS[0])
BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Anything that still tries the network goes to a closed local port, not outside.
    "--proxy-server=127.0.0.1:9",
]


def real_intervals() -> dict[str, Any]:
    """The evaluate stage's intervals where the checkout has them, else hand-made ones."""
    path = REPORTS / "intervals.json"
    return json.loads(path.read_text()) if path.exists() else INTERVALS


@pytest.fixture(scope="module")
def real_report(tmp_path_factory) -> tuple[Path, list[bytes]]:
    """The report of the committed reports/ files (copied), with every optional part."""
    directory = tmp_path_factory.mktemp("real")
    for name in ("metrics.json", "per_class.json", "top_confusions.json"):
        shutil.copy(REPORTS / name, directory / name)
    shutil.copytree(REPORTS / "figures", directory / "figures")
    write_json(directory / "intervals.json", real_intervals())
    real = json.loads((REPORTS / "metrics.json").read_text())
    accuracy = {**COMPARISON["accuracy"], "new": real["accuracy"]}  # of these very predictions
    shutil.copy(REPORTS / "confusion.json", directory / "confusion.json")
    digest = json.loads((REPORTS / "confusion.json").read_text())["predictions_sha256"]
    comparison = {**COMPARISON, "accuracy": accuracy, "n_samples": real["n_samples"]}
    comparison["predictions_sha256"] = {"new": digest, "baseline": "d4" * 32}
    write_json(directory / "comparison.json", comparison)
    shutil.copy(REPORTS / "figures" / "confusion_counts.png", directory / "delta.png")
    out = directory / "report.html"
    args = ["--metrics", str(directory / "metrics.json")]
    args += ["--per-class", str(directory / "per_class.json")]
    args += ["--top-confusions", str(directory / "top_confusions.json")]
    args += ["--figures", str(directory / "figures"), "--out", str(out)]
    args += ["--intervals", str(directory / "intervals.json")]
    args += ["--comparison", str(directory / "comparison.json")]
    args += ["--comparison-plot", str(directory / "delta.png")]
    args += ["--confusion", str(directory / "confusion.json")]
    report.main(args)
    names = report_figures.figure_order(path.name for path in (directory / "figures").glob("*.png"))
    images = [(directory / "figures" / name).read_bytes() for name in names]
    return out, [(directory / "delta.png").read_bytes(), *images]  # the comparison comes first


def test_the_report_of_the_real_files_is_self_contained_and_shows_their_numbers(real_report):
    out, images = real_report
    page = check_self_contained(out.read_text(encoding="utf-8"), images)
    metrics = json.loads((REPORTS / "metrics.json").read_text())
    headline = dict(row[:2] for row in page.body("headline"))
    assert headline["Accuracy"] == f"{metrics['accuracy']:.4f}"
    assert headline["Calibration error (ECE, top label)"] == f"{metrics['ece']:.4f}"
    shown = {row[0]: row[2] for row in page.body("headline")}
    accuracy = real_intervals()["accuracy"]
    assert shown["Accuracy"] == f"{accuracy['low']:.4f} to {accuracy['high']:.4f}"
    assert headline["Log loss"] == f"{metrics['log_loss']:.4f}"
    assert headline["Samples"] == str(metrics["n_samples"])
    per_class = {row[0]: row[1:] for row in page.body("per-class")}
    rows = json.loads((REPORTS / "per_class.json").read_text())
    assert list(per_class) == [row["class"] for row in rows]
    for scores in rows:
        name = scores["class"]
        expected = [f"{scores[key]:.4f}" for key in ("precision", "recall", "f1")]
        assert per_class[name] == [*expected, str(scores["support"])]
    top = json.loads((REPORTS / "top_confusions.json").read_text())["top_confusions"]
    assert [row[1:4] for row in page.body("top-confusions")] == [
        [row["actual"], row["predicted"], str(row["count"])] for row in top
    ]
    assert len(page.texts["figcaption"]) == len(images)
    assert not [
        text for text in page.texts["figcaption"] if report_captions.GENERIC_CAPTION in text
    ]


def require_browser() -> None:
    """Skip without Chromium or playwright, except in CI (CI set), where that is a failure."""
    missing = [] if CHROMIUM.exists() else [f"{CHROMIUM} (apt-get install chromium)"]
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[test]')")
    if missing:
        message = "the browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def test_in_headless_chromium_every_image_loads_and_no_request_leaves(real_report, tmp_path):
    require_browser()
    from playwright.sync_api import sync_playwright

    out, images = real_report
    url = out.as_uri()
    requested: list[str] = []
    problems: list[str] = []
    screenshot = tmp_path / "report.png"
    with sync_playwright() as playwright:
        # Never `playwright install`: the system's Chromium, with a fresh profile of its own.
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            args=BROWSER_FLAGS,
            viewport={"width": 1200, "height": 900},
        )
        try:
            context.on("request", lambda request: requested.append(request.url))
            page = context.pages[0] if context.pages else context.new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(url, wait_until="load")
            loaded = page.evaluate(
                "() => Array.from(document.images, image =>"
                " [image.complete, image.naturalWidth, image.naturalHeight])"
            )
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            context.close()

    sizes = [list(struct.unpack(">II", png[16:24])) for png in images]
    assert loaded == [[True, *size] for size in sizes]
    assert all(width > 0 for _, width, _ in loaded)
    assert url in requested
    assert [u for u in requested if u != url and not u.startswith("data:")] == []
    assert problems == []  # a resource refused by the page's CSP would be logged here
    shot = screenshot.read_bytes()
    assert shot.startswith(PNG_SIGNATURE) and len(shot) > 10_000
