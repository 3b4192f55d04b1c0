"""End to end: the real `dvc repro` in a fresh git repository made from this project."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import BEFORE_REPRO, copy_project

ROOT = Path(__file__).resolve().parents[1]

PROJECT_FILES = [
    "dvc.yaml",
    "params.yaml",
    ".dvc/config",
    ".dvcignore",
    "stages",
    "src",
    "data/raw/README.md",
    ".gitignore",
]
OUTPUTS = {
    "dvc.lock",
    "data/.gitignore",
    "models/.gitignore",
    "models/model.skops",
    "data/predictions.csv",
    *(f"data/prepared/{p}_{f}.npy" for p in ("train", "test") for f in ("images", "labels", "ids")),
    "data/prepared/classes.json",
    "data/prepared/meta.json",
    "reports/metrics.json",
    "reports/intervals.json",
    "reports/confusion.json",
    "reports/top_confusions.json",
    "reports/pairwise.json",
    "reports/calibration.json",
    "reports/per_class.json",
    "reports/figures/confusion_counts.png",
    "reports/figures/confusion_normalized.png",
    "reports/figures/pairwise_accuracy.png",
    "reports/figures/reliability_diagram.png",
    "reports/separability.json",
    "reports/model_vs_data.json",
    "reports/figures/separability.png",
    "reports/figures/separability_maps.png",
    "reports/figures/model_vs_data.png",
    "reports/attribution.json",
    "reports/figures/attribution_class_means.png",
    "reports/figures/attribution_examples.png",
    "reports/confusion_examples.json",
    "reports/figures/confusion_examples.png",
    "reports/label_issues.json",
    "reports/steps/accuracy.csv",
    "reports/steps/loss.csv",
    "reports/figures/steps_confusion.png",
    "reports/report.html",
}
HEADLINE_KEYS = {
    "accuracy",
    "balanced_accuracy",
    "f1_macro",
    "matthews_corrcoef",
    "cohen_kappa",
    "log_loss",
    "top_2_accuracy",
    "auc_ovo_m",
    "ece",
    "classwise_ece",
    "n_samples",
}


def environment() -> dict[str, str]:
    return {
        **os.environ,
        # the stage commands say `python`: make it this interpreter
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }


def run(repo: Path, *command: str) -> str:
    result = subprocess.run(
        command, cwd=repo, env=environment(), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def start_queue_workers(repo: Path, *, jobs: int) -> None:
    """`dvc queue start`: its workers outlive it, so they must not inherit our pipes (a
    captured run would wait for them to close them, that is, forever)."""
    command = [sys.executable, "-m", "dvc", "queue", "start", "-j", str(jobs)]
    subprocess.run(
        command,
        cwd=repo,
        env=environment(),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def dvc(repo: Path, *args: str) -> str:
    return run(repo, sys.executable, "-m", "dvc", *args)


def files(repo: Path) -> set[str]:
    return {
        str(p.relative_to(repo))
        for p in repo.rglob("*")
        if p.is_file() and ".git" not in p.parts and ".dvc" not in p.parts
    }


def make_repo(repo: Path) -> Path:
    """This project's files in a new git repository, committed."""
    repo.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    run(repo, "git", "init", "-q", "-b", "main")
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "project")
    return repo


@pytest.fixture(scope="module")
def repo(reproduced_project, tmp_path_factory) -> Path:
    """A copy of the project after its first ``dvc repro`` (shared by every test file)."""
    return copy_project(reproduced_project, tmp_path_factory.mktemp("pipeline") / "project")


def test_dvc_repro_end_to_end(repo, reproduced_project):
    # the first run, from a fresh repository, made every output and nothing else
    before = set(json.loads((reproduced_project.parent / BEFORE_REPRO).read_text()))
    assert files(repo) - before == OUTPUTS
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert set(metrics) == HEADLINE_KEYS
    per_class = json.loads((repo / "reports/per_class.json").read_text())
    assert [row["class"] for row in per_class] == [str(d) for d in range(10)]
    assert all(set(row) == {"class", "precision", "recall", "f1", "support"} for row in per_class)
    assert set(json.loads((repo / "reports/confusion.json").read_text())) == {
        "classes",
        "counts",
        "normalized_by_true",
        "normalized_by_pred",
        "normalized_by_all",
        "predictions_sha256",
        "class_order",
    }
    assert set(json.loads((repo / "reports/pairwise.json").read_text())) == {
        "classes",
        "pairwise_accuracy",
        "pairwise_auc",
        "m_measure",
    }
    intervals = json.loads((repo / "reports/intervals.json").read_text())
    assert set(intervals) == {"accuracy", "balanced_accuracy", "f1_macro"}
    for name, bounds in intervals.items():
        assert bounds["low"] < metrics[name] < bounds["high"]
    assert "up to date" in dvc(repo, "status")

    # Byte-reproducible: the stages' own tests run each twice, test_kills reruns the killed
    # stages and test_workflows the pipeline in another checkout, each expecting the same bytes
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "outputs")

    # One param of train changes: prepare is skipped, train and what follows rerun.
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["logistic_regression"]["C"] = 0.01
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    log = dvc(repo, "repro", "evaluate")  # what the diffs below read, and no more
    assert "Stage 'prepare' didn't change, skipping" in log
    assert "Running stage 'train'" in log
    assert "Running stage 'evaluate'" in log

    diff = json.loads(dvc(repo, "metrics", "diff", "--json"))["reports/metrics.json"]
    assert diff["accuracy"]["diff"] != 0
    assert diff["accuracy"]["old"] == pytest.approx(metrics["accuracy"])
    params_diff = json.loads(dvc(repo, "params", "diff", "--json"))["params.yaml"]
    assert params_diff["train.logistic_regression.C"]["old"] == 1.0
    assert params_diff["train.logistic_regression.C"]["new"] == 0.01

    plots = json.loads(dvc(repo, "plots", "diff", "HEAD", "--json"))["data"]
    image = plots["reports/figures/pairwise_accuracy.png"]
    assert {rev for entry in image for rev in entry["revisions"]} == {"workspace", "HEAD"}
    assert "Confusion matrix (from the predictions file)" in plots

    # A change that only evaluate reads reruns evaluate alone.
    params["evaluate"]["top_confusions"] = 3
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    log = dvc(repo, "repro", "evaluate")
    for stage in ("prepare", "train", "predict"):
        assert f"Stage '{stage}' didn't change, skipping" in log
    assert "Running stage 'evaluate'" in log
    top = json.loads((repo / "reports/top_confusions.json").read_text())["top_confusions"]
    assert len(top) == 3
