"""Drawing figures to PNG in a second process while the first one computes.

On 10^6 predictions the evaluate command spends about 2.4 s drawing its four figures,
longer than it spends computing once the predictions are read. With a second core, a
worker process draws the figures whose matrices are ready while the metrics that
remain are computed, and this process draws, when its computing is done, any figure
the worker has not started: the two finish together. The worker takes one figure at
a time, the costliest waiting first, so the cheap ones are left to whichever process
is free. The PNG bytes are the same wherever a figure is drawn: drawing is
deterministic. Without a second core, or if the worker cannot start or dies, figures
are drawn here. The worker ends when this process does, even when it is killed: its
end of the pipe then reads end-of-file.
"""

import multiprocessing
import os
import signal
import sys
import threading
import time
from typing import Any

# a reliability diagram (twelve small axes) takes about twice a 10-class heatmap's time
_COST = {"reliability_diagram": 2}
WORKER_PATIENCE = 300.0  # seconds for one figure (a 1,000-class one takes 2) before the
# worker is taken for stuck, killed, and the figure drawn here
_SHARED_PRODUCT = 128  # a square this size is multiplied on OpenBLAS's threads


def draw_png(kind: str, matrix: Any, classes: tuple[str, ...], order: Any = None) -> bytes:
    """PNG bytes of ``heatmaps.<kind>(matrix, classes, order=order)`` (``order``: a
    ``digitwise.metrics.ordering.ClassOrder``, or None for the class list's), or of
    ``calibration.reliability_diagram`` (whose "matrix" is the finished calibration)."""
    from digitwise.figures import calibration, heatmaps
    from digitwise.io.outputs import png_bytes

    if kind == "reliability_diagram":
        return png_bytes(calibration.reliability_diagram(matrix, classes))
    return png_bytes(getattr(heatmaps, kind)(matrix, classes, order=order))


def import_drawing() -> None:
    """Import what drawing needs (matplotlib: about 0.8 s of CPU)."""
    from digitwise.figures import calibration, heatmaps  # noqa: F401
    from digitwise.io import outputs  # noqa: F401


def _may_fork() -> bool:
    """Linux, one Python thread, and no C library's thread but OpenBLAS's. numpy's
    OpenBLAS keeps a pool of threads and stops it itself before a fork (its
    ``pthread_atfork`` handler); another library's threads (Arrow's, say) may hold a lock
    the child would wait on forever, and they are not in ``threading``'s count.
    Elsewhere, fork without exec is unsafe (macOS's system libraries may hang in the
    child)."""
    if sys.platform != "linux" or threading.active_count() != 1:
        return False
    pool = _openblas_threads()  # started first: an earlier fork may have stopped it
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:
        return False
    return threads <= 1 + pool


def _openblas_threads() -> int:
    """The threads OpenBLAS's own pools keep (each pool: its size less the caller),
    running: a product big enough to be shared out restarts a pool a fork stopped."""
    try:
        from threadpoolctl import threadpool_info  # scikit-learn's dependency
    except ImportError:
        return 0
    pools = [
        pool
        for pool in threadpool_info()
        if pool.get("internal_api") == "openblas" and pool.get("threading_layer") == "pthreads"
    ]
    if pools:
        import numpy as np

        square = np.ones((_SHARED_PRODUCT, _SHARED_PRODUCT))
        square @ square  # about a millisecond
    return sum(max(pool["num_threads"] - 1, 0) for pool in pools)


def _serve(connection, parent_end) -> None:
    """The worker: draw each job received, send back its PNG (or None if drawing failed:
    the parent draws it again, and raises there); leave at None or end-of-file."""
    if parent_end is not None:  # forked: the parent's end, so its death reads as EOF here
        parent_end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent kills it
    import_drawing()  # forked: imported already; spawned: while the parent reads
    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError):
            job = None
        if job is None:
            os._exit(0)  # nothing to flush: the worker writes nothing
        try:
            png = draw_png(*job)
        except Exception:  # drawn again by the parent, which raises then
            png = None
        try:
            connection.send(png)
        except OSError:
            os._exit(0)


Job = tuple[str, Any, tuple[str, ...], Any]


class Drawer:
    """``with Drawer(parallel) as drawer: ticket = drawer.submit(kind, matrix, classes,
    order)``; ``drawer.png(ticket)`` is the PNG. ``parallel=False`` draws in this process.

    While a worker runs, SIGPIPE is ignored (when made in the main thread), so writing
    to a worker that died is an error caught here, not the end of this process; the
    command's own handling of SIGPIPE (``| head``) is back when the ``with`` ends."""

    def __init__(self, parallel: bool = True) -> None:
        self._jobs: list[Job] = []
        self._waiting: list[int] = []  # tickets not sent to the worker
        self._drawing: int | None = None  # the ticket the worker draws
        self._pngs: dict[int, bytes] = {}
        self._changed = threading.Condition()
        self._connection = None
        self._process = None
        self._sigpipe = None
        if parallel and (os.cpu_count() or 1) > 1:
            # before the fork: imported once for both processes (a thread importing here
            # while the predictions are read costs as much again, on cores both busy)
            import_drawing()
            self._start()

    def _start(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._sigpipe = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        try:
            # forked before any thread but OpenBLAS's is started here (reading Parquet or
            # CSV with pyarrow starts threads): the worker has numpy, matplotlib and
            # digitwise already, where a spawned one imports them all again
            fork = _may_fork()
            context = multiprocessing.get_context("fork" if fork else "spawn")
            mine, theirs = context.Pipe()
            self._process = context.Process(
                target=_serve, args=(theirs, mine if fork else None), daemon=True
            )
            self._process.start()
            theirs.close()
        except (OSError, RuntimeError):
            self._process = None
            self._restore_sigpipe()
            return
        self._connection = self._pipe = mine
        self._receiver = threading.Thread(target=self._receive, daemon=True)
        self._receiver.start()

    def submit(self, kind: str, matrix: Any, classes: tuple[str, ...], order: Any = None) -> int:
        with self._changed:
            ticket = len(self._jobs)
            self._jobs.append((kind, matrix, tuple(classes), order))
            self._waiting.append(ticket)
            job = self._take_next()
        self._send(job)
        return ticket

    def png(self, ticket: int) -> bytes:
        deadline = time.monotonic() + WORKER_PATIENCE
        with self._changed:
            while ticket == self._drawing:  # the worker draws it: wait
                left = None if deadline is None else max(deadline - time.monotonic(), 0)
                if not self._changed.wait(timeout=left):
                    self._process.kill()  # stuck: its end of the pipe closes, and the
                    deadline = None  # receiving thread puts the job back to draw here
            if ticket in self._pngs:
                return self._pngs.pop(ticket)
            if ticket in self._waiting:  # not started: drawn here, now
                self._waiting.remove(ticket)
        return draw_png(*self._jobs[ticket])

    def _take_next(self) -> tuple[int, Job] | None:
        """With the lock held: the costliest waiting job, marked as the worker's, if the
        worker is free; it is sent without the lock (a big matrix may take a while)."""
        if self._connection is None or self._drawing is not None or not self._waiting:
            return None
        ticket = max(self._waiting, key=lambda t: _COST.get(self._jobs[t][0], 1))
        self._waiting.remove(ticket)
        self._drawing = ticket
        return ticket, self._jobs[ticket]

    def _send(self, job: tuple[int, Job] | None) -> None:
        if job is None:
            return
        connection = self._connection
        try:
            if connection is None:
                raise OSError("no worker")
            connection.send(job[1])
        except (OSError, ValueError):  # the worker is gone: it is drawn here
            with self._changed:
                if self._drawing == job[0]:
                    self._waiting.append(job[0])
                    self._drawing = None
                self._connection = None
                self._changed.notify_all()

    def _receive(self) -> None:
        """A thread: each PNG the worker sends, and the next job for it."""
        connection = self._connection
        while True:
            try:
                png = connection.recv()
            except (EOFError, OSError):  # the worker died (killed, out of memory)
                png, broken = None, True
            else:
                broken = False
            job = None
            with self._changed:
                if self._drawing is not None:
                    if png is not None:
                        self._pngs[self._drawing] = png
                    else:  # not drawn: drawn here, when asked for
                        self._waiting.append(self._drawing)
                    self._drawing = None
                if broken:
                    self._connection = None
                else:
                    job = self._take_next()
                self._changed.notify_all()
            if broken:
                return
            self._send(job)

    def _restore_sigpipe(self) -> None:
        if self._sigpipe is not None:
            signal.signal(signal.SIGPIPE, self._sigpipe)
            self._sigpipe = None

    def __enter__(self) -> "Drawer":
        return self

    def __exit__(self, kind: object, *exc_info: object) -> None:
        if self._process is None:
            return
        connection, self._connection = self._connection, None  # no job is sent after this
        if kind is not None or connection is None:
            self._process.kill()  # after an error, do not wait for a figure
        else:
            try:
                connection.send(None)  # done: the worker leaves at once
            except (OSError, ValueError):
                self._process.kill()
        self._process.join()
        # the receiving thread reads end-of-file and returns; the pipe is closed after
        # it, or its descriptor could be reused by a file opened meanwhile
        self._receiver.join()
        self._pipe.close()
        self._restore_sigpipe()
