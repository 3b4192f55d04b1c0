"""Drawing figures to PNG in worker processes while this one computes.

On 10^6 predictions the evaluate command spends about 2.4 s drawing its four figures,
longer than it spends computing once the predictions are read. With a second core, two
worker processes draw the figures whose matrices are ready while the metrics that
remain are computed. The first worker is forked when the command starts, before
matplotlib is imported: it imports matplotlib (0.8 s of CPU) while this process reads
the predictions, then forks the second, which has it too; this process never imports
matplotlib unless it must draw a figure itself. Each worker takes one figure at a time,
the costliest waiting first. The PNG bytes are the same wherever a figure is drawn:
drawing is deterministic. Without a second core, or if no worker can start or every
worker dies, figures are drawn here. The workers end when this process does, even when
it is killed: their end of the pipe then reads end-of-file.
"""

import contextlib
import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any

# a reliability diagram (twelve small axes) takes about twice a 10-class heatmap's time
_COST = {"reliability_diagram": 2}
WORKER_PATIENCE = 300.0  # seconds for one figure (a 1,000-class one takes 2) before the
# worker is taken for stuck, killed, and the figure drawn here
WORKERS = 2  # figures drawn two at a time, beside this process's computing
_REAP_SECONDS = 5.0  # a worker waits this long for those it forked, to count their CPU
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
    """Import what drawing needs (matplotlib: about 0.8 s of CPU), with the cyclic
    garbage collector paused: an import makes no garbage, yet its new objects set off
    collections that walk every object there is (a quarter of a second)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        from digitwise.figures import calibration, heatmaps  # noqa: F401
        from digitwise.io import outputs  # noqa: F401
    finally:
        if enabled:
            gc.enable()


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


def _serve(connection, siblings, others) -> None:
    """A worker: say its pid, then draw each job received and send back its PNG (or None
    if drawing failed: the parent draws it again, and raises there); leave at None or
    end-of-file. With matplotlib imported, fork one more worker for each pipe end in
    ``siblings``, which then has it too; ``others``: the parent's ends, closed so that
    its death reads as end-of-file here."""
    for end in others:
        end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent kills it
    try:
        import_drawing()  # while the parent reads the predictions
    except Exception:  # matplotlib is broken: this process's own import says how
        os._exit(0)
    children = []
    for index, sibling in enumerate(siblings):
        child = _fork_sibling()
        if child == 0:
            for end in (connection, *siblings[:index], *siblings[index + 1 :]):
                end.close()
            connection, children = sibling, []
            break
        if child is not None:
            children.append(child)
        sibling.close()  # its worker's now, or none's: the parent reads end-of-file
    try:
        connection.send(os.getpid())
        while (job := connection.recv()) is not None:
            try:
                png = draw_png(*job)
            except Exception:  # drawn again by the parent, which raises then
                png = None
            connection.send(png)
    except Exception:  # end-of-file or a broken pipe: the parent is gone
        pass
    _reap(children)
    os._exit(0)  # nothing to flush: a worker writes nothing


def _fork_sibling() -> int | None:
    """``os.fork()`` where it is safe (0 in the child), None where it is not or fails:
    then this worker draws alone."""
    try:
        if not _may_fork():
            return None
        with warnings.catch_warnings():  # Python 3.12's, for OpenBLAS's threads: they
            warnings.simplefilter("ignore", DeprecationWarning)  # stop for the fork
            return os.fork()
    except Exception:  # out of processes or memory
        return None


def _reap(children: list[int]) -> None:
    """Wait a little for the workers this one forked, which leave when it does: reaped
    by their parent, their CPU time counts in the command's (``time``, ``getrusage``)."""
    deadline = time.monotonic() + _REAP_SECONDS
    for child in children:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(child, os.WNOHANG) == (0, 0) and time.monotonic() < deadline:
                time.sleep(0.005)


Job = tuple[str, Any, tuple[str, ...], Any]


@dataclass
class _Worker:
    process: Any  # the first worker's multiprocessing.Process; None for those it forks
    pipe: Any
    dispatcher: threading.Thread | None = None
    pid: int | None = None  # as it says, once it has
    # the others' handle (pidfd_open): their parent is the first worker, so a pid alone
    # could name another process once theirs is gone
    handle: int | None = None

    def ready(self, pid: int) -> None:
        self.pid = pid
        if self.process is None:
            with contextlib.suppress(OSError, AttributeError):  # Linux 5.3 or later
                self.handle = os.pidfd_open(pid)

    def kill(self) -> None:
        with contextlib.suppress(OSError):  # gone already
            if self.process is not None:
                self.process.kill()
            elif self.handle is not None:
                signal.pidfd_send_signal(self.handle, signal.SIGKILL)
            elif self.pid is not None:
                os.kill(self.pid, signal.SIGKILL)

    def close(self) -> None:
        self.pipe.close()
        if self.handle is not None:
            os.close(self.handle)
            self.handle = None


class Drawer:
    """``with Drawer(parallel) as drawer: ticket = drawer.submit(kind, matrix, classes,
    order)``; ``drawer.png(ticket)`` is the PNG. ``parallel=False`` draws in this process.

    The workers (``WORKERS``) are started at once and import matplotlib while this
    process goes on, which never imports it unless it must draw: when no worker is left,
    or a worker failed to draw a figure (drawn here again, to raise here). Each worker
    has a thread here (its dispatcher) that sends it jobs, one at a time, the costliest
    waiting first, and receives their PNGs: nothing else touches its pipe, and the
    caller never waits on a pipe. While workers run, SIGPIPE is ignored, so writing to a
    worker that died is an error caught here, not the end of this process; the command's
    own handling of SIGPIPE (``| head``) is back when the ``with`` ends. A Drawer made
    off the main thread, which cannot ignore SIGPIPE, starts workers only if SIGPIPE is
    ignored."""

    def __init__(self, parallel: bool = True, workers: int = WORKERS) -> None:
        self._jobs: list[Job] = []
        self._waiting: list[int] = []  # tickets not sent to a worker
        self._here: list[int] = []  # tickets a worker failed to draw
        self._drawing: set[int] = set()  # the tickets workers draw
        self._pngs: dict[int, bytes] = {}
        self._changed = threading.Condition()
        self._closing = False
        self._workers: list[_Worker] = []
        self._alive = 0  # dispatchers whose worker takes jobs, or may
        self._killed = False
        self._collecting = False  # the caller waits for PNGs: its computing is done
        self._sigpipe = None
        if parallel and (os.cpu_count() or 1) > 1:
            self._start(workers)

    def _start(self, count: int) -> None:
        if threading.current_thread() is threading.main_thread():
            self._sigpipe = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        elif signal.getsignal(signal.SIGPIPE) != signal.SIG_IGN:
            return  # a dead worker's SIGPIPE would end this process: draw here
        pipes = []
        try:
            # forked before any thread but OpenBLAS's is started here (reading Parquet
            # starts Arrow's): the first worker has numpy and digitwise already, where a
            # spawned one imports them again; it forks the others once it has matplotlib
            fork = _may_fork()
            context = multiprocessing.get_context("fork" if fork else "spawn")
            pipes = [context.Pipe() for _ in range(count if fork else 1)]
            ours = [mine for mine, _ in pipes] if fork else []
            siblings = [theirs for _, theirs in pipes[1:]]
            process = context.Process(
                target=_serve, args=(pipes[0][1], siblings, ours), daemon=True
            )
            self._workers = [
                _Worker(process if i == 0 else None, mine) for i, (mine, _) in enumerate(pipes)
            ]
            process.start()
            for _, theirs in pipes:
                theirs.close()
        except BaseException as error:
            for worker in self._workers:
                if worker.process is not None and worker.process.pid is not None:  # started
                    worker.process.kill()
                    worker.process.join()
                worker.close()
            for _, theirs in pipes:  # closing twice is harmless
                theirs.close()
            self._workers = []
            self._restore_sigpipe()
            if isinstance(error, (OSError, RuntimeError)):
                return  # no worker: drawn here
            raise
        for worker in self._workers:
            worker.dispatcher = threading.Thread(target=self._dispatch, args=(worker,), daemon=True)
        self._alive = len(self._workers)
        for worker in self._workers:
            worker.dispatcher.start()

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
            if not self._collecting:
                self._collecting = True
                self._changed.notify_all()  # the other workers start
            while ticket not in self._pngs:
                if ticket in self._drawing or (self._alive and ticket in self._waiting):
                    # a worker draws it, or will: wait
                    left = None if deadline is None else max(deadline - time.monotonic(), 0)
                    if not self._changed.wait(timeout=left):
                        self._kill_all()  # stuck: each dispatcher reads end-of-file
                        deadline = None  # and puts its job back, to be drawn here
                    continue
                for tickets in (self._waiting, self._here):  # no worker's: drawn here
                    if ticket in tickets:
                        tickets.remove(ticket)
                break
            else:
                return self._pngs.pop(ticket)
        return draw_png(*self._jobs[ticket])

    def _dispatch(self, worker: _Worker) -> None:
        """A worker's thread: the costliest waiting job to it, its PNG back; again."""
        try:
            pid = worker.pipe.recv()  # the worker is ready
        except Exception:  # it died, or was never forked
            pid = None
        with self._changed:
            if pid is not None:
                worker.ready(pid)
            if self._killed:
                worker.kill()
            if pid is None:
                self._alive -= 1
                self._changed.notify_all()
                return
        first = worker is self._workers[0]
        while True:
            with self._changed:
                while not self._closing and not (self._waiting and (first or self._collecting)):
                    self._changed.wait()
                if self._closing:
                    break
                ticket = max(self._waiting, key=lambda t: _COST.get(self._jobs[t][0], 1))
                self._waiting.remove(ticket)
                self._drawing.add(ticket)
            try:
                worker.pipe.send(self._jobs[ticket])
                png = worker.pipe.recv()
            except Exception:  # the worker died (killed, out of memory), was stuck, or the
                worker.kill()  # job could not be sent: it must not wait for it for ever
                png, working = None, False
            else:
                working = True
            with self._changed:
                if png is not None:
                    self._pngs[ticket] = png
                elif working:  # drawing it failed there: drawn here (and raises here)
                    self._here.append(ticket)
                else:  # the worker is gone: drawn by another, or here when asked for
                    self._waiting.append(ticket)
                self._drawing.discard(ticket)
                self._alive -= not working
                self._changed.notify_all()
            if not working:
                return
        try:
            worker.pipe.send(None)  # done: the worker leaves at once
        except Exception:
            worker.kill()

    def _kill_all(self) -> None:
        """Called holding ``_changed``: every worker, and any that says it is ready later."""
        self._killed = True
        for worker in self._workers:
            worker.kill()

    def _restore_sigpipe(self) -> None:
        if self._sigpipe is not None:
            signal.signal(signal.SIGPIPE, self._sigpipe)
            self._sigpipe = None

    def __enter__(self) -> "Drawer":
        return self

    def __exit__(self, kind: object, *exc_info: object) -> None:
        if not self._workers:
            return
        with self._changed:
            if kind is not None:
                self._kill_all()  # after an error, do not wait for a figure
            self._closing = True
            self._changed.notify_all()
        deadline = time.monotonic() + WORKER_PATIENCE
        for worker in self._workers:  # each sends None, or saw its worker die
            worker.dispatcher.join(max(deadline - time.monotonic(), 0))
            if worker.dispatcher.is_alive():  # a figure nobody asked for, stuck
                worker.kill()
                worker.dispatcher.join()
        for worker in self._workers:  # every one told to leave: the first reaps the others
            if worker.process is not None:
                worker.process.join(max(deadline - time.monotonic(), 0) + _REAP_SECONDS)
                if worker.process.is_alive():  # stopped, say: it never read None
                    self._kill_all()
                    worker.process.join()
            worker.close()  # after its dispatcher: the descriptors could be reused
        self._restore_sigpipe()
