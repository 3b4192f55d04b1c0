"""The default DVC remote, and a round trip through one: clone A runs the pipeline and
pushes; a fresh clone B pulls, and DVC finds it up to date without running a stage.

The remote of `.dvc/config` is a directory beside the clone: with both clones side by
side in the test's temporary directory, the default needs no change."""

import hashlib
import shutil
from pathlib import Path

import yaml
from configobj import ConfigObj
from conftest import copy_project
from test_pipeline import ROOT, dvc, run

# the outputs DVC keeps in its cache (every other output is committed to git)
CACHED = ("models/model.skops", "data/prepared")


def test_the_default_remote_is_a_directory_beside_the_clone():
    """A fresh clone can push and pull with no credentials and no set-up."""
    config = ConfigObj(str(ROOT / ".dvc" / "config"))  # DVC's own reader of it
    default = config["core"]["remote"]
    url = config[f'remote "{default}"']["url"]
    # DVC reads a relative url from .dvc/, so this one is <clone>/../digitwise-storage
    assert (ROOT / ".dvc" / url).resolve() == ROOT.parent / "digitwise-storage"
    assert set(config[f'remote "{default}"']) == {"url"}  # no credentials, no options


def test_the_cached_outputs_are_the_ones_pushed():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    cached = {
        next(iter(out)) if isinstance(out, dict) else out
        for stage in stages.values()
        for out in stage.get("outs", [])
        if not (isinstance(out, dict) and next(iter(out.values())).get("cache") is False)
    }
    assert cached == set(CACHED)


def digests(repo: Path) -> dict[str, str]:
    """SHA-256 of every file of the cached outputs, by path."""
    found = {}
    for name in CACHED:
        path = repo / name
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file() and file.name != ".gitignore":
                found[str(file.relative_to(repo))] = hashlib.sha256(file.read_bytes()).hexdigest()
    return found


def test_push_from_one_clone_and_pull_into_a_fresh_one(reproduced_project, tmp_path):
    origin = tmp_path / "origin.git"
    a = copy_project(reproduced_project, tmp_path / "a")
    shutil.copy2(ROOT / ".dvc" / ".gitignore", a / ".dvc" / ".gitignore")  # config.local, cache
    run(a, "git", "add", "-A")
    run(a, "git", "commit", "-q", "-m", "outputs")
    dvc(a, "push")
    run(tmp_path, "git", "init", "-q", "--bare", "-b", "main", str(origin))
    run(a, "git", "push", "-q", str(origin), "main")

    b = tmp_path / "b"
    run(tmp_path, "git", "clone", "-q", str(origin), str(b))
    assert not (b / "models" / "model.skops").exists()
    assert not (b / "data" / "prepared").exists()
    assert not (b / ".dvc" / "config.local").exists()  # the committed default, unchanged
    dvc(b, "pull")
    assert "up to date" in dvc(b, "status")  # no stage to run: B has what A made
    assert digests(b) == digests(a)
    assert len(digests(b)) == 9  # the model and eight prepared files
    # both went through the default, <clone>/../digitwise-storage, shared by a and b
    stored = [path for path in (tmp_path / "digitwise-storage").rglob("*") if path.is_file()]
    assert len(stored) >= len(digests(a))
