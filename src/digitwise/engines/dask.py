"""Evaluation of predictions shards on a Dask cluster (``digitwise evaluate --engine dask``).

Each shard is read, validated and summarised by a worker (``shards.summarize_shard``):
what comes back is its mergeable state (``metrics.state``; about 1 MB at 10 classes and
10^6 rows, mostly the AUC's score histograms) and 24 bytes a row (id and row hash), never
the rows. The states are merged two at a time (``shards.merge_states``), and one more task combines
the rest in shard order (``shards.combine``): the same checks and messages as the
in-memory reader, the content digest.

Workers read the shards at the paths given here, so on a cluster of several machines
every worker must see them at those paths (a shared file system, absolute paths), and
the scheduler and every worker must have digitwise installed (checked first). Dask is
the optional ``dask`` extra, imported only here.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from digitwise import params
from digitwise.errors import UserError, printable
from digitwise.metrics.evaluation import Evaluation, evaluate_state
from digitwise.metrics.reports import TOP_K
from digitwise.metrics.state import MAX_CLASSES, EvaluationState, score_bins

INSTALL = "pip install 'digitwise[dask]'"
REQUIRED_MODULE = "digitwise.engines.shards"  # what the tasks' functions come from
LOCAL_WORKERS = 2
CONNECT_TIMEOUT = "10s"


def evaluate(
    shards: list[Path],
    source: str,
    classes: tuple[str, ...],
    settings: params.EvaluateParams,
    scheduler: str | None,
) -> Evaluation:
    """``metrics.evaluation.evaluate`` of the rows of ``shards``, on Dask."""
    state, digest = evaluate_shards(
        shards,
        source,
        classes,
        top_k=TOP_K,
        calibration_bins=settings.calibration_bins,
        scheduler=scheduler,
    )
    return evaluate_state(state, settings, classes=classes, digest=digest)


def evaluate_shards(
    shards: list[Path],
    source: str,
    classes: tuple[str, ...],
    *,
    top_k: int,
    calibration_bins: int,
    scheduler: str | None,
) -> tuple[EvaluationState, str]:
    """The merged state and content digest of ``shards`` (``reading.shard_paths`` of
    ``source``), on the scheduler at ``scheduler``, or on a local cluster when None."""
    distributed = _distributed()
    from digitwise.engines import shards as parts

    if len(classes) > MAX_CLASSES:
        raise UserError(
            f"--classes: --engine dask bins the per-pair AUC of at most {MAX_CLASSES:,} "
            f"classes, not {len(classes):,}"
        )
    bins = score_bins(len(classes))
    with _client(distributed, scheduler) as client:
        if scheduler is not None:  # a local cluster runs this very Python
            _check_cluster(distributed, client, scheduler)
        summaries = client.map(
            parts.summarize_shard,
            shards,
            classes=classes,
            top_k=top_k,
            bins=bins,
            calibration_bins=calibration_bins,
            pure=False,
        )
        # the states merged in a tree, two at a time: no task holds them all
        states = client.map(parts.state_of_summary, summaries, pure=False)
        while len(states) > 1:
            pairs = [states[i : i + 2] for i in range(0, len(states), 2)]
            states = [client.submit(parts.merge_states, pair, pure=False) for pair in pairs]
        rest = client.map(parts.without_state, summaries, pure=False)
        combined = client.submit(
            parts.combine_or_error, str(source), classes, rest, states[0], pure=False
        )
        try:
            result = combined.result()
        except (ImportError, distributed.KilledWorker) as error:  # changed since the check
            raise _cannot_run(scheduler or "here", error) from None
    if isinstance(result, UserError):  # raised here, where it is one line
        raise result
    return result


def _check_cluster(distributed, client, scheduler: str) -> None:
    """A one-line error unless the scheduler (which unpickles the tasks) and every worker
    import digitwise: a worker that cannot unpickle a task drops out of the cluster, and
    the task waits for another. ``exec``, a builtin, unpickles anywhere."""
    try:
        client.run_on_scheduler(exec, f"import {REQUIRED_MODULE}")
        client.run(exec, f"import {REQUIRED_MODULE}")
    except (ImportError, distributed.KilledWorker) as error:
        raise _cannot_run(scheduler, error) from None


def _cannot_run(scheduler: str, error: Exception) -> UserError:
    reason = printable(str(error).splitlines()[0] if str(error) else type(error).__name__)
    return UserError(
        f"the Dask cluster at {printable(scheduler)} cannot run digitwise ({reason}): "
        "install digitwise on the scheduler and every worker"
    )


def _distributed():
    try:
        import distributed
    except ImportError:
        raise UserError(f"--engine dask needs Dask's distributed scheduler: {INSTALL}") from None
    return distributed


@contextmanager
def _client(distributed, scheduler: str | None) -> Iterator:
    """A client of the scheduler at ``scheduler``; without one, of a local cluster of
    two worker processes on the loopback interface, closed afterwards."""
    if scheduler is None:
        with (
            distributed.LocalCluster(
                n_workers=LOCAL_WORKERS,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                # no dashboard; its HTTP server (always started) on a free port: the
                # default, 8787, may be taken, and then Dask warns on stderr
                dashboard_address=":0",
                scheduler_kwargs={"dashboard": False},
                silence_logs=logging.CRITICAL,  # its workers share the command's stderr
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError, TypeError) as error:
        reason = printable(str(error).splitlines()[0] if str(error) else type(error).__name__)
        raise UserError(
            f"--scheduler {printable(scheduler)}: no Dask scheduler there ({reason})"
        ) from None
    with client:
        yield client
