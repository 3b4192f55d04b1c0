"""Figures drawn by a worker process: the same PNG bytes as drawn here; figures the
worker has not started are drawn here; a dead worker is replaced by this process; and
the worker never outlives this process."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from digitwise.figures import background
from digitwise.figures.background import Drawer, draw_png

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


def test_a_worker_draws_the_same_bytes_and_a_dead_worker_is_replaced_by_this_process(
    monkeypatch,
):
    expected = draw_png("confusion_counts_heatmap", COUNTS, CLASSES)
    with Drawer(parallel=True) as drawer:
        assert drawer._process is not None  # this machine has two cores
        here = drawn_here(monkeypatch)
        ticket = drawer.submit("confusion_counts_heatmap", COUNTS, CLASSES)
        assert drawer.png(ticket) == expected
        assert here == []  # the worker drew it
        drawer._process.kill()  # the worker dies
        drawer._process.join()
        again = drawer.submit("confusion_normalized_heatmap", COUNTS, CLASSES)
        assert drawer.png(again) == draw_png("confusion_normalized_heatmap", COUNTS, CLASSES)
    with Drawer(parallel=False) as drawer:
        assert drawer._process is None
        assert drawer.png(drawer.submit("confusion_counts_heatmap", COUNTS, CLASSES)) == expected


def test_figures_the_worker_has_not_started_are_drawn_here_costliest_to_the_worker(
    monkeypatch,
):
    with Drawer(parallel=True) as drawer:
        here = drawn_here(monkeypatch)
        many = tuple(map(str, range(30)))  # a slower first figure: the worker's
        first = drawer.submit("confusion_counts_heatmap", np.ones((30, 30)), many)
        deadline = time.monotonic() + 30
        while drawer._drawing != first and time.monotonic() < deadline:
            time.sleep(0.01)  # the dispatching thread sends it
        cheap = drawer.submit("pairwise_accuracy_heatmap", COUNTS / 50, CLASSES)
        costly = drawer.submit("confusion_normalized_heatmap", COUNTS, CLASSES)
        background._COST["confusion_normalized_heatmap"] = 3
        try:
            assert drawer._drawing == first and drawer._waiting == [cheap, costly]
            drawer.png(first)
            assert drawer._drawing == costly  # the costliest waiting goes next
            assert drawer.png(cheap) == draw_png("pairwise_accuracy_heatmap", COUNTS / 50, CLASSES)
            assert here == ["pairwise_accuracy_heatmap"]  # not started: drawn here
            assert drawer.png(costly) == draw_png("confusion_normalized_heatmap", COUNTS, CLASSES)
            assert here == ["pairwise_accuracy_heatmap"]  # the worker drew the costly one
        finally:
            del background._COST["confusion_normalized_heatmap"]


def test_the_worker_ends_when_the_process_that_started_it_is_killed(tmp_path):
    script = textwrap.dedent(
        """
        import os, signal, sys
        import numpy as np
        from digitwise.figures.background import Drawer
        drawer = Drawer(parallel=True)
        drawer.submit("confusion_counts_heatmap", np.ones((30, 30)), tuple(map(str, range(30))))
        print(drawer._process.pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    worker = int(done.stdout.split()[0])
    deadline = time.monotonic() + 20
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker), "the drawing worker outlived its parent"


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
        import signal
        import numpy as np
        from digitwise.figures.background import Drawer, draw_png
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        counts = np.ones((40, 40))
        names = tuple(map(str, range(40)))
        with Drawer(parallel=True) as drawer:
            drawer._process.kill()
            drawer._process.join()
            try:  # what a send does before the receiving thread has seen the worker die
                drawer._pipe.send(counts)
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


@pytest.mark.parametrize("n_classes", [3, 300])  # 300: more than a pipe's buffer to send
def test_a_stuck_worker_is_killed_and_its_figure_drawn_here(monkeypatch, n_classes):
    monkeypatch.setattr(background, "WORKER_PATIENCE", 1.0)
    counts = np.arange(n_classes**2).reshape(n_classes, n_classes)
    names = tuple(map(str, range(n_classes)))
    with Drawer(parallel=True) as drawer:
        os.kill(drawer._process.pid, signal.SIGSTOP)  # stuck, as a deadlocked child would be
        ticket = drawer.submit("confusion_counts_heatmap", counts, names)  # does not wait
        assert drawer.png(ticket) == draw_png("confusion_counts_heatmap", counts, names)
        assert not _alive(drawer._process.pid)


def test_the_worker_ignores_ctrl_c_which_its_parent_handles():
    with Drawer(parallel=True) as drawer:
        drawer.png(drawer.submit("confusion_counts_heatmap", COUNTS, CLASSES))  # started
        with open(f"/proc/{drawer._process.pid}/status") as status:
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
        assert drawer._process is None
        ticket = drawer.submit("confusion_counts_heatmap", COUNTS, CLASSES)
        assert drawer.png(ticket) == draw_png("confusion_counts_heatmap", COUNTS, CLASSES)


def test_a_figure_the_worker_fails_to_draw_is_drawn_here_and_raises_here(monkeypatch):
    with Drawer(parallel=True) as drawer:
        here = drawn_here(monkeypatch)
        bad = drawer.submit("confusion_counts_heatmap", "not a matrix", CLASSES)
        with pytest.raises(Exception):  # noqa: B017  whatever matplotlib raises
            drawer.png(bad)
        assert here == ["confusion_counts_heatmap"]  # once there, then once here
        good = drawer.submit("confusion_counts_heatmap", COUNTS, CLASSES)
        assert drawer.png(good) == draw_png("confusion_counts_heatmap", COUNTS, CLASSES)
