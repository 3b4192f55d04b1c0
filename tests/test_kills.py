"""Kills leave nothing behind: stages of the real pipeline SIGKILLed at seeded random
moments, and between writing their outputs and renaming them into place; after the
next ``dvc repro`` the repository is as committed (``git status`` clean)."""

import contextlib
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil  # a dependency of DVC
import pytest
import yaml
from conftest import copy_project
from test_pipeline import ROOT, dvc, environment, run

from digitwise.io.outputs import STAGING_MARK

SEED = 20261201
STAGES = list(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])

# Loaded by every Python process of the run (from PYTHONPATH): the n-th rename of a
# file staged by digitwise (counting from 0) kills the process instead, at the moment
# after its outputs are written and flushed and before they are in place.
KILL_AT_RENAME = """
import os, signal

_at = os.environ.get("KILL_AT_RENAME")
if _at is not None:
    _replace, _seen = os.replace, [0]

    def _killing_replace(source, destination, *args, **kwargs):
        if {mark!r} in os.fspath(source):
            if _seen[0] == int(_at):
                os.kill(os.getpid(), signal.SIGKILL)
            _seen[0] += 1
        return _replace(source, destination, *args, **kwargs)

    os.replace = _killing_replace
"""


@pytest.fixture(scope="module")
def repo(reproduced_project, tmp_path_factory) -> Path:
    repo = copy_project(reproduced_project, tmp_path_factory.mktemp("kills") / "project")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "outputs")
    return repo


def stage_outputs(repo: Path, stage: str) -> list[Path]:
    outs = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"][stage]["outs"]
    return [repo / (next(iter(out)) if isinstance(out, dict) else out) for out in outs]


def committed(repo: Path, path: Path) -> bytes | None:
    """The file's bytes at HEAD, None when git does not track it (a DVC-cached output)."""
    shown = subprocess.run(
        ["git", "show", f"HEAD:{path.relative_to(repo)}"], cwd=repo, capture_output=True
    )
    return shown.stdout if shown.returncode == 0 else None


def assert_each_output_absent_or_complete(repo: Path, stage: str) -> None:
    """Same params, same data: an output that exists is byte for byte the committed one."""
    for path in stage_outputs(repo, stage):
        expected = committed(repo, path)
        if path.is_file() and expected is not None:
            assert path.read_bytes() == expected, f"{path} is incomplete or wrong"


def stage_command(repo: Path, stage: str) -> str:
    return yaml.safe_load((repo / "dvc.yaml").read_text())["stages"][stage]["cmd"]


def run_stage(repo: Path, stage: str, env: dict[str, str]) -> subprocess.Popen:
    """The stage's command as ``dvc repro`` runs it: its outputs deleted first, then the
    command in a shell (DVC itself, a few seconds a run, is left out of the loop)."""
    for path in stage_outputs(repo, stage):
        if path.is_dir():
            shutil.rmtree(path)
        path.unlink(missing_ok=True)
    return subprocess.Popen(
        stage_command(repo, stage),
        shell=True,
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill_stage_after(repo: Path, stage: str, seconds: float) -> None:
    """The stage's command, with every process it started, SIGKILLed ``seconds`` after it
    starts, unless it has finished by then."""
    shell = run_stage(repo, stage, environment())
    processes = psutil.Process(shell.pid)
    deadline = time.monotonic() + seconds
    while shell.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if shell.poll() is None:
        for process in [processes, *processes.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGKILL)
    shell.wait(timeout=60)


def kill_at_rename(repo: Path, stage: str, rename: int, site: Path) -> int:
    env = {**environment(), "PYTHONPATH": str(site), "KILL_AT_RENAME": str(rename)}
    return run_stage(repo, stage, env).wait(timeout=120)


def leftovers(repo: Path) -> list[str]:
    return sorted(
        str(path.relative_to(repo))
        for path in repo.rglob(f"*{STAGING_MARK}*")
        if ".git" not in path.parts and ".dvc" not in path.parts
    )


def test_killed_stages_leave_nothing_after_the_next_repro(repo, tmp_path):
    rng = random.Random(SEED)
    # every stage, from 0.2 s after its command starts (in its imports) to 4 s (most end
    # sooner: a kill after the end is a run to completion)
    kills = [(stage, "at", rng.uniform(0.2, 4.0)) for stage in STAGES]
    # evaluate writes 8 files: killed before one of its renames; train, before its only one
    kills += [("evaluate", "rename", rng.randrange(8)), ("train", "rename", 0)]
    # downstream stages first: a killed stage's outputs are gone, and a stage after it
    # would fail for want of its inputs before anything could be killed
    kills.sort(key=lambda kill: -STAGES.index(kill[0]))
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(KILL_AT_RENAME.format(mark=STAGING_MARK))
    for stage, how, when in kills:
        if how == "at":
            kill_stage_after(repo, stage, when)
        else:
            assert kill_at_rename(repo, stage, when, site) != 0
            directories = {path.parent.relative_to(repo) for path in stage_outputs(repo, stage)}
            assert {Path(name).parent for name in leftovers(repo)} & directories
        assert_each_output_absent_or_complete(repo, stage)

    dvc(repo, "repro")
    assert run(repo, "git", "status", "--porcelain", "--untracked-files=all") == ""
    assert "up to date" in dvc(repo, "status")
    # a stage that ran again swept its directories; one DVC restored from its run-cache
    # (train: models/) did not run, and its leftover is ignored until it runs again
    assert all(name.startswith("models/") for name in leftovers(repo)), leftovers(repo)
