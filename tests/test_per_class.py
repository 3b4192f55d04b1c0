"""The per-class scores in a file of their own (reports/per_class.json, a DVC plot) and a
headline file of scalars that DVC's tables can show: the values against scikit-learn,
the report and the comparison reading them (from an evaluation or baseline made before
the file existed too), DVC drawing them, and the width of ``dvc metrics show``."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sklearn.metrics as skm
from conftest import copy_project
from hypothesis import given, settings
from hypothesis import strategies as st
from test_pipeline import environment
from test_report import Page

from digitwise.cli import run
from digitwise.cli.main import main
from digitwise.errors import UserError
from digitwise.io.outputs import json_text
from digitwise.metrics import classification as metrics
from digitwise.metrics.evaluation import evaluate
from digitwise.metrics.reports import per_class_report
from digitwise.params import EVALUATE_DEFAULTS
from digitwise.predictions.schema import Predictions, to_csv
from digitwise.report.page import signed
from stages import report

CLASSES = ("cat", "dog", "10", "2")  # in the class list's order, not sorted
ROWS = ("class", "precision", "recall", "f1", "support")
MAX_HEADLINE_KEYS = 13  # each a column of `dvc metrics show` and `dvc exp show`
WIDTH = 200  # columns `dvc metrics show` must fit in


def predictions(n: int = 120, *, seed: int = 0, proba: bool = True, flip: float = 0.0):
    """About 80% right over CLASSES; ``flip`` of the rows predict the second best class."""
    rng = np.random.default_rng(seed)
    k = len(CLASSES)
    actual = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), actual] += 2.0
    weights = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    predicted = weights.argmax(axis=1)
    flipped = rng.random(n) < flip
    predicted[flipped] = np.argsort(weights[flipped], axis=1)[:, -2]
    return Predictions(
        sample=np.arange(n, dtype=np.int64),
        actual=actual,
        predicted=predicted,
        proba=weights if proba else None,
        classes=CLASSES,
    )


def headline_of(chosen: Predictions) -> dict:
    """The headline file's payload, as evaluate writes it (calibration's keys included)."""
    return evaluate(chosen, EVALUATE_DEFAULTS).payloads["metrics"]


def expected_rows(actual, predicted, classes) -> list[dict]:
    """scikit-learn's per-class scores, every class of the list (absent ones as zeros)."""
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        actual, predicted, labels=range(len(classes)), average=None, zero_division=0
    )
    return [
        dict(zip(ROWS, row, strict=True))
        for row in zip(classes, precision, recall, f1, support, strict=True)
    ]


def assert_rows_equal(rows: list[dict], expected: list[dict]) -> None:
    assert [row["class"] for row in rows] == [row["class"] for row in expected]
    for row, reference in zip(rows, expected, strict=True):
        assert set(row) == set(ROWS)
        for key in ("precision", "recall", "f1"):
            assert row[key] == pytest.approx(reference[key], abs=1e-12), (row["class"], key)
        assert row["support"] == reference["support"] and isinstance(row["support"], int)


# --- the headline: scalars only, few keys ----------------------------------------------


@pytest.mark.parametrize(
    "chosen",
    [predictions(), predictions(proba=False), predictions(flip=0.2)],
    ids=["probabilities", "label-only", "thresholded"],
)
def test_the_headline_holds_a_few_scalars_and_no_per_class_block(chosen):
    headline = headline_of(chosen)
    assert len(headline) <= MAX_HEADLINE_KEYS
    assert all(type(value) in (int, float) for value in headline.values()), headline
    assert not any(key.startswith("per_class") for key in headline)
    assert headline["accuracy"] == pytest.approx(
        skm.accuracy_score(chosen.actual, chosen.predicted)
    )
    assert headline["matthews_corrcoef"] == pytest.approx(
        skm.matthews_corrcoef(chosen.actual, chosen.predicted)
    )


def test_the_argmax_flag_is_written_only_when_some_prediction_is_not_the_argmax():
    assert "predicted_not_argmax" not in headline_of(predictions())
    thresholded = predictions(flip=0.2)
    share = np.mean(thresholded.predicted != thresholded.proba.argmax(axis=1))
    assert share > 0
    assert headline_of(thresholded)["predicted_not_argmax"] == pytest.approx(share)


# --- the per-class file: scikit-learn's numbers, one row per class ---------------------


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 12).flatmap(
        lambda k: st.tuples(
            st.just(k),
            st.lists(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), min_size=1),
        )
    )
)
def test_per_class_rows_equal_scikit_learns_with_absent_classes_as_zeros(problem):
    k, pairs = problem
    actual, predicted = (np.array(side, dtype=np.int64) for side in zip(*pairs, strict=True))
    classes = tuple(f"c{i}" for i in range(k))
    counts = metrics.confusion_matrix(actual, predicted, n_classes=k)
    rows = per_class_report(counts, classes)
    assert_rows_equal(rows, expected_rows(actual, predicted, classes))
    assert json.loads(json_text(rows)) == rows  # plain JSON: a list of rows


def test_a_thousand_classes_make_a_thousand_rows_in_a_file_of_reasonable_size():
    rng = np.random.default_rng(0)
    k, n = 1000, 20_000
    actual = rng.integers(0, k, n)
    predicted = np.where(rng.random(n) < 0.8, actual, rng.integers(0, k, n))
    classes = tuple(f"class_{i}" for i in range(k))
    rows = per_class_report(metrics.confusion_matrix(actual, predicted, n_classes=k), classes)
    text = json_text(rows)
    assert len(rows) == k
    assert len(text.encode()) < 200_000  # about 140 bytes a class
    assert_rows_equal(json.loads(text), expected_rows(actual, predicted, classes))


@pytest.fixture(scope="module")
def evaluations(tmp_path_factory) -> dict[str, Path]:
    """``digitwise evaluate`` on predictions with and without probabilities."""
    root = tmp_path_factory.mktemp("evaluations")
    (root / "classes.json").write_text(json.dumps(list(CLASSES)))
    made = {}
    for name, chosen in (("full", predictions()), ("labels", predictions(seed=1, proba=False))):
        (root / f"{name}.csv").write_text(to_csv(chosen))
        out = root / name
        argv = ["evaluate", str(root / f"{name}.csv"), "--classes", str(root / "classes.json")]
        assert run(main, [*argv, "--out", str(out)]) == 0
        made[name] = out
    return made


@pytest.mark.parametrize("name", ["full", "labels"])
def test_evaluate_writes_the_per_class_file_with_scikit_learns_numbers(evaluations, name):
    chosen = predictions(seed=1, proba=False) if name == "labels" else predictions()
    rows = json.loads((evaluations[name] / "per_class.json").read_text())
    assert_rows_equal(rows, expected_rows(chosen.actual, chosen.predicted, CLASSES))
    headline = json.loads((evaluations[name] / "metrics.json").read_text())
    assert "per_class" not in headline


# --- the report reads them, in either format -------------------------------------------


def per_class_table(page: Path) -> list[list[str]]:
    return Page(page.read_text(encoding="utf-8")).body("per-class")


def table_of(rows: list[dict]) -> list[list[str]]:
    return [
        [
            row["class"],
            *(f"{row[key]:.4f}" for key in ("precision", "recall", "f1")),
            str(row["support"]),
        ]
        for row in rows
    ]


def old_format(evaluation: Path, destination: Path) -> Path:
    """The evaluation as written before per_class.json: the scores inside metrics.json,
    keyed by class name (in sorted order, as the JSON writer sorts keys)."""
    shutil.copytree(evaluation, destination)
    rows = json.loads((destination / "per_class.json").read_text())
    (destination / "per_class.json").unlink()
    headline = json.loads((destination / "metrics.json").read_text())
    headline["per_class"] = {row["class"]: {k: row[k] for k in ROWS[1:]} for row in rows}
    (destination / "metrics.json").write_text(json_text(headline))
    return destination


def test_the_report_shows_the_per_class_file_in_the_class_lists_order(evaluations, tmp_path):
    out = tmp_path / "report.html"
    assert run(main, ["report", str(evaluations["full"]), "--out", str(out)]) == 0
    rows = json.loads((evaluations["full"] / "per_class.json").read_text())
    assert per_class_table(out) == table_of(rows)
    assert [row[0] for row in per_class_table(out)] == list(CLASSES)


def test_the_report_of_an_evaluation_from_before_the_file_reads_metrics_json(evaluations, tmp_path):
    old = old_format(evaluations["labels"], tmp_path / "old")
    new_page, old_page = tmp_path / "new.html", tmp_path / "old.html"
    assert run(main, ["report", str(evaluations["labels"]), "--out", str(new_page)]) == 0
    assert run(main, ["report", str(old), "--out", str(old_page)]) == 0
    rows = json.loads((evaluations["labels"] / "per_class.json").read_text())
    # the old format's object is in natural order ("2" before "10"), then the class list's
    assert [row[0] for row in per_class_table(old_page)] == ["2", "10", "cat", "dog"]
    classes = tmp_path / "classes.json"
    classes.write_text(json.dumps(list(CLASSES)))
    argv = ["report", str(old), "--classes", str(classes), "--out", str(old_page)]
    assert run(main, argv) == 0
    assert per_class_table(old_page) == per_class_table(new_page) == table_of(rows)


def test_the_per_class_file_wins_over_an_old_block_in_metrics_json(evaluations, tmp_path):
    both = shutil.copytree(evaluations["full"], tmp_path / "both")
    headline = json.loads((both / "metrics.json").read_text())
    stale = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    headline["per_class"] = {name: stale for name in CLASSES}
    (both / "metrics.json").write_text(json_text(headline))
    out = tmp_path / "report.html"
    assert run(main, ["report", str(both), "--out", str(out)]) == 0
    assert per_class_table(out) == table_of(json.loads((both / "per_class.json").read_text()))


ROW = {"class": "cat", "precision": 0.5, "recall": 0.25, "f1": 0.3333, "support": 4}
BAD_PER_CLASS = {
    "an object": ({"cat": ROW}, r"per_class\.json: the file must be a list; got \{"),
    "no rows": ([], r"per_class\.json: must hold a row for at least one class; got \[\]"),
    "a class twice": ([ROW, ROW], r"per_class\.json: \[1\]\.class 'cat' is there twice"),
    "recall missing": (
        [{k: v for k, v in ROW.items() if k != "recall"}],
        r"per_class\.json: \[0\]\.recall is missing",
    ),
    "support fractional": (
        [{**ROW, "support": 1.5}],
        r"per_class\.json: \[0\]\.support must be an integer >= 0; got 1\.5 \(float\)",
    ),
    "a number as the class": ([{**ROW, "class": 3}], r"\[0\]\.class must be a non-empty string"),
    "a row not an object": ([ROW, 7], r"per_class\.json: \[1\] must be an object; got 7 \(int\)"),
}


@pytest.mark.parametrize("case", sorted(BAD_PER_CLASS))
def test_a_bad_per_class_file_is_one_line_naming_it_and_nothing_is_written(
    evaluations, tmp_path, case
):
    payload, message = BAD_PER_CLASS[case]
    copied = shutil.copytree(evaluations["full"], tmp_path / "given")
    (copied / "per_class.json").write_text(json.dumps(payload))
    out = tmp_path / "out" / "report.html"
    args = [
        "--metrics",
        str(copied / "metrics.json"),
        "--per-class",
        str(copied / "per_class.json"),
    ]
    args += ["--top-confusions", str(copied / "top_confusions.json")]
    args += ["--figures", str(copied / "figures"), "--out", str(out)]
    with pytest.raises(UserError, match=message) as error:
        report.main(args)
    assert str(error.value).isprintable()
    assert not out.exists()


def test_without_a_per_class_file_or_block_the_report_says_what_to_give(evaluations, tmp_path):
    evaluation = evaluations["full"]
    args = ["--metrics", str(evaluation / "metrics.json")]
    args += ["--top-confusions", str(evaluation / "top_confusions.json")]
    args += ["--figures", str(evaluation / "figures"), "--out", str(tmp_path / "report.html")]
    with pytest.raises(UserError, match=r"metrics\.json: has no per_class, and no per-class file"):
        report.main(args)
    assert not (tmp_path / "report.html").exists()


# --- the pipeline: DVC's views, its plots, and a baseline from before the file ---------


def dvc_output(repo: Path, *args: str, columns: int = 1000) -> str:
    """A dvc command's standard output, laid out for a terminal ``columns`` wide (wide
    enough: DVC then prints each table at its natural width)."""
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=repo,
        env={**environment(), "COLUMNS": str(columns)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args]
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    result = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, check=True)
    return result.stdout


@pytest.fixture(scope="module")
def project(reproduced_project, tmp_path_factory) -> Path:
    """The reproduced project with its outputs committed on ``main``, and a branch ``old``
    as a revision from before per_class.json: the per-class scores inside metrics.json
    and other predictions (a tenth of them moved to the next class)."""
    repo = copy_project(reproduced_project, tmp_path_factory.mktemp("per_class") / "project")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "outputs")
    git(repo, "checkout", "-q", "-b", "old")
    reports = repo / "reports"
    old_format(reports, repo / "old-reports")
    for name in ("metrics.json", "per_class.json"):
        (reports / name).unlink()
    shutil.copy(repo / "old-reports" / "metrics.json", reports / "metrics.json")
    shutil.rmtree(repo / "old-reports")
    lines = (repo / "data/predictions.csv").read_text().splitlines()
    for number in range(1, len(lines), 10):
        sample, actual, predicted, *rest = lines[number].split(",")
        lines[number] = ",".join([sample, actual, str((int(predicted) + 1) % 10), *rest])
    (repo / "data/predictions.csv").write_text("\n".join(lines) + "\n")
    git(repo, "commit", "-q", "-am", "before the per-class file")
    git(repo, "checkout", "-q", "main")
    return repo


def test_dvc_metrics_show_fits_in_200_columns(project):
    shown = dvc_output(project, "metrics", "show").splitlines()
    assert shown[0].split()[0] == "Path" and "per_class" not in shown[0]
    assert max(map(len, shown)) <= WIDTH, shown[0]
    headline = json.loads((project / "reports/metrics.json").read_text())
    assert shown[0].split()[1:] == sorted(headline)  # every key is a column


def test_compare_against_a_baseline_from_before_the_file_keeps_per_class_recall(project, tmp_path):
    classes = project / "data/prepared/classes.json"
    names = json.loads(classes.read_text())
    out = tmp_path / "comparison"
    argv = ["compare", str(project / "data/predictions.csv"), "old", "--classes", str(classes)]
    assert run(main, [*argv, "--out", str(out)]) == 0
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["baseline_commit"] == git(project, "rev-parse", "old").strip()

    def recall(text: str) -> np.ndarray:
        rows = [line.split(",")[1:3] for line in text.splitlines()[1:]]
        actual, predicted = np.array(rows, dtype=np.int64).T
        return skm.recall_score(actual, predicted, labels=range(10), average=None)

    new = recall((project / "data/predictions.csv").read_text())
    base = recall(git(project, "show", "old:data/predictions.csv"))
    assert any(new != base)
    for i, name in enumerate(names):
        row = comparison["per_class_recall"][name]
        assert row["new"] == pytest.approx(new[i]) and row["base"] == pytest.approx(base[i])

    # and the report of the new evaluation shows both the scores and their changes
    page = tmp_path / "report.html"
    argv = ["report", str(project / "reports"), "--comparison", str(out), "--out", str(page)]
    assert run(main, [*argv, "--classes", str(classes)]) == 0
    rows = json.loads((project / "reports/per_class.json").read_text())
    assert per_class_table(page) == table_of(rows)
    changes = {
        row[0]: row for row in Page(page.read_text(encoding="utf-8")).body("per-class-recall")
    }
    assert list(changes) == names
    for i, name in enumerate(names):
        assert changes[name][-1] == signed(new[i] - base[i])


def test_dvc_plots_draw_one_bar_per_class_per_revision(project, tmp_path):
    targets = ["--targets", *(f"Per-class {score}" for score in ("precision", "recall", "F1"))]
    plots = json.loads(dvc_output(project, "plots", "diff", "old", "main", "--json", *targets))
    plots = plots["data"]
    rows = json.loads((project / "reports/per_class.json").read_text())
    for title, score in (("Per-class recall", "recall"), ("Per-class F1", "f1")):
        (entry,) = plots[title]
        spec = entry["content"]
        assert spec["mark"]["type"] == "bar"
        assert spec["encoding"]["x"]["field"] == score
        assert spec["encoding"]["y"] == {**spec["encoding"]["y"], "field": "class"}
        assert spec["encoding"]["yOffset"]["field"] == "rev"  # revisions side by side
        drawn = [(v["rev"], v["class"], v[score]) for v in spec["data"]["values"]]
        # the old revision has no per_class.json: only main's bars, one per class
        assert drawn == [("main", row["class"], row[score]) for row in rows]
    page = tmp_path / "plots"
    dvc_output(project, "plots", "diff", "old", "main", "-o", str(page), *targets)
    html = (page / "index.html").read_text()
    assert all(f"Per-class {score}" in html for score in ("precision", "recall", "F1"))
