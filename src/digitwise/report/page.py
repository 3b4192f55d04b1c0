"""The report page: one self-contained HTML file of the evaluation, readable offline.

It gathers the headline metrics (with their 95% intervals when given, and the evaluate
stage's note, such as why a label-only evaluation has no probability metrics), the
per-class scores, the ranked confusions, every PNG in the figures directory and, when
given, the comparison with a baseline run, into a single file. Nothing is fetched when the page is
viewed: the styles are inline, there is no script, every image is a base64 ``data:`` URI,
and a Content-Security-Policy forbids the browser any other source. The bytes depend only
on the inputs' contents and the figures' file names, never on paths, time or locale.

The skeleton is ``page.html`` and the styles ``style.css``, both beside this module;
``inputs.py`` reads what the page shows and ``captions.py`` says how to read each figure.
"""

import base64
import html
from collections.abc import Collection, Iterable, Sequence
from importlib import resources
from typing import Any

from digitwise.report.captions import COMPARISON_PLOT_CAPTION, LABEL_ONLY_NOTE, figure_text
from digitwise.report.figures import Figure
from digitwise.report.inputs import (
    COUNT_METRICS,
    HEADLINE,
    Comparison,
    Confusion,
    Metrics,
)

TITLE = "digitwise: evaluation report"


LABELS = dict(HEADLINE)


# The browser may load images from data: URIs and apply the inline styles, and nothing
# else: even a future edit that slips in an external URL cannot make the page phone out.
CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


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


def percent(share: float) -> str:
    """A share as a percentage to one decimal, never rounded to 0% or 100% when it is not."""
    text = f"{share:.1%}"
    if text == "0.0%" and share > 0:
        return "< 0.1%"
    if text == "100.0%" and share < 1:
        return "> 99.9%"
    return text


def metrics_notes(metrics: Metrics) -> list[str]:
    """What the evaluate stage says beside its numbers: its note, and the decisions that
    are not the most probable class (a thresholded or otherwise post-processed model)."""
    lines = [] if metrics.note is None else [note(metrics.note)]
    if metrics.label_only and metrics.note is None:
        lines.append(note(LABEL_ONLY_NOTE))
    if metrics.auc_error_bound is not None:
        lines.append(
            note(
                "M measure: binned (a sharded evaluation keeps score histograms), within "
                f"{metrics.auc_error_bound:.2g} of the exact value"
            )
        )
    if metrics.predicted_not_argmax:  # None (unknown) or 0: nothing to say
        lines.append(
            note(
                f"{percent(metrics.predicted_not_argmax)} of predictions are not the most "
                "probable class (thresholded decisions?)"
            )
        )
    return lines


def metrics_section(metrics: Metrics, intervals: dict[str, tuple[float, float]] | None) -> str:
    # A label-only file has no probability metrics: their rows are left out, not "n/a".
    shown = [key for key, _ in HEADLINE if key in metrics.headline]
    headers = ["Metric", "Value"]
    rows = []
    for key in shown:
        value = metrics.headline[key]
        rows.append([LABELS[key], str(value) if key in COUNT_METRICS else fixed(value)])
    if intervals is None:
        return section(
            "metrics", "Headline metrics", table("headline", headers, rows), *metrics_notes(metrics)
        )
    headers.append("95% interval")
    for key, row in zip(shown, rows, strict=True):
        row.append(interval_text(intervals[key]) if key in intervals else "")
    return section(
        "metrics",
        "Headline metrics",
        table("headline", headers, rows),
        *metrics_notes(metrics),
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


def figures_section(figures: Sequence[Figure], *, label_only: bool) -> str:
    blocks = []
    for figure in figures:
        heading, caption = figure_text(figure.stem, label_only=label_only)
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
        figures_section(figures, label_only=metrics.label_only),
    ]
    nav = "".join(f'<li><a href="#{anchor}">{_e(label)}</a></li>' for anchor, label in contents)
    return _package_text("page.html").format(
        csp=_e(CONTENT_SECURITY_POLICY),
        title=_e(TITLE),
        style=_package_text("style.css").strip(),
        summary=f"{metrics.headline['n_samples']} held-out samples, "
        f"{len(metrics.per_class)} classes.",
        nav=nav,
        sections="\n".join(sections),
    )


def _package_text(name: str) -> str:
    """A file shipped beside this module: the page's skeleton or its style sheet."""
    return resources.files("digitwise.report").joinpath(name).read_text(encoding="utf-8")
