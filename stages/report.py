"""Stage report: one self-contained HTML page of the evaluation, readable offline.

It gathers the headline metrics (with their 95% intervals when given), the per-class
scores, the ranked confusions, every PNG in the figures directory and, when given, the
comparison with a baseline run, into a single file. Nothing is fetched when the page is
viewed: the styles are inline, there is no script, every image is a base64 ``data:`` URI,
and a Content-Security-Policy forbids the browser any other source. The bytes depend only
on the inputs' contents and the figures' file names, never on paths, time or locale.
"""

import argparse
import base64
import html
import math
import re
import struct
import sys
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

from stages import datasets, jsonfile, outputs
from stages.cli import UserError, run

TITLE = "digitwise: evaluation report"

# (key in the metrics file, label); the headline table's rows, in this order.
HEADLINE = (
    ("accuracy", "Accuracy"),
    ("balanced_accuracy", "Balanced accuracy"),
    ("f1_macro", "Macro F1"),
    ("log_loss", "Log loss"),
    ("auc_ovo_m", "M measure (one-vs-one AUC)"),
    ("matthews_corrcoef", "Matthews correlation"),
    ("cohen_kappa", "Cohen's kappa"),
    ("top_2_accuracy", "Top-2 accuracy"),
    ("n_samples", "Samples"),
)
COUNT_METRICS = frozenset({"n_samples"})
CLASS_SCORES = ("precision", "recall", "f1")
CHANGE_KEYS = ("new", "base", "difference")
DEFAULT_LEVEL = 0.95  # of an interval whose file does not say

# Known figures by file stem, in reading order: what went wrong, then why (data, model),
# then how it developed. Each: (heading, one sentence on how to read it).
FIGURES: dict[str, tuple[str, str]] = {
    "confusion_counts": (
        "Confusion matrix, counts",
        "Rows are the true class and columns the prediction: the diagonal counts the correct "
        "predictions, and any other cell (row a, column b) counts the a-samples taken for b.",
    ),
    "confusion_normalized": (
        "Confusion matrix, normalized by true class",
        "Each row splits one true class into shares that sum to 1, with the count beneath "
        "each share, so the diagonal is each class's recall and colours compare classes of "
        "different sizes.",
    ),
    "pairwise_accuracy": (
        "Pairwise accuracy",
        "Cell (a, b) is the share of a- and b-samples for which the model gives the true class "
        "a higher probability than the other one: a low cell is a specific confusion, a low "
        "row a class ranked badly against many others, a blank cell undefined.",
    ),
    "confusion_examples": (
        "Examples of the most frequent confusions",
        "Each row is one off-diagonal cell of the confusion matrix: a correct sample of the "
        "true class, then the misclassified samples with the probability given to the wrong "
        "class, then a correct sample of the predicted class.",
    ),
    "separability": (
        "One-pixel separability",
        "Cell (a, b) is the held-out accuracy of the best single pixel and threshold at "
        "telling a from b (0.5 is chance), so a low cell marks a pair that is hard to "
        "separate in the data itself, whatever the model.",
    ),
    "separability_maps": (
        "One-pixel separability maps",
        "For each of the most confused pairs, the two classes' mean training images and, "
        "beside them, each pixel's held-out accuracy at telling the two apart, with the best "
        "pixel ringed.",
    ),
    "model_vs_data": (
        "Model vs one pixel",
        "Each dot is a pair of classes, placed across by how well one pixel separates its "
        "data and up by the model's pairwise accuracy: a low dot on the left is a pair hard "
        "in the data, a low dot on the right (shaded: worse than one pixel) the model's fault.",
    ),
    "attribution_class_means": (
        "Mean pixel attribution per class",
        "Each panel averages, over the held-out samples of one true class, how much each "
        "pixel raises (red) or lowers (blue) the model's score for that class, by the method "
        "named in the figure's title.",
    ),
    "attribution_examples": (
        "Attribution of single examples",
        "Each row is one held-out sample, mistakes first: the image, then the pixels that "
        "raise (red) or lower (blue) the score of the true class and of the predicted class.",
    ),
    "steps_confusion": (
        "Confusion during training",
        "Held-out confusion matrices after more and more training steps, left to right, show "
        "which confusions are learned away early and which persist; a model that does not "
        "train in steps shows a note instead.",
    ),
}
GENERIC_CAPTION = (
    "A figure from the figures directory with no description here: its title and axes say "
    "what it shows."
)
COMPARISON_PLOT_CAPTION = (
    "Each cell shows how much more (red) or less (blue) of the true class (row) this run puts "
    "in that prediction (column) than the baseline does, so on the diagonal red is better "
    "and off it red is a mistake made more often."
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The browser may load images from data: URIs and apply the inline styles, and nothing
# else: even a future edit that slips in an external URL cannot make the page phone out.
CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

STYLE = """
body { margin: 0; background: #fff; color: #1b1f24;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem 1.5rem 4rem; }
h1 { font-size: 1.7rem; margin: 0 0 .3rem; }
h2 { font-size: 1.3rem; margin: 2.5rem 0 .6rem; padding-bottom: .2rem;
  border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1.05rem; margin: 1.6rem 0 .3rem; }
p.note, figcaption, nav { color: #57606a; }
nav ol { display: flex; flex-wrap: wrap; gap: .2rem 1.6rem; margin: .3rem 0; padding: 0;
  list-style: none; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-variant-numeric: tabular-nums; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid #d8dee4; text-align: left; }
thead th { border-bottom: 2px solid #8c959f; }
th.num { text-align: right; }
td.num { text-align: right; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
tbody tr:nth-child(even) { background: #f6f8fa; }
figure { margin: 0 0 2rem; }
figure img { display: block; max-width: 100%; height: auto; margin: .4rem 0;
  border: 1px solid #eaeef2; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .9em; }
""".strip()


@dataclass(frozen=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Metrics:
    headline: dict[str, float | int | None]  # keys of HEADLINE; None: undefined (null)
    per_class: dict[str, ClassScores]  # in natural class order


@dataclass(frozen=True)
class Confusion:
    rank: int
    actual: str
    predicted: str
    count: int
    share_of_actual: float


@dataclass(frozen=True)
class Figure:
    name: str  # file name, the figure's identity in the page
    png: bytes
    width: int
    height: int

    @property
    def stem(self) -> str:
        return self.name.removesuffix(".png")


@dataclass(frozen=True)
class Change:
    new: float
    base: float
    difference: float
    support: int | None = None  # held-out samples of the class, for a per-class change


@dataclass(frozen=True)
class McNemar:
    n_new_only: int
    n_base_only: int
    p_value: float


@dataclass(frozen=True)
class ChangedCell:
    actual: str
    predicted: str
    new: int
    base: int
    difference: int


@dataclass(frozen=True)
class Comparison:
    baseline: str
    accuracy: Change
    accuracy_interval: tuple[float, float] | None
    level: float  # of the interval
    baseline_commit: str | None  # None: not in the file, and so for the optional parts below
    n_samples: int | None
    mcnemar: McNemar | None
    per_class_recall: dict[str, Change] | None
    changed_confusions: list[ChangedCell] | None


# --- reading and checking the inputs -------------------------------------------------------


def check_same_predictions(
    metrics: Metrics, comparison: Comparison, metrics_path: str, source: str
) -> None:
    """Refuse a comparison of other predictions than the metrics beside it (a stale file):
    the page would show one accuracy in its headline and another in its comparison."""
    accuracy, n_samples = metrics.headline.get("accuracy"), metrics.headline.get("n_samples")
    same_n = comparison.n_samples is None or comparison.n_samples == n_samples
    if not same_n or accuracy is None or abs(accuracy - comparison.accuracy.new) > 1e-9:
        raise UserError(
            f"{source}: not a comparison of the predictions {metrics_path} scores "
            f"(accuracy {comparison.accuracy.new:.4f} there, {accuracy:.4f} here); "
            "rerun python -m stages.compare"
        )


def _got(value: Any) -> str:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"got {shown} ({type(value).__name__})"


def _bad(source: str, where: str, expected: str, value: Any) -> NoReturn:
    raise UserError(f"{source}: {where} must be {expected}; {_got(value)}")


def _object(value: Any, source: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _bad(source, where, "an object", value)
    return value


def _field(
    obj: dict[str, Any], key: str, check: Callable[[Any, str, str], Any], source: str, where: str
) -> Any:
    """``obj[key]`` passed through ``check``; ``where`` is the object's own place, "" at the top."""
    place = f"{where}.{key}" if where else key
    if key not in obj:
        raise UserError(f"{source}: {place} is missing")
    return check(obj[key], source, place)


def _is_number(value: Any) -> bool:
    # bool is an int to Python but never a score; NaN and infinity are not in JSON files
    # written by this project (they become null), so a literal NaN is an error too.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(value: Any, source: str, where: str) -> float:
    if not _is_number(value):
        _bad(source, where, "a finite number", value)
    return float(value)


def _number_or_null(value: Any, source: str, where: str) -> float | None:
    return None if value is None else _number(value, source, where)


def _list(value: Any, source: str, where: str) -> list[Any]:
    if not isinstance(value, list):
        _bad(source, where, "a list", value)
    return value


def _count(value: Any, source: str, where: str) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        _bad(source, where, "an integer >= 0", value)
    return value


def _integer(value: Any, source: str, where: str) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool)):
        _bad(source, where, "an integer", value)
    return value


def _name(value: Any, source: str, where: str) -> str:
    if not (isinstance(value, str) and value):
        _bad(source, where, "a non-empty string", value)
    return value


def natural_key(name: str) -> tuple[tuple[tuple[int, int, str], ...], str]:
    """Sort key putting "2" before "10" and "class_9" before "class_10"; ties by the text.

    Class names reach this stage as JSON object keys, which the evaluate stage writes in
    sorted-string order ("10" before "2"); the tables want the classes' natural order.
    """
    parts = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", name)
        if part
    )
    return parts, name


def parse_metrics(payload: Any, source: str) -> Metrics:
    """The evaluate stage's headline metrics: the HEADLINE scalars and ``per_class``."""
    payload = _object(payload, source, "the file")
    headline: dict[str, float | int | None] = {}
    for key, _ in HEADLINE:
        if key in COUNT_METRICS:
            headline[key] = _field(payload, key, _count, source, "")
        else:  # null is an undefined metric (json_text writes NaN and infinity so)
            headline[key] = _field(payload, key, _number_or_null, source, "")
    classes = _field(payload, "per_class", _object, source, "")
    if not classes:
        raise UserError(f"{source}: per_class must name at least one class; got {{}}")
    per_class = {}
    for name in sorted(classes, key=natural_key):
        where = f"per_class.{name}"
        scores = _object(classes[name], source, where)
        per_class[name] = ClassScores(
            *(_field(scores, key, _number, source, where) for key in CLASS_SCORES),
            support=_field(scores, "support", _count, source, where),
        )
    return Metrics(headline, per_class)


def parse_top_confusions(payload: Any, source: str) -> list[Confusion]:
    """The ranked confusions, in the file's (rank) order."""
    payload = _object(payload, source, "the file")
    rows = _field(payload, "top_confusions", _list, source, "")
    confusions = []
    for number, row in enumerate(rows):
        where = f"top_confusions[{number}]"
        row = _object(row, source, where)
        confusions.append(
            Confusion(
                rank=_field(row, "rank", _count, source, where),
                actual=_field(row, "actual", _name, source, where),
                predicted=_field(row, "predicted", _name, source, where),
                count=_field(row, "count", _count, source, where),
                share_of_actual=_field(row, "share_of_actual", _number, source, where),
            )
        )
    return confusions


def _interval(bounds: dict[str, Any], source: str, where: str) -> tuple[float, float]:
    low = _field(bounds, "low", _number, source, where)
    high = _field(bounds, "high", _number, source, where)
    if low > high:
        raise UserError(f"{source}: {where}.low ({low}) is above {where}.high ({high})")
    return low, high


def parse_intervals(payload: Any, source: str) -> dict[str, tuple[float, float]]:
    """{metric: {"low": x, "high": y}} for headline metrics; each low <= high.

    An unknown metric name is an error rather than a silently missing row.
    """
    payload = _object(payload, source, "the file")
    known = [key for key, _ in HEADLINE if key not in COUNT_METRICS]
    intervals = {}
    for metric, bounds in payload.items():
        if metric not in known:
            raise UserError(
                f"{source}: {metric!r} is not a headline metric; expected some of "
                f"{', '.join(known)}"
            )
        intervals[metric] = _interval(_object(bounds, source, metric), source, metric)
    return intervals


def _change(payload: Any, source: str, where: str) -> Change:
    payload = _object(payload, source, where)
    return Change(*(_field(payload, key, _number, source, where) for key in CHANGE_KEYS))


def _class_change(payload: Any, source: str, where: str) -> Change:
    change = _change(payload, source, where)
    if "support" not in payload:
        return change
    return replace(change, support=_field(payload, "support", _count, source, where))


def _mcnemar(payload: Any, source: str, where: str) -> McNemar:
    payload = _object(payload, source, where)
    test = McNemar(
        n_new_only=_field(payload, "n_new_only", _count, source, where),
        n_base_only=_field(payload, "n_base_only", _count, source, where),
        p_value=_field(payload, "p_value", _number, source, where),
    )
    if not 0 <= test.p_value <= 1:
        _bad(source, f"{where}.p_value", "in 0..1", test.p_value)
    return test


def _recalls(payload: Any, source: str, where: str) -> dict[str, Change]:
    payload = _object(payload, source, where)
    return {
        name: _class_change(payload[name], source, f"{where}.{name}")
        for name in sorted(payload, key=natural_key)
    }


def _changed_cells(payload: Any, source: str, where: str) -> list[ChangedCell]:
    cells = []
    for number, row in enumerate(_list(payload, source, where)):
        place = f"{where}[{number}]"
        row = _object(row, source, place)
        cells.append(
            ChangedCell(
                actual=_field(row, "actual", _name, source, place),
                predicted=_field(row, "predicted", _name, source, place),
                new=_field(row, "new", _count, source, place),
                base=_field(row, "base", _count, source, place),
                difference=_field(row, "difference", _integer, source, place),
            )
        )
    return cells


def _level(payload: Any, source: str, where: str) -> float:
    level = _field(_object(payload, source, where), "level", _number, source, where)
    if not 0 < level < 1:
        _bad(source, f"{where}.level", "strictly between 0 and 1", level)
    return level


def _commit(value: Any, source: str, where: str) -> str | None:
    return None if value is None else _name(value, source, where)


def parse_comparison(payload: Any, source: str) -> Comparison:
    """A comparison with a baseline run (``python -m stages.compare`` writes one).

    Required: ``baseline`` and ``accuracy`` (new, base, difference). Optional, each
    checked when present: ``accuracy.low``/``high`` (the difference's interval, both or
    neither) and ``bootstrap.level`` (its level, 0.95 if absent), ``baseline_commit``,
    ``n_samples``, ``mcnemar``, ``per_class_recall`` (with ``support`` or not) and
    ``changed_confusions``. Other keys are ignored, so the comparison may grow without
    breaking the report.
    """
    payload = _object(payload, source, "the file")
    accuracy = _field(payload, "accuracy", _object, source, "")
    bounds = [key for key in ("low", "high") if key in accuracy]
    if len(bounds) == 1:
        raise UserError(f"{source}: accuracy has {bounds[0]} but not the other bound")

    def optional(key: str, check: Callable[[Any, str, str], Any]) -> Any:
        return _field(payload, key, check, source, "") if key in payload else None

    return Comparison(
        baseline=_field(payload, "baseline", _name, source, ""),
        accuracy=_change(accuracy, source, "accuracy"),
        accuracy_interval=_interval(accuracy, source, "accuracy") if bounds else None,
        level=optional("bootstrap", _level) or DEFAULT_LEVEL,
        baseline_commit=optional("baseline_commit", _commit),
        n_samples=optional("n_samples", _count),
        mcnemar=optional("mcnemar", _mcnemar),
        per_class_recall=optional("per_class_recall", _recalls),
        changed_confusions=optional("changed_confusions", _changed_cells),
    )


def read_png(path: Path) -> Figure:
    """A PNG file with its pixel size, read from the IHDR chunk (the first, by the spec)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UserError(f"{path}: cannot read it ({error.strerror})") from None
    if not (data.startswith(PNG_SIGNATURE) and len(data) >= 24 and data[12:16] == b"IHDR"):
        raise UserError(f"{path}: not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    if width == 0 or height == 0:
        raise UserError(f"{path}: a PNG image of {width} x {height} pixels")
    return Figure(path.name, data, width, height)


def figure_order(names: Iterable[str]) -> list[str]:
    """Known figures in FIGURES' reading order, then any others by name."""
    names = set(names)
    known = [f"{stem}.png" for stem in FIGURES if f"{stem}.png" in names]
    return known + sorted(names - set(known))


def read_figures(directory: str | Path) -> list[Figure]:
    """Every ``*.png`` directly in ``directory``, in ``figure_order``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UserError(f"{directory}: not a directory (expected the figures directory)")
    names = [path.name for path in directory.glob("*.png") if path.is_file()]
    if not names:
        raise UserError(f"{directory}: holds no .png figures")
    return [read_png(directory / name) for name in figure_order(names)]


# --- rendering -----------------------------------------------------------------------------


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def fixed(value: float | None) -> str:
    """Four decimals, the precision of every score in the report; None is undefined."""
    return "n/a" if value is None else f"{value:.4f}"


def signed(value: float) -> str:
    return f"{value:+.4f}"


def p_text(value: float) -> str:
    return "< 0.0001" if value < 0.0001 else f"{value:.4f}"


def interval_text(interval: tuple[float, float]) -> str:
    return f"{interval[0]:.4f} to {interval[1]:.4f}"


def table(
    table_id: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    text_columns: Collection[int] = (0,),
) -> str:
    """A table whose columns are numbers (right-aligned) except ``text_columns``."""

    def cells(tag: str, texts: Sequence[str]) -> str:
        opening = [
            f"<{tag}>" if i in text_columns else f'<{tag} class="num">' for i in range(len(texts))
        ]
        return "".join(
            f"{start}{_e(text)}</{tag}>" for start, text in zip(opening, texts, strict=True)
        )

    body = "\n".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return (
        f'<table id="{_e(table_id)}">\n<thead><tr>{cells("th", headers)}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody>\n</table>"
    )


def image(figure: Figure, alt: str) -> str:
    encoded = base64.b64encode(figure.png).decode("ascii")
    return (
        f'<img src="data:image/png;base64,{encoded}" alt="{_e(alt)}" '
        f'width="{figure.width}" height="{figure.height}">'
    )


def section(anchor: str, heading: str, *parts: str) -> str:
    return "\n".join([f'<section id="{anchor}">', f"<h2>{_e(heading)}</h2>", *parts, "</section>"])


def note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def metrics_section(metrics: Metrics, intervals: dict[str, tuple[float, float]] | None) -> str:
    headers = ["Metric", "Value"]
    rows = []
    for key, label in HEADLINE:
        value = metrics.headline[key]
        rows.append([label, str(value) if key in COUNT_METRICS else fixed(value)])
    if intervals is None:
        return section("metrics", "Headline metrics", table("headline", headers, rows))
    headers.append("95% interval")
    for (key, _), row in zip(HEADLINE, rows, strict=True):
        row.append(interval_text(intervals[key]) if key in intervals else "")
    return section(
        "metrics",
        "Headline metrics",
        table("headline", headers, rows),
        note("Intervals: 95% bootstrap intervals over the held-out samples."),
    )


def per_class_section(metrics: Metrics) -> str:
    rows = [
        [name, fixed(s.precision), fixed(s.recall), fixed(s.f1), str(s.support)]
        for name, s in metrics.per_class.items()
    ]
    return section(
        "per-class",
        "Per class",
        note("Support is the number of held-out samples of the class."),
        table("per-class", ["Class", "Precision", "Recall", "F1", "Support"], rows),
    )


def confusions_section(confusions: Sequence[Confusion]) -> str:
    if not confusions:
        return section(
            "confusions",
            "Top confusions",
            note("No confusions: every held-out sample was classified correctly."),
        )
    headers = ["Rank", "True class", "Predicted", "Count", "Share of true class"]
    rows = [
        [str(c.rank), c.actual, c.predicted, str(c.count), fixed(c.share_of_actual)]
        for c in confusions
    ]
    return section(
        "confusions",
        "Top confusions",
        note("The largest off-diagonal cells of the confusion matrix, ranked by count."),
        table("top-confusions", headers, rows, text_columns=(1, 2)),
    )


def figure_block(figure: Figure, heading: str, caption: str, element_id: str) -> str:
    return (
        f'<figure id="{_e(element_id)}">\n<h3>{_e(heading)}</h3>\n'
        f"<figcaption>{_e(caption)} <code>{_e(figure.name)}</code></figcaption>\n"
        f"{image(figure, heading)}\n</figure>"
    )


def figures_section(figures: Sequence[Figure]) -> str:
    blocks = []
    for figure in figures:
        heading, caption = FIGURES.get(figure.stem, (figure.stem, GENERIC_CAPTION))
        blocks.append(figure_block(figure, heading, caption, f"figure-{figure.stem}"))
    return section("figures", "Figures", *blocks)


def comparison_section(comparison: Comparison, plot: Figure) -> str:
    commit = comparison.baseline_commit
    revision = "" if commit is None else f" (commit <code>{_e(commit[:12])}</code>)"
    samples = "" if comparison.n_samples is None else f"; {comparison.n_samples} held-out samples"
    parts = [
        f"<p>Baseline: <code>{_e(comparison.baseline)}</code>{revision}{samples}. "
        "Differences are this run minus the baseline.</p>"
    ]
    accuracy = comparison.accuracy
    headers = ["", "This run", "Baseline", "Difference"]
    row = ["Accuracy", fixed(accuracy.new), fixed(accuracy.base), signed(accuracy.difference)]
    if comparison.accuracy_interval is not None:
        headers.append(f"{comparison.level:.0%} interval of the difference")
        row.append(interval_text(comparison.accuracy_interval))
    parts.append(table("comparison-accuracy", headers, [row]))

    if comparison.mcnemar is not None:
        test = comparison.mcnemar
        rows = [
            ["Samples only this run classifies correctly", str(test.n_new_only)],
            ["Samples only the baseline classifies correctly", str(test.n_base_only)],
            ["p-value (exact, two-sided)", p_text(test.p_value)],
        ]
        parts += [
            "<h3>McNemar's test</h3>",
            table("mcnemar", ["", "Value"], rows),
            note(
                "Only the samples the two runs disagree on count; a small p-value says the "
                "two accuracies differ by more than chance."
            ),
        ]
    if comparison.per_class_recall is not None:
        parts.append("<h3>Recall per class</h3>")
        changes = comparison.per_class_recall
        rows = [
            [name, fixed(c.new), fixed(c.base), signed(c.difference)] for name, c in changes.items()
        ]
        headers = ["Class", "This run", "Baseline", "Difference"]
        if changes and all(c.support is not None for c in changes.values()):
            headers.insert(1, "Support")
            for row, change in zip(rows, changes.values(), strict=True):
                row.insert(1, str(change.support))
        parts.append(
            table("per-class-recall", headers, rows) if rows else note("No classes compared.")
        )
    if comparison.changed_confusions is not None:
        parts.append("<h3>Changed confusions</h3>")
        rows = [
            [c.actual, c.predicted, str(c.new), str(c.base), f"{c.difference:+d}"]
            for c in comparison.changed_confusions
        ]
        headers = ["True class", "Predicted", "This run", "Baseline", "Difference"]
        parts.append(
            table("changed-confusions", headers, rows, text_columns=(0, 1))
            if rows
            else note("No off-diagonal cell changed.")
        )
    heading = "Confusion matrix, this run minus the baseline"
    parts.append(figure_block(plot, heading, COMPARISON_PLOT_CAPTION, "figure-comparison"))
    return section("comparison", "Comparison with the baseline", *parts)


def render(
    metrics: Metrics,
    confusions: Sequence[Confusion],
    figures: Sequence[Figure],
    *,
    intervals: dict[str, tuple[float, float]] | None = None,
    comparison: tuple[Comparison, Figure] | None = None,
) -> str:
    """The whole page. Everything shown is escaped; nothing depends on time or paths."""
    # The comparison, when there is one, comes right after the headline numbers it qualifies.
    contents = [("metrics", "Headline metrics")]
    sections = [metrics_section(metrics, intervals)]
    if comparison is not None:
        contents.append(("comparison", "Comparison with the baseline"))
        sections.append(comparison_section(*comparison))
    contents += [
        ("per-class", "Per class"),
        ("confusions", "Top confusions"),
        ("figures", "Figures"),
    ]
    sections += [
        per_class_section(metrics),
        confusions_section(confusions),
        figures_section(figures),
    ]
    nav = "".join(f'<li><a href="#{anchor}">{_e(label)}</a></li>' for anchor, label in contents)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CONTENT_SECURITY_POLICY)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(TITLE)}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{_e(TITLE)}</h1>\n"
        f'<p class="note">{metrics.headline["n_samples"]} held-out samples, '
        f"{len(metrics.per_class)} classes.</p>\n"
        f"<nav><ol>{nav}</ol></nav>\n" + "\n".join(sections) + "\n</main>\n</body>\n</html>\n"
    )


def in_class_order(metrics: Metrics, classes: Sequence[str], source: str) -> Metrics:
    """The per-class rows in the class list's order (label order: "T-shirt/top" before
    "Trouser", not "Ankle boot" first), for the same set of classes."""
    if set(classes) != set(metrics.per_class):
        raise UserError(
            f"{source}: its classes ({', '.join(metrics.per_class)}) are not those of the "
            f"class list ({', '.join(classes)})"
        )
    return Metrics(metrics.headline, {name: metrics.per_class[name] for name in classes})


# --- the stage -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--metrics", required=True, help="headline metrics JSON (evaluate)")
    parser.add_argument("--top-confusions", required=True, help="ranked confusions JSON")
    parser.add_argument("--figures", required=True, help="directory of PNG figures, all shown")
    parser.add_argument("--out", required=True, help="HTML file to write")
    parser.add_argument("--intervals", help="JSON of 95%% intervals {metric: {low, high}}")
    parser.add_argument("--comparison", help="JSON comparing this run with a baseline")
    parser.add_argument("--comparison-plot", help="PNG of the confusion matrix difference")
    parser.add_argument(
        "--classes", help="class list JSON: per-class rows in its order (else natural order)"
    )
    args = parser.parse_args(argv)
    if (args.comparison is None) != (args.comparison_plot is None):
        raise UserError("--comparison and --comparison-plot must be given together")
    outputs.check_destinations(args.out)
    inputs = (
        args.metrics,
        args.top_confusions,
        args.intervals,
        args.comparison,
        args.comparison_plot,
    )
    out = Path(args.out).resolve()
    if any(path is not None and Path(path).resolve() == out for path in inputs):
        raise UserError(f"{args.out}: is also an input; write the report elsewhere")

    metrics = parse_metrics(jsonfile.read_json(args.metrics), args.metrics)
    if args.classes is not None:
        metrics = in_class_order(metrics, datasets.load_classes(args.classes), args.metrics)
    confusions = parse_top_confusions(jsonfile.read_json(args.top_confusions), args.top_confusions)
    figures = read_figures(args.figures)
    intervals = None
    if args.intervals is not None:
        intervals = parse_intervals(jsonfile.read_json(args.intervals), args.intervals)
    comparison = None
    if args.comparison is not None:
        comparison = (
            parse_comparison(jsonfile.read_json(args.comparison), args.comparison),
            read_png(Path(args.comparison_plot)),
        )

    if comparison is not None:
        check_same_predictions(metrics, comparison[0], args.metrics, args.comparison)

    page = render(metrics, confusions, figures, intervals=intervals, comparison=comparison)
    outputs.write_text(args.out, page)


if __name__ == "__main__":
    sys.exit(run(main))
