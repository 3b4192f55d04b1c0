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
    """Linux, one Python thread, and no C library's thread but the OpenBLAS numpy loads.
    That OpenBLAS keeps a pool of threads and stops it itself before a fork (its
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
    return pool is not None and threads <= 1 + pool


def _openblas_threads() -> int | None:
    """The threads numpy's OpenBLAS pool keeps (its size less the caller), running: a
    product big enough to be shared out restarts a pool a fork stopped. None when
    another OpenBLAS is loaded too (SciPy's), whose stopped pool would go uncounted."""
    try:
        from threadpoolctl import threadpool_info  # scikit-learn's dependency
    except ImportError:
        return 0
    pools = [pool for pool in threadpool_info() if pool.get("internal_api") == "openblas"]
    if not pools:
        return 0
    if len(pools) > 1 or pools[0].get("threading_layer") != "pthreads":
        return None
    import numpy as np

    square = np.ones((_SHARED_PRODUCT, _SHARED_PRODUCT))
    square @ square  # about a millisecond
    return max(pools[0]["num_threads"] - 1, 0)


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
        except Exception:  # end-of-file (the parent is gone) or a broken message
            os._exit(0)
        if job is None:
            os._exit(0)  # nothing to flush: the worker writes nothing
        try:
            png = draw_png(*job)
        except Exception:  # drawn again by the parent, which raises then
            png = None
        try:
            connection.send(png)
        except Exception:
            os._exit(0)


Job = tuple[str, Any, tuple[str, ...], Any]


class Drawer:
    """``with Drawer(parallel) as drawer: ticket = drawer.submit(kind, matrix, classes,
    order)``; ``drawer.png(ticket)`` is the PNG. ``parallel=False`` draws in this process.

    One thread here (the dispatcher) sends the worker its jobs, one at a time, and
    receives their PNGs: nothing else touches the pipe, and the caller never waits on
    it. While a worker runs, SIGPIPE is ignored, so writing to a worker that died is an
    error caught here, not the end of this process; the command's own handling of
    SIGPIPE (``| head``) is back when the ``with`` ends. A Drawer made off the main
    thread, which cannot ignore SIGPIPE, starts a worker only if SIGPIPE is ignored."""

    def __init__(self, parallel: bool = True) -> None:
        self._jobs: list[Job] = []
        self._waiting: list[int] = []  # tickets not sent to the worker
        self._here: list[int] = []  # tickets the worker failed to draw
        self._drawing: int | None = None  # the ticket the worker draws
        self._pngs: dict[int, bytes] = {}
        self._changed = threading.Condition()
        self._closing = False
        self._dispatching = False  # the dispatcher runs: a worker takes jobs
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
        elif signal.getsignal(signal.SIGPIPE) != signal.SIG_IGN:
            return  # a dead worker's SIGPIPE would end this process: draw here
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
        except BaseException as error:
            self._process = None
            self._restore_sigpipe()
            if isinstance(error, (OSError, RuntimeError)):
                return  # no worker: drawn here
            raise
        self._pipe = mine
        self._dispatching = True
        self._dispatcher = threading.Thread(target=self._dispatch, daemon=True)
        self._dispatcher.start()

    def submit(self, kind: str, matrix: Any, classes: tuple[str, ...], order: Any = None) -> int:
        with self._changed:
            ticket = len(self._jobs)
            self._jobs.append((kind, matrix, tuple(classes), order))
            self._waiting.append(ticket)
            self._changed.notify_all()
        return ticket

    def png(self, ticket: int) -> bytes:
        deadline = time.monotonic() + WORKER_PATIENCE
        with self._changed:
            while ticket not in self._pngs:
                idle = self._dispatching and self._drawing is None
                if ticket == self._drawing or (idle and ticket in self._waiting):
                    # the worker draws it, or takes it now: wait
                    left = None if deadline is None else max(deadline - time.monotonic(), 0)
                    if not self._changed.wait(timeout=left):
                        self._process.kill()  # stuck: the dispatcher reads end-of-file
                        deadline = None  # and puts the job back, to be drawn here
                    continue
                for tickets in (self._waiting, self._here):  # not the worker's: drawn here
                    if ticket in tickets:
                        tickets.remove(ticket)
                break
            else:
                return self._pngs.pop(ticket)
        return draw_png(*self._jobs[ticket])

    def _dispatch(self) -> None:
        """The thread: the costliest waiting job to the worker, its PNG back; again."""
        while True:
            with self._changed:
                while not self._closing and not self._waiting:
                    self._changed.wait()
                if self._closing:
                    self._dispatching = False
                    break
                ticket = max(self._waiting, key=lambda t: _COST.get(self._jobs[t][0], 1))
                self._waiting.remove(ticket)
                self._drawing = ticket
            try:
                self._pipe.send(self._jobs[ticket])
                png = self._pipe.recv()
            except Exception:  # the worker died (killed, out of memory) or was stuck
                png, working = None, False
            else:
                working = True
            with self._changed:
                if png is not None:
                    self._pngs[ticket] = png
                elif working:  # drawing it failed there: drawn here (and raises here)
                    self._here.append(ticket)
                else:  # the worker is gone: drawn here, when asked for
                    self._waiting.append(ticket)
                self._drawing = None
                self._dispatching = working
                self._changed.notify_all()
            if not working:
                return
        try:
            self._pipe.send(None)  # done: the worker leaves at once
        except Exception:
            self._process.kill()

    def _restore_sigpipe(self) -> None:
        if self._sigpipe is not None:
            signal.signal(signal.SIGPIPE, self._sigpipe)
            self._sigpipe = None

    def __enter__(self) -> "Drawer":
        return self

    def __exit__(self, kind: object, *exc_info: object) -> None:
        if self._process is None:
            return
        if kind is not None:
            self._process.kill()  # after an error, do not wait for a figure
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._dispatcher.join(WORKER_PATIENCE)  # it sends the worker None, or saw it die
        if self._dispatcher.is_alive():  # a figure nobody asked for, from a stuck worker
            self._process.kill()
            self._dispatcher.join()
        self._process.join()
        self._pipe.close()  # after the dispatcher: its descriptor could be reused
        self._restore_sigpipe()
