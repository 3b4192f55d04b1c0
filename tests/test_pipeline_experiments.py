"""End to end, continued: a model that trains in steps, and experiments run from DVC's
queue and compared in one table. A file apart from tests/test_pipeline.py, on its own
copy of the reproduced project, so that the two workers run both halves side by side."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import copy_project
from test_pipeline import dvc, run, start_queue_workers


@pytest.fixture(scope="module")
def repo(reproduced_project, tmp_path_factory) -> Path:
    """A copy of the project after its first ``dvc repro``; the tests below run in order."""
    return copy_project(reproduced_project, tmp_path_factory.mktemp("experiments") / "project")


def test_an_mlp_draws_its_training_steps_and_is_explained_by_occlusion(repo):
    # the logistic regression of the first run has a learning curve, one step per
    # steps.fractions, whose last step (all of the split) is the model evaluate scored
    header, *rows = (repo / "reports/steps/accuracy.csv").read_text().splitlines()
    assert header == "step,step_kind,train_samples,train,validation"
    assert [row.split(",")[:2] for row in rows] == [
        [str(k), "training_fraction"] for k in (1, 2, 3, 4)
    ]
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert float(rows[-1].split(",")[4]) == metrics["accuracy"]
    assert json.loads((repo / "reports/attribution.json").read_text())["method"] == "linear_shap"

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["model"] = "mlp"
    params["train"]["mlp"]["max_iter"] = 20
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    log = dvc(repo, "repro", "steps", "explain")  # and what they need: train, predict
    assert "Running stage 'steps'" in log
    for name in ("accuracy", "loss"):
        lines = (repo / f"reports/steps/{name}.csv").read_text().splitlines()
        assert lines[0] == "step,step_kind,train_samples,train,validation"
        assert [line.split(",")[:2] for line in lines[1:]] == [
            [str(k), "epoch"] for k in range(1, 21)
        ]
    assert json.loads((repo / "reports/attribution.json").read_text())["method"] == "occlusion"


def saved_experiments(repo: Path) -> set[str]:
    """The names of the experiments DVC has saved, read from their git refs
    (``refs/exps/<baseline commit>/<name>``): git answers in milliseconds, where each
    ``dvc queue status`` is a second of CPU taken from the experiments it waits for."""
    listed = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname)", "refs/exps"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {ref.rsplit("/", 1)[-1] for ref in listed.splitlines()}


def wait_for_the_queue(repo: Path, names: set[str], *, seconds: float) -> str:
    """``dvc queue status`` once nothing is queued or running: asked every 2 s once every
    one of ``names`` is saved, and every 30 s before (a failed run saves nothing; each ask
    is a second or two of CPU, taken from the experiments)."""
    deadline = time.monotonic() + seconds
    asked = time.monotonic()
    while True:
        now = time.monotonic()
        due = 2 if names <= saved_experiments(repo) else 30
        if now - asked >= due or now > deadline:
            status = dvc(repo, "queue", "status")
            asked = time.monotonic()
            if ("Queued" not in status and "Running" not in status) or now > deadline:
                return status
        time.sleep(0.25)


EXP_SHOW_HEADLINE = [
    "exp",
    "show",
    "--no-pager",
    "--drop",
    ".*",
    "--keep",
    r"^(Experiment|train\.model|accuracy|balanced_accuracy|f1_macro|log_loss)$",
]


def test_experiments_run_queue_and_compare_in_120_columns(repo):
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "mlp")
    # up to evaluate, which writes the metrics the table shows
    dvc(repo, "exp", "run", "--queue", "--name", "knn", "-S", "train.model=knn", "evaluate")
    dvc(repo, "exp", "run", "--queue", "--name", "svc", "-S", "train.model=svc", "evaluate")
    start_queue_workers(repo, jobs=2)
    try:
        # about 20 s on an idle 2-core machine; minutes when it is shared
        status = wait_for_the_queue(repo, {"knn", "svc"}, seconds=600)
    finally:
        dvc(repo, "queue", "stop")  # the workers otherwise stay, idle, after the test
    assert status.count("Success") == 2, status
    rows = json.loads(dvc(repo, "exp", "show", "--json"))
    names = {exp["name"] for row in rows for exp in (row.get("experiments") or [])}
    assert {"knn", "svc"} <= names

    table = run(repo, "env", "COLUMNS=120", sys.executable, "-m", "dvc", *EXP_SHOW_HEADLINE)
    lines = table.splitlines()
    assert max(len(line) for line in lines) <= 120
    header = next(line for line in lines if "Experiment" in line)
    for column in ("accuracy", "balanced_accuracy", "f1_macro", "log_loss", "train.model"):
        assert column in header
    assert "…" not in table
    body = "\n".join(lines)
    for model in ("knn", "svc", "mlp"):  # the two experiments and the committed mlp
        assert model in body
