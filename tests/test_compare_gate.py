"""Comparing against a baseline (McNemar, paired bootstrap, compare) and the regression gate."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest
from sklearn.metrics import recall_score

from digitwise.cli.main import main as digitwise
from digitwise.comparison import compare as comparison
from digitwise.comparison import gate as rules
from digitwise.errors import UserError
from digitwise.figures import heatmaps
from digitwise.metrics.significance import (
    McNemar,
    binomial_two_sided_p,
    mcnemar_exact,
    paired_bootstrap_difference,
)
from digitwise.params import GateParams
from digitwise.predictions.reading import read_predictions
from digitwise.predictions.schema import Predictions, to_csv

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
CLASSES = ("a", "b", "c")

# --- McNemar's exact test ---------------------------------------------------------------


def flags(b: int, c: int, both: int = 3, neither: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Correctness flags with b samples right only in new, c only in base, and some
    concordant samples (which the test must ignore)."""
    new = [True] * b + [False] * c + [True] * both + [False] * neither
    base = [False] * b + [True] * c + [True] * both + [False] * neither
    return np.array(new), np.array(base)


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [
        # n = b + c discordant pairs, k = min(b, c), p = 2 * sum_{i<=k} C(n, i) / 2^n
        (1, 5, 2 * (1 + 6) / 64),  # n=6:  C(6,0)+C(6,1) = 1+6 = 7       -> 14/64 = 0.21875
        (8, 2, 2 * (1 + 10 + 45) / 1024),  # n=10: 1+10+45 = 56     -> 112/1024 = 0.109375
        (0, 10, 2 * 1 / 1024),  # n=10: only C(10,0) = 1                 -> 2/1024
        (2, 13, 2 * (1 + 15 + 105) / 32768),  # n=15: 1+15+105 = 121 -> 242/32768
        (3, 4, 1.0),  # n=7, k=3: P[X<=3] = 1/2 by symmetry, so 2 * 1/2 = 1
        (4, 4, 1.0),  # b = c: P[X<=4] > 1/2, capped at 1
        (0, 0, 1.0),  # no discordant pairs: no evidence either way
        (0, 1, 1.0),  # n=1: P[X<=0] = 1/2 -> 1
    ],
)
def test_mcnemar_matches_a_hand_computation(b, c, expected):
    result = mcnemar_exact(*flags(b, c))
    assert (result.n_new_only, result.n_base_only) == (b, c)
    assert result.p_value == pytest.approx(expected, rel=1e-12)
    assert isinstance(result, McNemar)


large = st.integers(0, 10**6)
near_balance = st.tuples(large, st.integers(-3000, 3000)).map(
    lambda pair: (pair[0], max(0, pair[0] + pair[1]))
)


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.tuples(st.integers(0, 60), st.integers(0, 60)), st.tuples(large, large), near_balance
    )
)
def test_mcnemar_p_value_equals_scipys_binomial_test(pair):
    b, c = pair
    ours = binomial_two_sided_p(min(b, c), b + c)
    theirs = binomtest(min(b, c), b + c, 0.5).pvalue if b + c else 1.0
    if theirs > 1e-250:
        # lgamma of numbers near 10^7 limits the agreement to ~1e-8 relative
        assert math.isclose(ours, theirs, rel_tol=1e-7), (b, c, ours, theirs)
    else:  # scipy gives 0 below ~1e-300, where the exact value may still be a double
        assert ours < 1e-250, (b, c, ours, theirs)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 1500), st.integers(0, 1500))
def test_mcnemar_p_value_equals_exact_integer_arithmetic(b, c):
    k, n = min(b, c), b + c
    # a ratio of Python integers converts to the nearest double; below 1e-290 doubles
    # lose precision (subnormals), so only absolute agreement is asked there
    exact = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)
    assert math.isclose(binomial_two_sided_p(k, n), exact, rel_tol=1e-11, abs_tol=1e-290)


def test_mcnemar_refuses_non_boolean_or_unequal_inputs():
    with pytest.raises(ValueError, match="bool"):
        mcnemar_exact(np.array([1, 0]), np.array([True, False]))
    with pytest.raises(ValueError, match="same shape"):
        mcnemar_exact(np.array([True]), np.array([True, False]))


# --- paired bootstrap -------------------------------------------------------------------


def random_case(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    new = np.where(rng.random(n) < 0.85, y, (y + 1) % 3)
    base = np.where(rng.random(n) < 0.80, y, (y + 2) % 3)
    return y, new, base


def test_paired_bootstrap_is_seeded_and_reproducible():
    y, new, base = random_case(200)
    first = paired_bootstrap_difference(y, new, base, n_resamples=300, seed=5)
    again = paired_bootstrap_difference(y, new, base, n_resamples=300, seed=5)
    other = paired_bootstrap_difference(y, new, base, n_resamples=300, seed=6)
    assert np.array(first).tobytes() == np.array(again).tobytes()
    assert first[0] == other[0]  # the observed difference does not depend on the seed
    assert first[1:] != other[1:]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_paired_bootstrap_interval_contains_the_observed_difference(seed):
    y, new, base = random_case(300, seed)
    difference, low, high = paired_bootstrap_difference(y, new, base, n_resamples=500, seed=seed)
    assert difference == pytest.approx(np.mean(new == y) - np.mean(base == y), abs=1e-15)
    assert low < difference < high


def test_paired_bootstrap_agrees_with_a_plain_row_loop():
    """Resample the same rows for both models and score each with a Python loop: the
    textbook bootstrap, which the multinomial over the 2 x 2 table must match in law."""
    y, new, base = random_case(37)  # odd, so no reliance on whole 64-bit words
    n, resamples, level = len(y), 4000, 0.9
    rng = np.random.default_rng(11)
    differences = []
    for _ in range(resamples):
        rows = rng.integers(0, n, size=n)
        right_new = sum(int(new[i] == y[i]) for i in rows)
        right_base = sum(int(base[i] == y[i]) for i in rows)
        differences.append(right_new / n - right_base / n)
    low, high = np.quantile(differences, [0.05, 0.95])
    got = paired_bootstrap_difference(y, new, base, n_resamples=resamples, seed=12, level=level)
    assert got[0] == pytest.approx(np.mean(new == y) - np.mean(base == y), abs=1e-15)
    # Both estimate the same quantiles of a distribution on the multiples of 1/n; with
    # 4000 resamples a side, the tail's empirical CDF is off by ~0.0035, well below the
    # ~0.025 mass of a lattice point there: each estimate lies within a step of the
    # true quantile, so the two within two steps (the interval is ~12 steps wide).
    assert got[1] == pytest.approx(low, abs=2 / n + 1e-12)
    assert got[2] == pytest.approx(high, abs=2 / n + 1e-12)


def test_paired_bootstrap_handles_a_hundred_thousand_samples():
    y, new, base = random_case(100_000)
    difference, low, high = paired_bootstrap_difference(y, new, base, n_resamples=1000, seed=0)
    # two accuracies ~0.85 and ~0.80 on 10^5 samples: the interval is about +-0.0035 wide
    assert low < difference < high and high - low < 0.01


def test_identical_models_have_a_zero_width_interval():
    y, new, _ = random_case(50)
    assert paired_bootstrap_difference(y, new, new, n_resamples=100, seed=0) == (0.0, 0.0, 0.0)


# --- compare: inputs ----------------------------------------------------------------------


def predictions(ids, actual, predicted, classes=CLASSES) -> Predictions:
    index = {name: i for i, name in enumerate(classes)}
    predicted_idx = np.array([index[p] for p in predicted])
    proba = np.full((len(ids), len(classes)), 0.0)
    proba[np.arange(len(ids)), predicted_idx] = 1.0
    return Predictions(
        sample=np.array(ids, dtype=np.int64),
        actual=np.array([index[a] for a in actual], dtype=np.int64),
        predicted=predicted_idx.astype(np.int64),
        proba=proba,
        classes=tuple(classes),
    )


IDS = list(range(1, 11))
ACTUAL = list("aaaabbbccc")
BASE = list("aaabbbaccc")  # right: 1-3, 5, 6, 8-10: 8 of 10
NEW = list("aaaabcaccb")  # right: 1-4, 5, 8, 9: 7 of 10


@pytest.fixture
def files(tmp_path, write_params):
    """params (100 resamples), classes, and the hand-made new and baseline predictions."""
    params = write_params({"evaluate.bootstrap_resamples": 100, "evaluate.bootstrap_seed": 3})
    classes = tmp_path / "classes.json"
    classes.write_text(json.dumps(list(CLASSES)))
    new = tmp_path / "new.csv"
    new.write_text(to_csv(predictions(IDS, ACTUAL, NEW)))
    base = tmp_path / "base.csv"
    base.write_text(to_csv(predictions(IDS, ACTUAL, BASE)))
    return {"params": params, "classes": classes, "new": new, "base": base}


def gate_args(args) -> list[str]:
    """The gate's arguments as ``--metrics M ...``: the metrics file goes first."""
    args = list(args)
    at = args.index("--metrics")
    metrics = args[at + 1]
    del args[at : at + 2]
    return [metrics, *args]


def gate_main(args) -> None:
    digitwise(["gate", *gate_args(args)])


def compare_args(files, out: Path, *, baseline=None, predictions=None) -> list[str]:
    """``digitwise compare`` with the files of ``files``, writing under ``out``."""
    return [
        "compare",
        str(predictions or files["new"]),
        str(baseline or files["base"]),
        "--params",
        str(files["params"]),
        "--classes",
        str(files["classes"]),
        "--out",
        str(out),
    ]


def test_compare_refuses_different_samples_and_writes_nothing(files, tmp_path):
    # ids 21, 22 replace 9, 10 in the baseline
    files["base"].write_text(to_csv(predictions([*IDS[:8], 21, 22], ACTUAL, BASE)))
    out = tmp_path / "out"
    expected = (
        f"{files['new']} and baseline {files['base']}: held-out samples differ: "
        "2 ids only in the baseline, e.g. 21; 2 ids only in the new predictions, e.g. 9 "
        "(compare predictions made on the same split)"
    )
    with pytest.raises(UserError) as error:
        digitwise(compare_args(files, out))
    assert str(error.value) == expected
    assert not out.exists()


def test_compare_refuses_different_labels_for_the_same_samples(files, tmp_path):
    relabelled = list(ACTUAL)
    relabelled[2] = "c"  # sample 3
    files["base"].write_text(to_csv(predictions(IDS, relabelled, BASE)))
    out = tmp_path / "out"
    with pytest.raises(UserError) as error:
        digitwise(compare_args(files, out))
    assert str(error.value) == (
        f"{files['new']} and baseline {files['base']}: actual labels differ for 1 sample, "
        "e.g. sample 3: 'c' in the baseline, 'a' in the new predictions"
    )
    assert not out.exists()


def test_compare_pairs_rows_by_sample_id_not_by_position(files, tmp_path):
    shuffled = predictions(IDS[::-1], ACTUAL[::-1], BASE[::-1])
    files["base"].write_text(to_csv(shuffled))
    digitwise(compare_args(files, tmp_path / "shuffled"))
    files["base"].write_text(to_csv(predictions(IDS, ACTUAL, BASE)))
    digitwise(compare_args(files, tmp_path / "ordered"))
    for name in ("comparison.json", "summary.md", "confusion_delta.png"):
        shuffled_bytes = (tmp_path / "shuffled" / name).read_bytes()
        assert shuffled_bytes == (tmp_path / "ordered" / name).read_bytes(), name


# --- compare: the baseline from git --------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    environment = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.com"]
    return subprocess.run(
        ["git", *identity, *args], cwd=repo, env=environment, check=True, capture_output=True
    ).stdout.decode()


@pytest.fixture
def repo(tmp_path, files):
    """A git repository whose HEAD holds the baseline as data/predictions.csv, and whose
    working tree holds the new predictions at the same path."""
    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    git(root, "init", "-q")
    tracked = root / "data" / "predictions.csv"
    tracked.write_bytes(files["base"].read_bytes())
    git(root, "add", "data/predictions.csv")
    git(root, "commit", "-q", "-m", "baseline")
    tracked.write_bytes(files["new"].read_bytes())
    return root


def test_compare_reads_the_baseline_from_a_git_revision(files, repo, tmp_path):
    by_git, by_path = tmp_path / "by_git", tmp_path / "by_path"
    tracked = repo / "data" / "predictions.csv"
    digitwise(compare_args(files, by_git, baseline="HEAD", predictions=tracked))
    digitwise(compare_args(files, by_path, predictions=tracked))
    from_git = json.loads((by_git / "comparison.json").read_text())
    from_path = json.loads((by_path / "comparison.json").read_text())
    assert from_git["baseline"] == "HEAD"
    assert from_git["baseline_commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert from_git["baseline_source"] == "HEAD:data/predictions.csv"
    assert from_path["baseline"] == from_path["baseline_source"] == str(files["base"])
    assert from_path["baseline_commit"] is None
    provenance = ("baseline", "baseline_commit", "baseline_source")
    assert {k: v for k, v in from_git.items() if k not in provenance} == {
        k: v for k, v in from_path.items() if k not in provenance
    }
    assert from_git["accuracy"]["base"] == 0.8 and from_git["accuracy"]["new"] == 0.7


def test_compare_names_a_bad_revision_or_a_file_missing_from_it(files, repo, tmp_path):
    tracked = repo / "data" / "predictions.csv"
    out = tmp_path / "out"
    with pytest.raises(UserError) as error:
        digitwise(compare_args(files, out, baseline="no-such-branch", predictions=tracked))
    assert str(error.value) == (
        "baseline no-such-branch: not an existing file, nor a revision of the git repository "
        f"at {repo.resolve()} to read data/predictions.csv from"
    )
    untracked = repo / "data" / "other.csv"
    untracked.write_bytes(files["new"].read_bytes())
    with pytest.raises(UserError) as error:
        digitwise(compare_args(files, out, baseline="HEAD", predictions=untracked))
    sha = git(repo, "rev-parse", "HEAD").strip()
    assert str(error.value) == (
        f"baseline HEAD: data/other.csv is not in that revision ({sha[:12]}); "
        "was it committed there?"
    )
    assert not out.exists()


def test_a_revision_needs_the_predictions_inside_a_git_repository(files, tmp_path):
    with pytest.raises(UserError) as error:
        digitwise(compare_args(files, tmp_path / "out", baseline="HEAD~1"))
    assert str(error.value).startswith(
        f"baseline HEAD~1: not an existing file, and {files['new']} is not in a git "
        "repository to read a revision from (fatal: not a git repository"
    )


def test_a_bad_committed_file_is_named_by_revision_and_path(files, repo, tmp_path):
    tracked = repo / "data" / "predictions.csv"
    tracked.write_text("sample,actual\n1,a\n")
    git(repo, "commit", "-q", "-am", "broken")
    tracked.write_bytes(files["new"].read_bytes())
    with pytest.raises(UserError, match=r"^HEAD:data/predictions.csv: missing column 'predicted'"):
        digitwise(compare_args(files, tmp_path / "out", baseline="HEAD", predictions=tracked))


# --- compare: what it computes and writes --------------------------------------------------


def test_per_class_recall_changes_equal_scikit_learns():
    classes = tuple(str(i) for i in range(28))
    new = read_predictions(DATA / "predictions_28.csv", classes)
    rng = np.random.default_rng(0)
    flipped = np.where(rng.random(new.sample.size) < 0.3, rng.integers(0, 28, new.sample.size), 0)
    base_predicted = (new.predicted + flipped) % 28
    base = Predictions(new.sample, new.actual, base_predicted, new.proba, classes)
    baseline = comparison.Baseline(base, ref="x", commit=None, source="x")
    report = comparison.comparison_report(new, baseline, n_resamples=100, seed=0, limit=5)
    labels = list(range(28))  # class 27 never occurs: recall 0 for both
    expected_new = recall_score(
        new.actual, new.predicted, labels=labels, average=None, zero_division=0
    )
    expected_base = recall_score(
        new.actual, base_predicted, labels=labels, average=None, zero_division=0
    )
    for i, name in enumerate(classes):
        row = report["per_class_recall"][name]
        assert row["new"] == pytest.approx(expected_new[i], abs=1e-12)
        assert row["base"] == pytest.approx(expected_base[i], abs=1e-12)
        assert row["difference"] == pytest.approx(expected_new[i] - expected_base[i], abs=1e-12)
    changes = [abs(row["difference"]) for row in report["changed_confusions"]]
    assert len(changes) == 5 and changes == sorted(changes, reverse=True)


def test_compare_writes_the_hand_made_case(files, tmp_path):
    out = tmp_path / "out"
    digitwise(compare_args(files, out))
    report = json.loads((out / "comparison.json").read_text())
    accuracy = report["accuracy"]
    assert (accuracy["base"], accuracy["new"], accuracy["difference"]) == (0.8, 0.7, -0.1)
    assert report["mcnemar"] == {"n_new_only": 1, "n_base_only": 2, "p_value": 1.0}
    assert report["bootstrap"] == {"level": 0.95, "resamples": 100, "seed": 3}
    assert report["n_samples"] == 10
    # base: a->b once (sample 4), b->a once (7); new: b->c (6), b->a (7), c->b (10)
    assert [
        (row["actual"], row["predicted"], row["new"], row["base"], row["difference"])
        for row in report["changed_confusions"]
    ] == [("a", "b", 0, 1, -1), ("b", "c", 1, 0, 1), ("c", "b", 1, 0, 1)]
    low, high = accuracy["low"], accuracy["high"]
    assert low <= -0.1 <= high
    assert (
        (out / "summary.md").read_text()
        == f"""\
## Predictions compared with `{files["base"]}`

10 held-out samples; new: `{files["new"]}`, baseline: `{files["base"]}`.

| metric | baseline | new | difference | 95% CI |
|---|---:|---:|---:|---|
| accuracy | 0.8000 | 0.7000 | -0.1000 | [{low:+.4f}, {high:+.4f}] |

McNemar's exact test: 1 sample right only in the new predictions, 2 right only in the \
baseline; p = 1.0000.

### Per-class recall changes

| class | support | baseline | new | difference |
|---|---:|---:|---:|---:|
| a | 4 | 0.7500 | 1.0000 | +0.2500 |
| b | 3 | 0.6667 | 0.3333 | -0.3333 |
| c | 3 | 1.0000 | 0.6667 | -0.3333 |

### Confusions that changed most

| true | predicted | baseline | new | difference |
|---|---|---:|---:|---:|
| a | b | 1 | 0 | -1 |
| b | c | 0 | 1 | +1 |
| c | b | 0 | 1 | +1 |
"""
    )
    assert (out / "confusion_delta.png").read_bytes().startswith(b"\x89PNG")


def test_identical_predictions_say_that_nothing_changed(files, tmp_path):
    out = tmp_path / "out"
    copy = tmp_path / "same.csv"
    copy.write_bytes(Path(files["new"]).read_bytes())
    digitwise(compare_args(files, out, baseline=copy))
    summary = (out / "summary.md").read_text()
    assert "| accuracy | 0.7000 | 0.7000 | +0.0000 | [+0.0000, +0.0000] |" in summary
    assert "No class's recall changed." in summary and "No confusion cell changed." in summary


def test_the_predictions_file_itself_is_no_baseline(files, tmp_path):
    with pytest.raises(UserError, match=r"is the predictions file itself"):
        digitwise(compare_args(files, tmp_path / "out", baseline=files["new"]))
    assert not (tmp_path / "out").exists()


def test_delta_heatmap_is_centred_on_zero_and_labels_changed_cells():
    base = np.array([[8, 2, 0], [1, 4, 0], [0, 0, 5]])
    new = np.array([[9, 0, 1], [1, 4, 0], [0, 3, 2]])
    figure = heatmaps.confusion_delta_heatmap(new, base, ["x", "y", "z"], ref="main")
    ax, colorbar = figure.axes
    mesh = ax.collections[0]
    assert mesh.get_cmap().name == "RdBu_r"
    # largest change: row z, 3 of 5 moved from z to y: 0.6
    assert mesh.get_clim() == pytest.approx((-0.6, 0.6))
    assert colorbar.get_ylabel() == "new \N{MINUS SIGN} baseline share of the true class"
    assert ax.get_title().startswith("Confusion change vs main")
    assert [t.get_text() for t in ax.texts] == [
        "+0.10\n+1", "-0.20\n-2", "+0.10\n+1",
        "", "", "",
        "", "+0.60\n+3", "-0.60\n-3",
    ]  # fmt: skip


def test_delta_heatmap_sizes_like_the_other_heatmaps():
    from digitwise.figures import heatmaps

    for n_classes in (28, 100):
        rng = np.random.default_rng(n_classes)
        counts = rng.integers(0, 5, size=(n_classes, n_classes)) + 50 * np.eye(n_classes, dtype=int)
        moved = counts.copy()
        moved[:, 0] += 1
        moved[np.arange(n_classes), np.arange(n_classes)] -= 1
        names = [str(i) for i in range(n_classes)]
        figure = heatmaps.confusion_delta_heatmap(moved, counts, names, ref="HEAD~1")
        reference = heatmaps.confusion_counts_heatmap(counts, names)
        assert tuple(figure.get_size_inches()) == tuple(reference.get_size_inches())
        texts = [t.get_text() for t in figure.axes[0].texts if t.get_text()]
        # one sample of each class moved to class 0: 2 changed cells per row but row 0
        assert len(texts) == (2 * (n_classes - 1) if n_classes <= 40 else 0)


def test_a_zero_change_keeps_a_valid_centred_scale():
    counts = np.array([[3, 1], [0, 4]])
    ax, _ = heatmaps.confusion_delta_heatmap(counts, counts, ["p", "q"], ref="v1").axes
    assert ax.collections[0].get_clim() == (-0.01, 0.01)
    assert all(t.get_text() == "" for t in ax.texts)


# --- the gate -----------------------------------------------------------------------------

SETTINGS = GateParams(min_accuracy=0.95, max_accuracy_drop=0.01, alpha=0.05)


def comparison_of(n: int, right_base: int, b: int, c: int, p: float) -> rules.Comparison:
    return rules.Comparison(
        baseline="main",
        n_samples=n,
        accuracy_new=(right_base + b - c) / n,
        accuracy_base=right_base / n,
        n_new_only=b,
        n_base_only=c,
        p_value=p,
    )


def test_gate_passes_with_one_summary_line():
    # 435 -> 436 right of 450 (b=3, c=2): +0.0022, McNemar n=5, k=2: P = 1/2 -> p = 1
    comparison = comparison_of(450, 435, 3, 2, 1.0)
    verdict = rules.judge(436 / 450, comparison, SETTINGS)
    assert verdict == rules.Verdict(
        passed=True,
        lines=(
            "gate: passed (accuracy 0.9689 >= 0.9500; change vs main +0.0022, McNemar p = 1.0000)",
        ),
    )
    assert rules.judge(0.97, None, SETTINGS).lines == (
        "gate: passed (accuracy 0.9700 >= 0.9500; no baseline comparison)",
    )


def test_gate_fails_on_low_accuracy_and_on_a_significant_drop():
    # 436 -> 425 right of 450 (b=2, c=13): drop 11/450 = 0.0244, p = 242/32768 = 0.0074
    comparison = comparison_of(450, 436, 2, 13, 242 / 32768)
    verdict = rules.judge(425 / 450, comparison, SETTINGS)
    assert verdict == rules.Verdict(
        passed=False,
        lines=(
            "gate: accuracy 0.9444 is below the minimum 0.9500",
            "gate: accuracy dropped by 0.0244 (0.9689 -> 0.9444), more than 0.0100, "
            "significant at alpha 0.05 (McNemar p = 0.0074)",
        ),
    )


def test_a_large_drop_that_is_not_significant_passes_and_says_why():
    loose = GateParams(min_accuracy=0.9, max_accuracy_drop=0.01, alpha=0.005)
    comparison = comparison_of(450, 436, 2, 13, 242 / 32768)
    assert rules.judge(425 / 450, comparison, loose).lines == (
        "gate: passed (accuracy 0.9444 >= 0.9000; change vs main -0.0244, McNemar p = 0.0074, "
        "not significant at alpha 0.005)",
    )


def test_a_drop_of_exactly_the_threshold_is_not_more_than_it():
    # 93 -> 86 of 100: in floats 0.93 - 0.86 = 0.07000000000000006 > 0.07; from counts, 7/100
    strict = GateParams(min_accuracy=0.5, max_accuracy_drop=0.07, alpha=0.05)
    comparison = comparison_of(100, 93, 0, 7, 2 / 128)
    assert rules.judge(0.86, comparison, strict).passed


def test_a_tiny_p_value_is_not_shown_as_zero():
    # 450 -> 420 right of 450 (b=0, c=30): p = 2 / 2^30
    comparison = comparison_of(450, 450, 0, 30, 2 / 2**30)
    assert rules.judge(420 / 450, comparison, SETTINGS).lines[-1] == (
        "gate: accuracy dropped by 0.0667 (1.0000 -> 0.9333), more than 0.0100, "
        "significant at alpha 0.05 (McNemar p = 1.9e-09)"
    )


def test_gate_shows_more_digits_when_four_would_hide_the_difference():
    assert rules.judge(0.94996, None, SETTINGS).lines == (
        "gate: accuracy 0.94996 is below the minimum 0.95000",
    )


def write_json(path: Path, payload) -> Path:
    path.write_text(json.dumps(payload))
    if path.name == "metrics.json":  # and the evaluation's record of its predictions
        (path.parent / "confusion.json").write_text(json.dumps({"predictions_sha256": DIGEST}))
    return path


DIGEST, OTHER_DIGEST = "a1" * 32, "b2" * 32  # content digests of the new and other predictions


def comparison_payload(n=450, right_base=436, b=2, c=13, p=242 / 32768, new=DIGEST) -> dict:
    return {
        "baseline": "main",
        "n_samples": n,
        "accuracy": {"new": (right_base + b - c) / n, "base": right_base / n},
        "mcnemar": {"n_new_only": b, "n_base_only": c, "p_value": p},
        "predictions_sha256": {"new": new, "baseline": OTHER_DIGEST},
    }


def run_gate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "digitwise.cli.main", "gate", *gate_args(args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def test_gate_command_exit_codes_and_streams(tmp_path):
    params = ROOT / "params.yaml"
    metrics = write_json(tmp_path / "metrics.json", {"accuracy": 425 / 450, "n_samples": 450})
    comparison = write_json(tmp_path / "comparison.json", comparison_payload())
    failed = run_gate(
        "--params", str(params), "--metrics", str(metrics), "--comparison", str(comparison)
    )
    assert (failed.returncode, failed.stdout) == (1, "")
    assert failed.stderr == (
        "gate: accuracy 0.9444 is below the minimum 0.9500\n"
        "gate: accuracy dropped by 0.0244 (0.9689 -> 0.9444), more than 0.0100, "
        "significant at alpha 0.05 (McNemar p = 0.0074)\n"
    )
    good = write_json(tmp_path / "good.json", {"accuracy": 436 / 450, "n_samples": 450})
    passed = run_gate("--params", str(params), "--metrics", str(good))
    assert (passed.returncode, passed.stderr) == (0, "")
    assert passed.stdout == "gate: passed (accuracy 0.9689 >= 0.9500; no baseline comparison)\n"
    missing = run_gate("--params", str(params), "--metrics", str(tmp_path / "none.json"))
    assert (missing.returncode, missing.stdout) == (2, "")
    assert missing.stderr == f"error: {tmp_path / 'none.json'}: file not found\n"


INCONSISTENT = (
    "accuracy.base - accuracy.new is not (mcnemar.n_base_only - mcnemar.n_new_only) / n_samples"
)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.pop("mcnemar"), "missing key 'mcnemar'"),
        (lambda p: p["mcnemar"].pop("p_value"), "missing key 'mcnemar.p_value'"),
        (
            lambda p: p["mcnemar"].update(p_value="0.01"),
            'mcnemar.p_value must be a number in 0..1; got "0.01"',
        ),
        (
            lambda p: p["accuracy"].update(base=None),
            "accuracy.base must be a number in 0..1; got null",
        ),
        (lambda p: p.update(n_samples=True), "n_samples must be an integer >= 1; got true"),
        (lambda p: p["mcnemar"].update(n_base_only=3), INCONSISTENT),
        (lambda p: p.update(baseline=""), 'baseline must be a non-empty string; got ""'),
    ],
)
def test_gate_refuses_a_comparison_with_a_missing_or_wrong_key(tmp_path, change, message):
    payload = comparison_payload()
    change(payload)
    comparison = write_json(tmp_path / "comparison.json", payload)
    metrics = write_json(tmp_path / "metrics.json", {"accuracy": 425 / 450, "n_samples": 450})
    args = ["--params", str(ROOT / "params.yaml"), "--metrics", str(metrics)]
    with pytest.raises(UserError) as error:
        gate_main([*args, "--comparison", str(comparison)])
    assert str(error.value) == f"{comparison}: {message}"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"n_samples": 450}, "missing key 'accuracy'"),
        ({"accuracy": 1.5, "n_samples": 450}, "accuracy must be a number in 0..1; got 1.5"),
        ([0.97], "the file must be a JSON object; got [0.97]"),
    ],
)
def test_gate_refuses_bad_metrics(tmp_path, payload, message):
    metrics = write_json(tmp_path / "metrics.json", payload)
    with pytest.raises(UserError) as error:
        gate_main(["--params", str(ROOT / "params.yaml"), "--metrics", str(metrics)])
    assert str(error.value) == f"{metrics}: {message}"


def test_gate_refuses_a_comparison_of_other_predictions(tmp_path):
    metrics = write_json(tmp_path / "metrics.json", {"accuracy": 0.98, "n_samples": 450})
    comparison = write_json(tmp_path / "comparison.json", comparison_payload())
    with pytest.raises(UserError) as error:
        gate_main(
            [
                *("--params", str(ROOT / "params.yaml")),
                *("--metrics", str(metrics), "--comparison", str(comparison)),
            ]
        )
    assert str(error.value) == (
        f"{comparison}: not a comparison of the predictions {metrics} scores (accuracy 0.9444 "
        "on 450 samples there, 0.9800 on 450 here); rerun digitwise compare"
    )


def test_gate_refuses_a_comparison_of_other_predictions_with_the_same_accuracy(tmp_path):
    metrics = write_json(tmp_path / "metrics.json", {"accuracy": 425 / 450, "n_samples": 450})
    stale = write_json(tmp_path / "comparison.json", comparison_payload(new=OTHER_DIGEST))
    args = ["--params", str(ROOT / "params.yaml"), "--metrics", str(metrics)]
    with pytest.raises(UserError) as error:
        gate_main([*args, "--comparison", str(stale)])
    assert str(error.value) == (
        f"{stale}: a comparison of other predictions than those {tmp_path / 'confusion.json'} "
        f"was computed from (content sha256 {OTHER_DIGEST[:12]} there, {DIGEST[:12]} here); "
        "rerun digitwise compare on these predictions"
    )
    old = comparison_payload()
    del old["predictions_sha256"]
    with pytest.raises(UserError, match=r"no 'predictions_sha256.new': made by an older"):
        gate_main([*args, "--comparison", str(write_json(tmp_path / "old.json", old))])
    (tmp_path / "confusion.json").unlink()
    with pytest.raises(UserError, match=r"confusion\.json: file not found \(run the evaluate"):
        gate_main([*args, "--comparison", str(stale)])


def test_gate_main_exits_1_on_failure(tmp_path, capsys):
    metrics = write_json(tmp_path / "metrics.json", {"accuracy": 0.9, "n_samples": 10})
    with pytest.raises(SystemExit) as exit_:
        gate_main(["--params", str(ROOT / "params.yaml"), "--metrics", str(metrics)])
    assert exit_.value.code == 1
    assert capsys.readouterr().err == "gate: accuracy 0.9000 is below the minimum 0.9500\n"
