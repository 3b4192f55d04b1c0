"""Drawing heatmaps to PNG in a second process while the first one computes.

On 10^6 predictions the evaluate command spends about 2 s drawing its three heatmaps
and 0.5 s importing matplotlib, as long as it spends computing. With a second core,
a worker process (started at once, so its imports overlap the reading of the
predictions) draws the figures whose matrices are ready while the metrics that remain
are computed. The PNG bytes are the same either way: drawing is deterministic.
Without a second core, or if the worker cannot start or dies, figures are drawn here.
"""

import multiprocessing
import os
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any


def draw_png(kind: str, matrix: Any, classes: tuple[str, ...], order: Any = None) -> bytes:
    """PNG bytes of ``heatmaps.<kind>(matrix, classes, order=order)`` (``order``: a
    ``digitwise.metrics.ordering.ClassOrder``, or None for the class list's), or of
    ``calibration.reliability_diagram`` (whose "matrix" is the finished calibration)."""
    from digitwise.figures import calibration, heatmaps
    from digitwise.io.outputs import png_bytes

    if kind == "reliability_diagram":
        return png_bytes(calibration.reliability_diagram(matrix, classes))
    return png_bytes(getattr(heatmaps, kind)(matrix, classes, order=order))


def _import_drawing() -> None:
    from digitwise.figures import calibration, heatmaps  # noqa: F401  paid in the worker
    from digitwise.io import outputs  # noqa: F401


def _may_fork() -> bool:
    """Linux, and this process has one thread as the kernel counts them (a C library's
    threads, BLAS's or Arrow's, are not in ``threading``'s count). Elsewhere fork
    without exec is unsafe (macOS's system libraries may hang in the child)."""
    if sys.platform != "linux" or threading.active_count() != 1:
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


class Drawer:
    """``with Drawer(parallel) as drawer: future = drawer.submit(kind, matrix, classes, order)``;
    ``drawer.png(future)`` is the PNG. ``parallel=False`` draws in this process."""

    def __init__(self, parallel: bool = True) -> None:
        self._pool: ProcessPoolExecutor | None = None
        if parallel and (os.cpu_count() or 1) > 1:
            try:
                # forked before any thread is started here (the reading of Parquet
                # starts threads, and forking a process with threads may deadlock): it
                # has numpy and digitwise already, where a spawned one is a fresh
                # interpreter importing them and the command's modules again (0.9 s of
                # CPU at 10^6 rows)
                context = multiprocessing.get_context("fork" if _may_fork() else "spawn")
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
                self._pool.submit(_import_drawing)
            except (OSError, RuntimeError):
                self._pool = None
        self._jobs: dict[Future, tuple[str, Any, tuple[str, ...], Any]] = {}

    def submit(self, kind: str, matrix: Any, classes: tuple[str, ...], order: Any = None) -> Future:
        job = (kind, matrix, tuple(classes), order)
        future: Future = Future()
        if self._pool is not None:
            try:
                future = self._pool.submit(draw_png, *job)
            except (BrokenProcessPool, RuntimeError):
                self._pool = None
        self._jobs[future] = job
        return future

    def png(self, future: Future) -> bytes:
        job = self._jobs[future]
        if not future.done() and self._pool is None:
            return draw_png(*job)  # never submitted: draw here
        try:
            return future.result()
        except BrokenProcessPool:  # the worker died (killed, out of memory): draw here
            return draw_png(*job)

    def __enter__(self) -> "Drawer":
        return self

    def __exit__(self, kind: object, *exc_info: object) -> None:
        if self._pool is not None:
            # after an error, do not wait for the worker's imports to finish
            self._pool.shutdown(wait=kind is None, cancel_futures=True)
