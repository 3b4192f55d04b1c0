"""Shared fixtures: the project's own params file, writing variants of it, and the project
after one real ``dvc repro``."""

import copy
import os
import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DELETE = "<delete>"


# The files that take longest, started first and longest first, so that the two workers
# end together on the short files instead of one finishing a long one alone: pytest-xdist
# (`--dist loadfile --no-loadscope-reorder`) hands out whole files in collection order, the
# next one to the first worker with two tests or fewer left. First those that run the real
# pipeline in subprocesses (tens of seconds each): the first worker builds
# `reproduced_project` in test_pipeline while the second runs test_pipeline_idx, which does
# not need it; every other one copies it. Then the longest of the rest (seconds to tens).
SLOWEST_FIRST = (
    "test_pipeline.py",
    "test_pipeline_idx.py",
    "test_team_sweep.py",
    "test_pipeline_experiments.py",
    "test_kills.py",
    "test_workflows.py",
    "test_per_class.py",
    "test_team_remote.py",
    "test_metrics.py",
    "test_heatmaps.py",
    "test_dask_engine.py",
    "test_command.py",
    "test_separability.py",
    "test_fuzz.py",
    "test_provenance.py",
    "test_stages.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)  # stable: each file's tests keep their order


@pytest.fixture
def default_params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


@pytest.fixture
def write_params(tmp_path, default_params):
    """Write params.yaml with some keys changed: ``write_params({"train.seed": 3})``.

    A value of ``DELETE`` (the string ``"<delete>"``) removes the key.
    """

    def write(changes: dict | None = None, *, raw: str | None = None) -> Path:
        path = tmp_path / "params.yaml"
        if raw is not None:
            path.write_text(raw)
            return path
        values = copy.deepcopy(default_params)
        for dotted, value in (changes or {}).items():
            *parents, last = dotted.split(".")
            node = values
            for key in parents:
                node = node[key]
            if value == DELETE:
                del node[last]
            else:
                node[last] = value
        path.write_text(yaml.safe_dump(values))
        return path

    return write


@pytest.fixture(scope="session")
def reproduced_project(tmp_path_factory) -> Path:
    """This project in a git repository (its files committed) after one real ``dvc repro``:
    outputs, DVC cache and run-cache. Built once for the whole run and shared by the
    test workers, which wait for the first to build it; read it, never change it: take a
    copy with ``copy_project``. ``reproduced_project.parent / BEFORE_REPRO`` lists the
    files there were before the run."""
    import fcntl
    import json

    from test_pipeline import dvc, files, make_repo

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker's is inside the run's own
        shared = shared.parent
    project = shared / "reproduced-project"
    with open(shared / "reproduced-project.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / BEFORE_REPRO).exists():
            shutil.rmtree(project, ignore_errors=True)  # a build that failed half-way
            make_repo(project)
            before = sorted(files(project))
            dvc(project, "repro")
            (shared / BEFORE_REPRO).write_text(json.dumps(before))
    return project


BEFORE_REPRO = "reproduced-project-before.json"


def copy_project(project: Path, destination: Path) -> Path:
    """A working copy of ``reproduced_project``: its git history, workspace and DVC cache
    (DVC's temporary state, which names the original's paths, is left behind)."""
    shutil.copytree(project, destination, symlinks=True, ignore=_dvc_tmp(project))
    return destination


def _dvc_tmp(project: Path):
    def ignore(directory: str, names: list[str]) -> list[str]:
        return ["tmp"] if Path(directory) == project / ".dvc" else []

    return ignore
