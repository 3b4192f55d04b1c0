"""An evaluation from shards read apart: each shard's summary (its mergeable state, ids
and row hashes), and the one combination of all of them.

``summarize_shard`` runs where the shard is read (a Dask worker); ``combine`` runs once,
over every summary in the order of the shards, and refuses what the in-memory reader
refuses, with the same one-line message: first the first shard's own error, in the
order of the shards, then the checks across shards (``reading.check_across``). No
engine is imported here: these functions are tested as they are.
"""

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from digitwise.errors import UserError
from digitwise.metrics.state import EvaluationState, ScoreBins, merge, state_of
from digitwise.predictions.digest import digest_of_rows, row_hashes
from digitwise.predictions.reading import check_across, read_file


@dataclass(frozen=True)
class ShardSummary:
    path: Path
    error: UserError | None  # why the shard is refused; then nothing else is set
    with_proba: bool = False
    sample: np.ndarray | None = None  # (n_rows,) int64 ids
    hashes: np.ndarray | None = None  # (n_rows, 2) uint64 row hashes (predictions.digest)
    state: EvaluationState | None = None


def summarize_shard(
    path: Path, classes: tuple[str, ...], *, top_k: int, bins: ScoreBins, calibration_bins: int
) -> ShardSummary:
    """Read and validate one shard, as the in-memory reader does, and summarise it."""
    try:
        part = read_file(Path(path), classes)
    except UserError as error:  # returned, not raised: ``combine`` picks the first
        return ShardSummary(path=path, error=error)
    state = state_of(
        part.actual,
        part.predicted,
        part.proba,
        n_classes=len(classes),
        top_k=top_k,
        bins=bins,
        calibration_bins=calibration_bins,
    )
    return ShardSummary(
        path=path,
        error=None,
        with_proba=part.proba is not None,
        sample=part.sample,
        hashes=row_hashes(part.sample, part.actual, part.predicted, part.proba),
        state=state,
    )


def combine(
    source: str,
    classes: tuple[str, ...],
    summaries: list[ShardSummary],
    merged: EvaluationState | None = None,
) -> tuple[EvaluationState, str]:
    """The merged state and the content digest of all the shards' rows; ``merged``, the
    summaries' states merged already (``merge_states``, in a tree on a cluster, so that
    no task holds them all), else they are merged here."""
    for summary in summaries:
        if summary.error is not None:
            raise summary.error
    shards = [Path(summary.path) for summary in summaries]
    sample = np.concatenate([summary.sample for summary in summaries])
    flags = [summary.with_proba for summary in summaries]
    check_across(source, shards, [len(s.sample) for s in summaries], flags, sample)
    hashes = np.concatenate([summary.hashes for summary in summaries])
    digest = digest_of_rows(classes, flags[0], sample, hashes)
    return (merge([s.state for s in summaries]) if merged is None else merged), digest


def combine_or_error(
    source: str,
    classes: tuple[str, ...],
    summaries: list[ShardSummary],
    merged: EvaluationState | None = None,
) -> tuple[EvaluationState, str] | UserError:
    """``combine``, its UserError returned, not raised: what a task raises, its worker
    logs with a traceback (on the command's own stderr, on a local cluster)."""
    try:
        return combine(source, classes, summaries, merged)
    except UserError as error:
        return error


def state_of_summary(summary: ShardSummary) -> EvaluationState | None:
    return summary.state


def without_state(summary: ShardSummary) -> ShardSummary:
    return replace(summary, state=None)


def merge_states(states: list[EvaluationState | None]) -> EvaluationState | None:
    """``merge``; None where a shard was refused or the states differ (label-only shards
    among others): ``combine`` says why, in one line."""
    if any(state is None for state in states):
        return None
    try:
        return merge(states)
    except ValueError:
        return None
