"""Whether a comparison is of the predictions an evaluation was computed from.

``digitwise evaluate`` records the content digest of its predictions in
``confusion.json`` and ``digitwise compare`` those of both sides in ``comparison.json``
(``predictions.schema.content_digest``). Gate and report refuse a comparison whose new
side is other predictions than the metrics beside it: a stale file left from an earlier
run, even one with the same accuracy on as many samples.
"""

import re
from pathlib import Path
from typing import Any

from digitwise.errors import UserError, printable
from digitwise.io import jsonfile

_SHA256 = re.compile(r"[0-9a-f]{64}")
RERUN = "rerun digitwise compare on these predictions"


def check_same_content(
    comparison: Any, comparison_path: str | Path, confusion_path: str | Path
) -> None:
    """Refuse ``comparison`` (the parsed comparison.json) unless its new predictions
    have the digest recorded in the evaluation's ``confusion.json``."""
    recorded = _digest(
        _field(comparison, "new"),
        comparison_path,
        "predictions_sha256.new",
        "made by an older digitwise, it cannot be matched to the predictions; " + RERUN,
    )
    evaluation = jsonfile.read_json(confusion_path, hint="(run the evaluate stage)")
    evaluated = _digest(
        evaluation.get("predictions_sha256") if isinstance(evaluation, dict) else None,
        confusion_path,
        "predictions_sha256",
        "made by an older digitwise; run the evaluate stage again",
    )
    if recorded != evaluated:
        raise UserError(
            f"{comparison_path}: a comparison of other predictions than those "
            f"{confusion_path} was computed from (content sha256 {recorded[:12]} there, "
            f"{evaluated[:12]} here); {RERUN}"
        )


def _field(comparison: Any, side: str) -> Any:
    digests = comparison.get("predictions_sha256") if isinstance(comparison, dict) else None
    return digests.get(side) if isinstance(digests, dict) else None


def _digest(value: Any, source: str | Path, key: str, missing: str) -> str:
    if value is None:
        raise UserError(f"{source}: no '{key}': {missing}")
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        shown = printable(repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "...")
        raise UserError(f"{source}: '{key}' must be 64 lowercase hex digits; got {shown}")
    return value
