"""The ``digitwise`` command end to end: evaluate, compare, gate and report, their
standard output names, summaries, defaults and exit codes."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sklearn.metrics as skm
import yaml

from digitwise import params
from digitwise.cli import run
from digitwise.cli.evaluate import OUTPUTS
from digitwise.cli.main import main
from digitwise.predictions.schema import Predictions, to_csv

ROOT = Path(__file__).resolve().parents[1]
DIGITWISE = Path(sys.executable).with_name("digitwise")  # the console script
CLASSES = tuple(str(d) for d in range(10))


def predictions(n=300, *, seed=0, proba=True, flip=0.0):
    """A classifier about 85% right; ``flip`` of the rows predict the second best class."""
    rng = np.random.default_rng(seed)
    actual = rng.integers(0, 10, n)
    logits = rng.normal(size=(n, 10))
    logits[np.arange(n), actual] += 2.5
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


def binned_gap(score, hit, n_bins=15):
    """The count-weighted mean |mean score - mean hit| over equal-width bins, by a loop,
    each score binned as ``sklearn.calibration.calibration_curve`` bins it (an edge
    belongs to the bin below)."""
    edges = np.linspace(0, 1, n_bins + 1)
    total = 0.0
    for b in range(n_bins):
        inside = np.searchsorted(edges[1:-1], score) == b
        if inside.any():
            total += inside.sum() * abs(score[inside].mean() - hit[inside].mean())
    return total / len(score)


def calibration_errors(given):
    """(top-label ECE, classwise ECE: the mean over classes of each one-vs-rest's)."""
    top = binned_gap(given.proba.max(axis=1), given.proba.argmax(axis=1) == given.actual)
    classes = range(given.proba.shape[1])
    classwise = np.mean([binned_gap(given.proba[:, k], given.actual == k) for k in classes])
    return top, classwise


@pytest.fixture
def inputs(tmp_path):
    classes = tmp_path / "classes.json"
    classes.write_text(json.dumps(list(range(10))))  # as clf.classes_.tolist() gives
    return tmp_path, classes


def digitwise(*args, capsys):
    """Run in this process (the console script costs an interpreter start per call)."""
    try:
        code = run(main, [str(arg) for arg in args])
    except SystemExit as exit:  # the gate's verdict "refused"
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


def test_the_console_script_has_help_for_every_subcommand():
    for args in ([], ["evaluate"], ["compare"], ["gate"], ["report"]):
        result = subprocess.run(
            [DIGITWISE, *args, "--help"], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("usage: digitwise")
    missing = subprocess.run([DIGITWISE, "evaluate"], capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "--classes" in missing.stderr


def test_evaluate_writes_standard_names_and_prints_its_summary(inputs, capsys):
    tmp_path, classes = inputs
    given = predictions()
    (tmp_path / "p.csv").write_text(to_csv(given))
    code, out, err = digitwise(
        "evaluate",
        tmp_path / "p.csv",
        "--classes",
        classes,
        "--out",
        tmp_path / "out",
        capsys=capsys,
    )
    assert code == 0, err
    assert err == ""
    written = sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")
    )
    assert written == sorted([*OUTPUTS.values(), "figures"])
    metrics = json.loads((tmp_path / "out/metrics.json").read_text())
    intervals = json.loads((tmp_path / "out/intervals.json").read_text())
    accuracy = skm.accuracy_score(given.actual, given.predicted)
    assert metrics["accuracy"] == pytest.approx(accuracy)
    low, high = intervals["accuracy"]["low"], intervals["accuracy"]["high"]
    first = out.splitlines()[0]
    assert first.startswith(
        f"accuracy {accuracy:.4f} (95% interval {low:.4f} to {high:.4f}) on 300 samples"
    )
    # the most frequent off-diagonal cell, from sklearn's matrix, is named first
    counts = skm.confusion_matrix(given.actual, given.predicted, labels=range(10))
    np.fill_diagonal(counts, 0)
    true, pred = np.unravel_index(np.argmax(counts), counts.shape)
    ece, classwise = calibration_errors(given)
    assert out.splitlines()[1].endswith(
        f"; calibration error (ECE) {ece:.4f}, classwise {classwise:.4f}"
    )
    confusions = out.splitlines()[2]
    assert confusions.startswith(f"top confusions: {true} as {pred}: {counts.max()} (")
    assert "predicted_not_argmax" not in metrics  # written only when not 0
    assert len(out.splitlines()) == 3


def test_label_only_predictions_get_every_label_output_and_a_note(inputs, capsys):
    tmp_path, classes = inputs
    given = predictions(proba=False)
    (tmp_path / "p.csv").write_text(to_csv(given))
    assert to_csv(given).splitlines()[0] == "sample,actual,predicted"
    code, out, err = digitwise(
        "evaluate",
        tmp_path / "p.csv",
        "--classes",
        classes,
        "--out",
        tmp_path / "out",
        capsys=capsys,
    )
    assert code == 0, err
    metrics = json.loads((tmp_path / "out/metrics.json").read_text())
    for absent in ("log_loss", "top_2_accuracy", "auc_ovo_m", "predicted_not_argmax"):
        assert absent not in metrics
    assert "note" not in metrics  # numbers only: the note is in pairwise.json
    assert metrics["f1_macro"] == pytest.approx(
        skm.f1_score(given.actual, given.predicted, average="macro")
    )
    intervals = json.loads((tmp_path / "out/intervals.json").read_text())
    assert set(intervals) == {"accuracy", "balanced_accuracy", "f1_macro"}
    pairwise = json.loads((tmp_path / "out/pairwise.json").read_text())
    assert "pairwise_auc" not in pairwise and pairwise["note"].startswith("no proba_ columns")
    # the label-based matrix, from its definition for one pair
    a, b = 3, 8
    kept = np.isin(given.actual, [a, b]) & np.isin(given.predicted, [a, b])
    share = np.mean(given.actual[kept] == given.predicted[kept])
    assert pairwise["pairwise_label_accuracy"][a][b] == pytest.approx(share)
    assert pairwise["note"] in out
    for figure in ("confusion_counts", "confusion_normalized", "pairwise_accuracy"):
        assert (tmp_path / f"out/figures/{figure}.png").read_bytes()[:4] == b"\x89PNG"

    code, _, err = digitwise("report", tmp_path / "out", "--classes", classes, capsys=capsys)
    assert code == 0, err
    page = (tmp_path / "out/report.html").read_text()
    assert "no proba_ columns" in page and "Log loss" not in page


def test_csv_and_parquet_shards_give_identical_outputs(inputs, capsys):
    tmp_path, classes = inputs
    given = predictions(seed=1)
    (tmp_path / "p.csv").write_text(to_csv(given))
    shards = tmp_path / "shards"
    shards.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(300), 4)):
        pq.write_table(
            pa.table(
                {
                    "sample": given.sample[rows],
                    "actual": given.actual[rows],  # integers: read as the names "0".."9"
                    "predicted": [CLASSES[c] for c in given.predicted[rows]],
                    **{f"proba_{c}": given.proba[rows, j] for j, c in enumerate(CLASSES)},
                }
            ),
            shards / f"part-{i:02d}.parquet",
        )
    for source, out in ((tmp_path / "p.csv", "a"), (shards, "b")):
        code, _, err = digitwise(
            "evaluate", source, "--classes", classes, "--out", tmp_path / out, capsys=capsys
        )
        assert code == 0, err
    for relative in OUTPUTS.values():
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()


def test_predictions_that_are_not_the_argmax_warn_once_with_their_share(inputs, capsys):
    tmp_path, classes = inputs
    given = predictions(flip=0.1)
    (tmp_path / "p.csv").write_text(to_csv(given))
    code, _, err = digitwise(
        "evaluate",
        tmp_path / "p.csv",
        "--classes",
        classes,
        "--out",
        tmp_path / "out",
        capsys=capsys,
    )
    assert code == 0
    share = np.mean(given.predicted != given.proba.argmax(axis=1))
    assert 0 < share < 1
    assert err.count("\n") == 1
    assert err.startswith(f"warning: for {share:.2%} of the rows, predicted is not the most")
    metrics = json.loads((tmp_path / "out/metrics.json").read_text())
    assert metrics["predicted_not_argmax"] == pytest.approx(share)


def test_omitted_params_are_the_documented_defaults():
    documented = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert vars(params.EVALUATE_DEFAULTS) == documented["evaluate"]
    assert vars(params.GATE_DEFAULTS) == documented["gate"]


def test_compare_gate_and_report_on_the_evaluate_directories(inputs, capsys):
    tmp_path, classes = inputs
    new, base = predictions(seed=2), predictions(seed=2, flip=0.3)
    pq.write_table(
        pa.table(
            {
                "sample": new.sample,
                "actual": [CLASSES[c] for c in new.actual],
                "predicted": [CLASSES[c] for c in new.predicted],
            }
        ),
        tmp_path / "new.parquet",
    )
    (tmp_path / "base.csv").write_text(to_csv(base))
    code, out, err = digitwise(
        "compare", tmp_path / "new.parquet", tmp_path / "base.csv", "--classes", classes,
        "--out", tmp_path / "cmp", capsys=capsys,
    )  # fmt: skip
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "cmp").iterdir()) == [
        "comparison.json",
        "confusion_delta.png",
        "summary.md",
    ]
    report = json.loads((tmp_path / "cmp/comparison.json").read_text())
    right_new, right_base = new.predicted == new.actual, base.predicted == base.actual
    gain = (right_new & ~right_base).sum() - (~right_new & right_base).sum()
    assert report["accuracy"]["difference"] == pytest.approx(gain / 300)
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(
        f"accuracy {right_new.mean():.4f} against {right_base.mean():.4f} for "
    )
    assert re.match(
        r"McNemar's exact test: p = \S+; \d+ right only in the new predictions", lines[1]
    )

    code, _, err = digitwise(
        "evaluate", tmp_path / "new.parquet", "--classes", classes, "--out", tmp_path / "ev",
        capsys=capsys,
    )  # fmt: skip
    assert code == 0, err
    # the defaults want 0.95; this model is about 0.85, so the gate refuses
    code, out, err = digitwise(
        "gate", tmp_path / "ev", "--comparison", tmp_path / "cmp", capsys=capsys
    )
    assert code == 1 and "below the minimum 0.9500" in err
    lenient = tmp_path / "params.yaml"
    documented = yaml.safe_load((ROOT / "params.yaml").read_text())
    documented["gate"]["min_accuracy"] = 0.5
    lenient.write_text(yaml.safe_dump(documented))
    code, out, err = digitwise(
        "gate", tmp_path / "ev/metrics.json", "--comparison", tmp_path / "cmp", "--params", lenient,
        capsys=capsys,
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith("gate: passed")

    code, _, err = digitwise(
        "report", tmp_path / "ev", "--comparison", tmp_path / "cmp", "--out", tmp_path / "r.html",
        capsys=capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "Baseline: <code>" in (tmp_path / "r.html").read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("sample;actual;predicted\n1;3;3\n", r"p\.csv: fields are separated by semicolons"),
        ("sample,actual,predicted\n1,3,3\n2,11,3\n", r"p\.csv, line 3: actual '11' is not in"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(inputs, content, message):
    tmp_path, classes = inputs
    (tmp_path / "p.csv").write_text(content)
    result = subprocess.run(
        [
            DIGITWISE,
            "evaluate",
            tmp_path / "p.csv",
            "--classes",
            classes,
            "--out",
            tmp_path / "out",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and re.search(message, result.stderr)
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_output_that_is_an_input_is_refused_before_anything_is_written(inputs, capsys):
    tmp_path, classes = inputs
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "part-0.csv").write_text(to_csv(predictions()))
    (tmp_path / "out").mkdir()
    (tmp_path / "out/metrics.json").write_text(to_csv(predictions()))
    for source, out, message in [
        (shards, shards, r"is inside the input directory"),
        (tmp_path / "out/metrics.json", tmp_path / "out", r"metrics\.json: is also an input"),
    ]:
        before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
        code, _, err = digitwise(
            "evaluate", source, "--classes", classes, "--out", out, capsys=capsys
        )
        assert code == 2 and re.search(message, err) and err.count("\n") == 1
        assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_a_revision_baseline_of_a_shard_directory_is_one_line(inputs, capsys):
    tmp_path, classes = inputs
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "part-0.csv").write_text(to_csv(predictions()))
    code, _, err = digitwise(
        "compare", shards, "HEAD", "--classes", classes, "--out", tmp_path / "c", capsys=capsys
    )
    assert code == 2 and "give the baseline's predictions as a path" in err


def test_control_characters_in_a_path_are_escaped_in_the_error(inputs, capsys):
    tmp_path, classes = inputs
    code, _, err = digitwise(
        "evaluate", tmp_path / "bad\nname\x1b.csv", "--classes", classes, "--out", tmp_path / "o",
        capsys=capsys,
    )  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and "\x1b" not in err and "bad\\nname\\x1b" in err
