"""The regression gate's rules: may this change land?

``judge`` applies the ``gate`` params to the headline accuracy and, optionally, the
comparison with a baseline that ``digitwise compare`` writes:

- accuracy >= gate.min_accuracy;
- with a comparison: not (the accuracy drop, baseline minus new, is more than
  gate.max_accuracy_drop and McNemar's exact test finds it significant at gate.alpha).

``digitwise gate`` (``digitwise.cli.gate``) is the command."""

import json
from dataclasses import dataclass
from typing import Any, NoReturn

from digitwise.errors import UserError, printable
from digitwise.metrics.significance import format_p_value
from digitwise.params import GateParams

# The comparison must be of the predictions the metrics were computed from: a stale
# comparison file would judge another model. Accuracies are k / n, so equal ones agree
# to rounding.
SAME_ACCURACY = 1e-9


@dataclass(frozen=True)
class Comparison:
    """What the gate needs from the comparison file."""

    baseline: str  # the revision or file compared against, as given to compare
    n_samples: int
    accuracy_new: float
    accuracy_base: float
    n_new_only: int  # McNemar's discordant counts
    n_base_only: int
    p_value: float

    @property
    def drop(self) -> float:
        """baseline accuracy - new accuracy, from the counts: the exactly rounded value,
        so a drop of exactly the threshold is not "more than" it through rounding."""
        return (self.n_base_only - self.n_new_only) / self.n_samples

    @property
    def change(self) -> float:
        """new accuracy - baseline accuracy (0.0, never -0.0, when equal)."""
        return (self.n_new_only - self.n_base_only) / self.n_samples


@dataclass(frozen=True)
class Verdict:
    passed: bool
    lines: tuple[str, ...]  # the violations when failed; the one summary line when passed


def judge(accuracy: float, comparison: Comparison | None, settings: GateParams) -> Verdict:
    """Apply the gate rules; a pure function of the numbers read."""
    violations = []
    shown = _decimals(accuracy, settings.min_accuracy)
    if accuracy < settings.min_accuracy:
        violations.append(
            f"gate: accuracy {accuracy:.{shown}f} is below the minimum "
            f"{settings.min_accuracy:.{shown}f}"
        )
    if comparison is not None:
        drop, p = comparison.drop, comparison.p_value
        too_large = drop > settings.max_accuracy_drop
        significant = p < settings.alpha
        if too_large and significant:
            digits = _decimals(drop, settings.max_accuracy_drop)
            violations.append(
                f"gate: accuracy dropped by {drop:.{digits}f} "
                f"({comparison.accuracy_base:.4f} -> {comparison.accuracy_new:.4f}), "
                f"more than {settings.max_accuracy_drop:.{digits}f}, "
                f"significant at alpha {settings.alpha:g} (McNemar p = {format_p_value(p)})"
            )
    if violations:
        return Verdict(passed=False, lines=tuple(violations))
    summary = f"accuracy {accuracy:.{shown}f} >= {settings.min_accuracy:.{shown}f}"
    if comparison is None:
        summary += "; no baseline comparison"
    else:
        summary += (  # the baseline as given to compare: escaped, to stay one line
            f"; change vs {printable(comparison.baseline)} {comparison.change:+.4f}, "
            f"McNemar p = {format_p_value(comparison.p_value)}"
        )
        if comparison.drop > settings.max_accuracy_drop:  # passed only as not significant
            summary += f", not significant at alpha {settings.alpha:g}"
    return Verdict(passed=True, lines=(f"gate: passed ({summary})",))


def _decimals(value: float, threshold: float) -> int:
    """4 decimals, or more where 4 would print a value and a different threshold alike
    ("0.9500 is below the minimum 0.9500")."""
    for digits in range(4, 13):
        if value == threshold or f"{value:.{digits}f}" != f"{threshold:.{digits}f}":
            return digits
    return 12


def metrics_accuracy(payload: Any, source: str) -> tuple[float, int]:
    """(accuracy, n_samples) from the headline metrics."""
    payload = _object(payload, source, "the file")
    return _share(payload, "accuracy", source), _count(payload, "n_samples", source, minimum=1)


def parse_comparison(payload: Any, source: str) -> Comparison:
    payload = _object(payload, source, "the file")
    baseline = _get(payload, "baseline", source)
    if not isinstance(baseline, str) or not baseline:
        _bad(source, "baseline", "a non-empty string", baseline)
    accuracy = _object(_get(payload, "accuracy", source), source, "accuracy")
    mcnemar = _object(_get(payload, "mcnemar", source), source, "mcnemar")
    comparison = Comparison(
        baseline=baseline,
        n_samples=_count(payload, "n_samples", source, minimum=1),
        accuracy_new=_share(accuracy, "new", source, "accuracy."),
        accuracy_base=_share(accuracy, "base", source, "accuracy."),
        n_new_only=_count(mcnemar, "n_new_only", source, "mcnemar."),
        n_base_only=_count(mcnemar, "n_base_only", source, "mcnemar."),
        p_value=_share(mcnemar, "p_value", source, "mcnemar."),
    )
    if comparison.n_new_only + comparison.n_base_only > comparison.n_samples:
        raise UserError(
            f"{source}: mcnemar.n_new_only + mcnemar.n_base_only is more than n_samples "
            f"({comparison.n_samples})"
        )
    # The drop the gate judges comes from the counts; they must agree with the accuracies.
    if abs(comparison.accuracy_base - comparison.accuracy_new - comparison.drop) > SAME_ACCURACY:
        raise UserError(
            f"{source}: accuracy.base - accuracy.new is not "
            "(mcnemar.n_base_only - mcnemar.n_new_only) / n_samples"
        )
    return comparison


def check_same_predictions(
    accuracy: float, n_samples: int, comparison: Comparison, metrics_path: str, source: str
) -> None:
    """Refuse a comparison made from other predictions than the metrics (a stale file)."""
    if n_samples != comparison.n_samples or abs(accuracy - comparison.accuracy_new) > SAME_ACCURACY:
        raise UserError(
            f"{source}: not a comparison of the predictions {metrics_path} scores "
            f"(accuracy {comparison.accuracy_new:.4f} on {comparison.n_samples} samples there, "
            f"{accuracy:.4f} on {n_samples} here); rerun digitwise compare"
        )


def _object(value: Any, source: str, where: str) -> dict:
    if not isinstance(value, dict):
        _bad(source, where, "a JSON object", value)
    return value


def _get(payload: dict, key: str, source: str, prefix: str = "") -> Any:
    if key not in payload:
        raise UserError(f"{source}: missing key '{prefix}{key}'")
    return payload[key]


def _share(payload: dict, key: str, source: str, prefix: str = "") -> float:
    """A number in [0, 1]: an accuracy or a p-value."""
    value = _get(payload, key, source, prefix)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    # compared as read: float() of a 400-digit integer raises OverflowError; NaN fails it
    if not number or not 0 <= value <= 1:
        _bad(source, prefix + key, "a number in 0..1", value)
    return float(value)


def _count(payload: dict, key: str, source: str, prefix: str = "", *, minimum: int = 0) -> int:
    value = _get(payload, key, source, prefix)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        _bad(source, prefix + key, f"an integer >= {minimum}", value)
    return value


def _bad(source: str, key: str, expected: str, value: Any) -> NoReturn:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**40:
        shown = f"an integer of {len(str(abs(value)))} digits"  # JSON holds at most 4,300
    elif isinstance(value, float):
        shown = repr(value)
    else:
        shown = json.dumps(value)
    raise UserError(f"{source}: {key} must be {expected}; got {shown[:40]}")
