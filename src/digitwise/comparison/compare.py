"""A predictions file against a baseline's on the same held-out samples: loading the
baseline (a file or a git revision's committed file), aligning the two, and the
comparison (accuracy difference with a paired bootstrap interval, McNemar's exact test,
per-class recall changes, the confusion cells that changed most) with its Markdown
summary. ``digitwise compare`` (``digitwise.cli.compare``) is the command."""

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitwise.errors import UserError
from digitwise.metrics import classification as metrics
from digitwise.metrics.significance import (
    format_p_value,
    mcnemar_exact,
    paired_bootstrap_difference,
)
from digitwise.predictions.reading import read_predictions
from digitwise.predictions.schema import Predictions, PredictionsError

LEVEL = 0.95  # of the bootstrap interval of the accuracy difference


EXAMPLES = 1  # sample ids quoted in a mismatch message


@dataclass(frozen=True)
class Baseline:
    predictions: Predictions
    ref: str  # as given on the command line
    commit: str | None  # the full sha, when ref is a git revision
    source: str  # what was read: a path, or "<revision>:<path in the repository>"


def load_baseline(ref: str, predictions_path: str | Path, classes: tuple[str, ...]) -> Baseline:
    """The baseline predictions: the file ``ref`` if it exists, else ``predictions_path``
    as committed at git revision ``ref``."""
    if Path(ref).is_file() or Path(ref).is_dir():
        if Path(ref).resolve() == Path(predictions_path).resolve():
            raise UserError(
                f"baseline {ref}: is the predictions file itself; give another file or a "
                "git revision (a file of that name is read before a revision)"
            )
        return Baseline(read_predictions(ref, classes), ref=ref, commit=None, source=ref)
    if not Path(predictions_path).is_file():
        raise UserError(
            f"baseline {ref}: not an existing file or directory; a git revision is read at "
            f"the path of one predictions file, and {predictions_path} is a directory or "
            "pattern: give the baseline's predictions as a path"
        )
    if not ref or ref.startswith("-"):  # never let a revision reach git as an option
        raise UserError(f"baseline {ref!r}: not an existing file or a git revision")
    root, relative = _repository_path(ref, Path(predictions_path))
    found = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found.returncode != 0:
        raise UserError(
            f"baseline {ref}: not an existing file, nor a revision of the git repository "
            f"at {root} to read {relative} from"
        )
    commit = found.stdout.decode().strip()
    shown = _git(root, "show", f"{commit}:{relative}")
    if shown.returncode != 0:
        raise UserError(
            f"baseline {ref}: {relative} is not in that revision ({commit[:12]}); "
            "was it committed there?"
        )
    source = f"{ref}:{relative}"
    with tempfile.TemporaryDirectory(prefix="digitwise-baseline-") as directory:
        path = Path(directory) / "predictions.csv"
        path.write_bytes(shown.stdout)
        try:
            baseline = read_predictions(path, classes)
        except PredictionsError as error:
            # name the revision and path in the message, not the temporary copy
            raise PredictionsError(str(error).replace(str(path), source)) from None
    return Baseline(baseline, ref=ref, commit=commit, source=source)


def _repository_path(ref: str, predictions_path: Path) -> tuple[Path, str]:
    """The repository holding the predictions file, and the file's path inside it."""
    top = _git(predictions_path.resolve().parent, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        # git's own reason: not a repository, git missing, "dubious ownership", ...
        reason = (top.stderr.decode(errors="replace").strip().splitlines() or ["git failed"])[-1]
        raise UserError(
            f"baseline {ref}: not an existing file, and {predictions_path} is not in a "
            f"git repository to read a revision from ({reason})"
        )
    root = Path(top.stdout.decode().strip()).resolve()
    try:
        relative = predictions_path.resolve().relative_to(root).as_posix()
    except ValueError:  # e.g. a symbolic link out of the repository
        raise UserError(
            f"baseline {ref}: not an existing file, and {predictions_path} is not inside "
            f"the git repository at {root}"
        ) from None
    return root, relative


def _git(directory: Path, *args: str) -> subprocess.CompletedProcess:
    """git's result, with its output as bytes; a missing git is a failed result."""
    try:
        return subprocess.run(["git", *args], cwd=directory, capture_output=True, check=False)
    except OSError as error:  # git not installed, or the directory is gone
        return subprocess.CompletedProcess(args, 1, b"", str(error).encode())


def align(
    new: Predictions, base: Predictions, *, new_name: str, base_name: str
) -> tuple[Predictions, Predictions]:
    """Both prediction sets in the order of sample id, or a UserError if they are not
    predictions for the same samples with the same true labels.

    Returns (new, base) as Predictions with rows sorted by sample id.
    """
    only_base = np.setdiff1d(base.sample, new.sample)
    only_new = np.setdiff1d(new.sample, base.sample)
    if only_base.size or only_new.size:
        parts = [
            f"{_count(ids.size, 'id')} only in the {side}, e.g. "
            f"{', '.join(map(str, ids[:EXAMPLES]))}"
            for ids, side in ((only_base, "baseline"), (only_new, "new predictions"))
            if ids.size
        ]
        raise UserError(
            f"{new_name} and baseline {base_name}: held-out samples differ: {'; '.join(parts)}"
            " (compare predictions made on the same split)"
        )
    new, base = _sorted(new), _sorted(base)
    differ = np.flatnonzero(new.actual != base.actual)
    if differ.size:
        first = differ[0]
        raise UserError(
            f"{new_name} and baseline {base_name}: actual labels differ for "
            f"{_count(differ.size, 'sample')}, e.g. sample {new.sample[first]}: "
            f"'{base.classes[base.actual[first]]}' in the baseline, "
            f"'{new.classes[new.actual[first]]}' in the new predictions"
        )
    return new, base


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _sorted(predictions: Predictions) -> Predictions:
    # by sample id, so the bootstrap does not depend on the files' row order
    order = np.argsort(predictions.sample, kind="stable")
    return Predictions(
        sample=predictions.sample[order],
        actual=predictions.actual[order],
        predicted=predictions.predicted[order],
        proba=None if predictions.proba is None else predictions.proba[order],
        classes=predictions.classes,
    )


def changed_confusions(
    counts_new: np.ndarray, counts_base: np.ndarray, *, limit: int
) -> list[tuple[int, int, int, int]]:
    """Off-diagonal cells whose count changed, as (true, predicted, new, baseline).

    Both matrices (n_classes, n_classes). Ranked by |new - baseline|, then by true and
    predicted class index; at most ``limit`` cells.
    """
    # the ranking of the largest confusions, applied to the size of each cell's change
    moved = np.abs(counts_new.astype(np.int64) - counts_base)
    return [
        (t, p, int(counts_new[t, p]), int(counts_base[t, p]))
        for t, p, _, _ in metrics.top_confusions(moved, limit=limit)
    ]


def comparison_report(
    new: Predictions,
    baseline: Baseline,
    *,
    n_resamples: int,
    seed: int,
    limit: int,
) -> dict[str, Any]:
    """Everything comparison.json holds; ``new`` and the baseline aligned by ``align``."""
    base = baseline.predictions
    classes = new.classes
    k = len(classes)
    counts_new = metrics.confusion_matrix(new.actual, new.predicted, n_classes=k)
    counts_base = metrics.confusion_matrix(base.actual, base.predicted, n_classes=k)
    n = int(counts_new.sum())
    test = mcnemar_exact(new.predicted == new.actual, base.predicted == base.actual)
    difference, low, high = paired_bootstrap_difference(
        new.actual, new.predicted, base.predicted, n_resamples=n_resamples, seed=seed, level=LEVEL
    )
    recall_new = metrics.per_class_scores(counts_new)["recall"]
    recall_base = metrics.per_class_scores(counts_base)["recall"]
    support = counts_new.sum(axis=1)
    return {
        "baseline": baseline.ref,
        "baseline_commit": baseline.commit,  # null when the baseline is a file
        "baseline_source": baseline.source,
        "n_samples": n,
        "accuracy": {
            "new": int(np.trace(counts_new)) / n,
            "base": int(np.trace(counts_base)) / n,
            "difference": difference,  # (n_new_only - n_base_only) / n, exactly rounded
            "low": low,
            "high": high,
        },
        "bootstrap": {"level": LEVEL, "resamples": n_resamples, "seed": seed},
        "mcnemar": {
            "n_new_only": test.n_new_only,
            "n_base_only": test.n_base_only,
            "p_value": test.p_value,
        },
        # keyed by class name, like the per-class scores in the headline metrics
        "per_class_recall": {
            name: {
                "new": float(recall_new[i]),
                "base": float(recall_base[i]),
                "difference": float(recall_new[i] - recall_base[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(classes)
        },
        "changed_confusions": [
            {
                "rank": rank,
                "actual": classes[t],
                "predicted": classes[p],
                "new": count_new,
                "base": count_base,
                "difference": count_new - count_base,
            }
            for rank, (t, p, count_new, count_base) in enumerate(
                changed_confusions(counts_new, counts_base, limit=limit), start=1
            )
        ],
    }


def summary_lines(report: dict[str, Any]) -> list[str]:
    """Two lines for a terminal: the accuracy change with its interval, and McNemar."""
    accuracy, test = report["accuracy"], report["mcnemar"]
    commit = f" ({report['baseline_commit'][:12]})" if report["baseline_commit"] else ""
    percent = f"{report['bootstrap']['level']:.0%}"
    return [
        f"accuracy {accuracy['new']:.4f} against {accuracy['base']:.4f} for "
        f"{report['baseline']}{commit}: {accuracy['difference']:+.4f} ({percent} interval "
        f"{accuracy['low']:+.4f} to {accuracy['high']:+.4f}) on {report['n_samples']:,} samples",
        f"McNemar's exact test: p = {format_p_value(test['p_value'])}; "
        f"{test['n_new_only']:,} right only in the new predictions, "
        f"{test['n_base_only']:,} only in the baseline",
    ]


def summary_markdown(report: dict[str, Any], *, new_name: str) -> str:
    """A short Markdown report for a CI job summary; a function of the report alone."""
    ref, commit = report["baseline"], report["baseline_commit"]
    accuracy, test = report["accuracy"], report["mcnemar"]
    percent = f"{report['bootstrap']['level']:.0%}"
    revision = f" (commit {_code(commit[:12])})" if commit else ""
    lines = [
        f"## Predictions compared with {_code(ref)}",
        "",
        f"{report['n_samples']} held-out samples; new: {_code(new_name)}, "
        f"baseline: {_code(report['baseline_source'])}{revision}.",
        "",
        f"| metric | baseline | new | difference | {percent} CI |",
        "|---|---:|---:|---:|---|",
        f"| accuracy | {accuracy['base']:.4f} | {accuracy['new']:.4f} "
        f"| {accuracy['difference']:+.4f} "
        f"| [{accuracy['low']:+.4f}, {accuracy['high']:+.4f}] |",
        "",
        f"McNemar's exact test: {_count(test['n_new_only'], 'sample')} right only in the "
        f"new predictions, {test['n_base_only']} right only in the baseline; "
        f"p = {format_p_value(test['p_value'])}.",
        "",
        "### Per-class recall changes",
        "",
    ]
    changed = {
        name: row for name, row in report["per_class_recall"].items() if row["difference"] != 0
    }
    if changed:
        lines += ["| class | support | baseline | new | difference |", "|---|---:|---:|---:|---:|"]
        lines += [
            f"| {_cell(name)} | {row['support']} | {row['base']:.4f} | {row['new']:.4f} "
            f"| {row['difference']:+.4f} |"
            for name, row in changed.items()
        ]
    else:
        lines.append("No class's recall changed.")
    lines += ["", "### Confusions that changed most", ""]
    if report["changed_confusions"]:
        lines += ["| true | predicted | baseline | new | difference |", "|---|---|---:|---:|---:|"]
        lines += [
            f"| {_cell(row['actual'])} | {_cell(row['predicted'])} | {row['base']} "
            f"| {row['new']} | {row['difference']:+d} |"
            for row in report["changed_confusions"]
        ]
    else:
        lines.append("No confusion cell changed.")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text in a Markdown table cell: a '|' would end the cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _code(text: str) -> str:
    """Inline code; a backtick in the text needs a double fence, padded (CommonMark)."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"
