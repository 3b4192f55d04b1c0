"""Heatmaps drawn by a worker process: the same PNG bytes as drawn here, and drawn
here when the worker is gone."""

import sys
import threading

import numpy as np

from digitwise.figures.background import Drawer, draw_png


def test_a_worker_draws_the_same_bytes_and_a_dead_worker_is_replaced_by_this_process():
    counts = np.array([[50, 2, 0], [3, 40, 1], [0, 0, 45]])
    classes = ("cat", "dog", "emu")
    expected = draw_png("confusion_counts_heatmap", counts, classes)
    with Drawer(parallel=True) as drawer:
        assert drawer._pool is not None  # this machine has two cores
        future = drawer.submit("confusion_counts_heatmap", counts, classes)
        assert drawer.png(future) == expected
        for process in drawer._pool._processes.values():  # the worker dies
            process.kill()
            process.join()
        again = drawer.submit("confusion_normalized_heatmap", counts, classes)
        assert drawer.png(again) == draw_png("confusion_normalized_heatmap", counts, classes)
    with Drawer(parallel=False) as drawer:
        assert drawer._pool is None
        assert drawer.png(drawer.submit("confusion_counts_heatmap", counts, classes)) == expected


def test_the_worker_is_forked_only_on_linux_from_a_process_of_one_thread(monkeypatch):
    from digitwise.figures import background

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
