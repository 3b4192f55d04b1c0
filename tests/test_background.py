"""Figures drawn by two worker processes: the same PNG bytes as drawn here, the
costliest waiting first; this process draws only when no worker is left or one failed;
and no worker outlives this process."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from digitwise.figures import background
from digitwise.figures.background import Drawer, draw_png

# workers start from two cores on (this machine and CI have two)
pytestmark = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: no workers")

COUNTS = np.array([[50, 2, 0], [3, 40, 1], [0, 0, 45]])
CLASSES = ("cat", "dog", "emu")


def drawn_here(monkeypatch) -> list[str]:
    """The kinds this process draws from now on (a forked worker keeps the original)."""
    kinds: list[str] = []
    original = background.draw_png

    def counted(kind, *args):
        kinds.append(kind)
        return original(kind, *args)

    monkeypatch.setattr(background, "draw_png", counted)
    return kinds


def in_fresh_python(body) -> None:
    """Run ``body`` (a function of this module) in a fresh Python, as the command runs:
    one thread, so the workers are forked (pytest-xdist's worker has threads of its own,
    beside which a Drawer spawns its one worker instead)."""
    script = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
    script += f"import {Path(__file__).stem} as tests; tests.{body.__name__}()"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def ready(drawer: Drawer) -> list[int]:
    """The workers' pids, once every worker has said it is ready."""
    deadline = time.monotonic() + 60
    while any(worker.pid is None for worker in drawer._workers):
        assert time.monotonic() < deadline, "a worker never said it was ready"
        time.sleep(0.01)
    return [worker.pid for worker in drawer._workers]


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def test_two_workers_draw_the_same_bytes_and_this_process_only_once_every_worker_is_dead():
    in_fresh_python(two_workers_then_this_process)


def two_workers_then_this_process():
    monkeypatch = pytest.MonkeyPatch()
    expected = draw_png("confusion_counts_heatmap", COUNTS, CLASSES)
    normalized = draw_png("confusion_normalized_heatmap", COUNTS, CLASSES)
    with Drawer(parallel=True) as drawer:
        first, second = ready(drawer)  # this machine has two cores
        assert parent_of(first) == os.getpid() and parent_of(second) == first
        here = drawn_here(monkeypatch)
        assert drawer.png(drawer.submit("confusion_counts_heatmap", COUNTS, CLASSES)) == expected
        drawer._workers[0].kill()  # one worker dies: the other draws
        ticket = drawer.submit("confusion_normalized_heatmap", COUNTS, CLASSES)
        assert drawer.png(ticket) == normalized
        assert here == []
        drawer._workers[1].kill()  # both dead: drawn here
        ticket = drawer.submit("confusion_normalized_heatmap", COUNTS, CLASSES)
        assert drawer.png(ticket) == normalized
        assert here == ["confusion_normalized_heatmap"]
    with Drawer(parallel=False) as drawer:
        assert drawer._workers == []
        assert drawer.png(drawer.submit("confusion_counts_heatmap", COUNTS, CLASSES)) == expected


def test_the_first_worker_takes_the_costliest_waiting_figure_the_second_waits_for_the_caller():
    in_fresh_python(costliest_first)


def costliest_first():
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setitem(background._COST, "confusion_normalized_heatmap", 3)
    with Drawer(parallel=True) as drawer:
        here = drawn_here(monkeypatch)
        first, _ = ready(drawer)
        os.kill(first, signal.SIGSTOP)  # busy: it is sent a figure and keeps it
        try:
            busy = drawer.submit("confusion_counts_heatmap", COUNTS, CLASSES)
            wait_for(lambda: drawer._drawing == {busy})
            cheap = drawer.submit("pairwise_accuracy_heatmap", COUNTS / 50, CLASSES)
            costly = drawer.submit("confusion_normalized_heatmap", COUNTS, CLASSES)
            time.sleep(0.5)
            assert drawer._waiting == [cheap, costly]  # the second worker waits
            os.kill(first, signal.SIGCONT)  # free again: it takes the costly one
            wait_for(lambda: costly in drawer._drawing or costly in drawer._pngs)
            assert drawer._waiting == [cheap]
        finally:
            os.kill(first, signal.SIGCONT)
        # the caller waits: the second worker draws too
        assert drawer.png(cheap) == draw_png("pairwise_accuracy_heatmap", COUNTS / 50, CLASSES)
        assert drawer.png(costly) == draw_png("confusion_normalized_heatmap", COUNTS, CLASSES)
        assert drawer.png(busy) == draw_png("confusion_counts_heatmap", COUNTS, CLASSES)
        assert here == []  # all drawn by the workers


def wait_for(condition) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_this_process_never_imports_matplotlib_while_workers_draw():
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        from digitwise.figures.background import Drawer
        with Drawer(parallel=True) as drawer:
            png = drawer.png(drawer.submit("confusion_counts_heatmap", np.eye(3), "abc"))
        print(png.startswith(b"\\x89PNG"), "matplotlib" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.split() == ["True", "False"], done.stderr


def test_the_workers_end_when_the_process_that_started_them_is_killed(tmp_path):
    script = textwrap.dedent(
        """
        import os, signal, sys, time
        import numpy as np
        from digitwise.figures.background import Drawer
        drawer = Drawer(parallel=True)
        drawer.submit("confusion_counts_heatmap", np.ones((30, 30)), tuple(map(str, range(30))))
        while any(worker.pid is None for worker in drawer._workers):
            time.sleep(0.01)
        print(*(worker.pid for worker in drawer._workers), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    workers = [int(pid) for pid in done.stdout.split()]
    assert len(workers) == 2
    deadline = time.monotonic() + 20
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(_alive, workers)), "a drawing worker outlived its parent"


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie nobody has reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_worker_is_forked_only_on_linux_from_a_process_of_one_thread(monkeypatch):
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not background._may_fork()  # fork with threads may deadlock the child
    finally:
        release.set()
        other.join()
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not background._may_fork()  # fork without exec is unsafe there


def answers_of(script: str) -> list[str]:
    """What a fresh Python prints, with an OpenBLAS pool of one thread beside its own."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "2"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_openblas_threads_allow_a_fork_and_arrows_do_not(tmp_path):
    csv = tmp_path / "small.csv"
    csv.write_text("a,b\n1,2\n")
    script = textwrap.dedent(
        f"""
        import os
        import numpy
        from digitwise.figures.background import _may_fork, _openblas_threads
        tasks = len(os.listdir("/proc/self/task"))
        print(_may_fork(), _openblas_threads() == tasks - 1)
        import pyarrow.csv
        pyarrow.csv.read_csv({str(csv)!r})  # starts Arrow's thread pool
        print(_may_fork())
        """
    )
    assert answers_of(script) == ["True", "True", "False"]


def test_a_dead_worker_is_an_error_caught_even_where_sigpipe_ends_the_process():
    # the command restores SIGPIPE's default (``digitwise ... | head``): a write to a
    # worker that died must not end the command silently
    script = textwrap.dedent(
        """
        import signal, time
        import numpy as np
        from digitwise.figures.background import Drawer, draw_png
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        counts = np.ones((12, 12))
        names = tuple(map(str, range(12)))
        with Drawer(parallel=True) as drawer:
            while any(worker.pid is None for worker in drawer._workers):
                time.sleep(0.01)
            for worker in drawer._workers:
                worker.kill()
            drawer._workers[0].process.join()
            time.sleep(0.2)  # the second, the first one's child, is reaped by none
            try:  # what a send does before the dispatching thread has seen a worker die
                drawer._workers[1].pipe.send(counts)
            except OSError:
                pass
            tickets = [drawer.submit("confusion_counts_heatmap", counts, names) for _ in range(2)]
            pngs = [drawer.png(ticket) for ticket in tickets]
        assert pngs == [draw_png("confusion_counts_heatmap", counts, names)] * 2
        assert signal.getsignal(signal.SIGPIPE) == signal.SIG_DFL
        print("drawn here")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stdout) == (0, "drawn here\n"), done.stderr


def test_stuck_workers_are_killed_and_their_figures_drawn_here():
    in_fresh_python(stuck_workers)


def stuck_workers():
    background.WORKER_PATIENCE = 1.0
    for n_classes in (3, 300):  # 300: more than a pipe's buffer to send
        stuck_workers_of(n_classes)


def stuck_workers_of(n_classes: int) -> None:
    counts = np.arange(n_classes**2).reshape(n_classes, n_classes)
    names = tuple(map(str, range(n_classes)))
    with Drawer(parallel=True) as drawer:
        workers = ready(drawer)
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)  # stuck, as a deadlocked child would be
        ticket = drawer.submit("confusion_counts_heatmap", counts, names)  # does not wait
        assert drawer.png(ticket) == draw_png("confusion_counts_heatmap", counts, names)
    assert not any(map(_alive, workers))


def test_the_workers_ignore_ctrl_c_which_their_parent_handles():
    in_fresh_python(ctrl_c_ignored)


def ctrl_c_ignored():
    with Drawer(parallel=True) as drawer:
        workers = ready(drawer)
        assert len(workers) == 2
        for pid in workers:
            with open(f"/proc/{pid}/status") as status:
                ignored = next(line for line in status if line.startswith("SigIgn:"))
            assert int(ignored.split()[1], 16) & (1 << (signal.SIGINT - 1))


def test_no_fork_beside_a_foreign_thread_after_an_earlier_fork_stopped_openblas():
    script = textwrap.dedent(
        """
        import faulthandler, os
        import numpy
        from digitwise.figures.background import _may_fork
        child = os.fork()  # OpenBLAS stops its threads for it, and leaves them stopped
        if child == 0:
            os._exit(0)
        os.waitpid(child, 0)
        print(_may_fork())
        faulthandler.dump_traceback_later(600)  # a thread of C's, not OpenBLAS's
        print(_may_fork())
        """
    )
    assert answers_of(script) == ["True", "False"]


def test_a_drawer_made_off_the_main_thread_draws_here_unless_sigpipe_is_ignored():
    made = []
    thread = threading.Thread(target=lambda: made.append(Drawer(parallel=True)))
    previous = signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        thread.start()
        thread.join()
    finally:
        signal.signal(signal.SIGPIPE, previous)
    with made[0] as drawer:
        assert drawer._workers == []
        ticket = drawer.submit("confusion_counts_heatmap", COUNTS, CLASSES)
        assert drawer.png(ticket) == draw_png("confusion_counts_heatmap", COUNTS, CLASSES)


def test_beside_another_thread_one_worker_is_spawned_and_draws_the_same_bytes(monkeypatch):
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        with Drawer(parallel=True) as drawer:
            (worker,) = ready(drawer)
            assert parent_of(worker) == os.getpid()
            here = drawn_here(monkeypatch)
            ticket = drawer.submit("confusion_counts_heatmap", COUNTS, CLASSES)
            assert drawer.png(ticket) == draw_png("confusion_counts_heatmap", COUNTS, CLASSES)
            assert here == []
    finally:
        release.set()
        other.join()


def test_the_first_worker_draws_alone_when_it_cannot_fork_the_second():
    in_fresh_python(no_second_fork)


def no_second_fork():
    parent, fork = os.getpid(), os.fork

    def failing_fork():
        if os.getpid() != parent:  # in the first worker
            raise BlockingIOError("Resource temporarily unavailable")
        return fork()

    os.fork = failing_fork
    monkeypatch = pytest.MonkeyPatch()
    with Drawer(parallel=True) as drawer:
        here = drawn_here(monkeypatch)
        ticket = drawer.submit("confusion_counts_heatmap", COUNTS, CLASSES)
        assert drawer.png(ticket) == draw_png("confusion_counts_heatmap", COUNTS, CLASSES)
        assert here == [] and drawer._workers[1].pid is None


class Unpicklable(np.ndarray):
    def __reduce__(self):
        raise TypeError("not to be pickled")


def test_a_figure_that_cannot_be_sent_is_drawn_here_and_no_worker_is_left_waiting():
    matrix = COUNTS.view(Unpicklable)
    started = time.monotonic()
    with Drawer(parallel=True) as drawer:
        workers = ready(drawer)
        png = drawer.png(drawer.submit("confusion_counts_heatmap", matrix, CLASSES))
    assert png == draw_png("confusion_counts_heatmap", COUNTS, CLASSES)
    assert time.monotonic() - started < 60  # the with block does not wait for them
    deadline = time.monotonic() + 20
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(_alive, workers))


def test_a_figure_the_worker_fails_to_draw_is_drawn_here_and_raises_here(monkeypatch):
    with Drawer(parallel=True) as drawer:
        assert ready(drawer)  # forked, or spawned beside pytest-xdist's threads
        here = drawn_here(monkeypatch)
        bad = drawer.submit("confusion_counts_heatmap", "not a matrix", CLASSES)
        with pytest.raises(Exception):  # noqa: B017  whatever matplotlib raises
            drawer.png(bad)
        assert here == ["confusion_counts_heatmap"]  # once there, then once here
        good = drawer.submit("confusion_counts_heatmap", COUNTS, CLASSES)
        assert drawer.png(good) == draw_png("confusion_counts_heatmap", COUNTS, CLASSES)
        assert here == ["confusion_counts_heatmap"]  # a worker drew the good one
