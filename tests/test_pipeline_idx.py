"""End to end on MNIST-format files: the real `dvc repro` on a small IDX set brought in
with `dvc add`, and the reruns DVC owes a replaced raw file or a new data.path."""

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from test_pipeline import OUTPUTS, PROJECT_FILES, ROOT, dvc, files, run

sys.path.insert(0, str(ROOT / "benchmarks"))
import mnist_like

FASHION = mnist_like.WORD_CLASSES


def set_params(repo: Path, changes: dict) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = params
        for key in parents:
            node = node[key]
        node[last] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params))


@pytest.fixture(scope="module")
def idx_repo(tmp_path_factory) -> Path:
    """The project on a tiny MNIST-format set (300 + 100 images of 28x28, gzip) whose
    classes are words, brought in as the README says: `dvc add` of its directory."""
    repo = tmp_path_factory.mktemp("idx-project")
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    mnist_like.write_set(repo / "data/raw/mnist", n_train=300, n_test=100, compress=True)
    run(repo, "git", "init", "-q", "-b", "main")
    dvc(repo, "add", "data/raw/mnist")
    set_params(
        repo,
        {
            "data.source": "idx",
            "data.path": "data/raw/mnist",
            "data.classes": FASHION,
            "split.method": "source",
            "attribution.patch": 2,
        },
    )
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "project on MNIST-format files")
    return repo


def test_mnist_format_files_through_every_stage(idx_repo):
    repo = idx_repo
    before = files(repo)
    assert {"data/raw/mnist.dvc", "data/raw/.gitignore"} <= before
    dvc(repo, "repro")
    assert files(repo) - before == OUTPUTS
    assert json.loads((repo / "data/prepared/meta.json").read_text()) == {
        "image_shape": [28, 28],
        "pixel_max": 255,
    }
    # the class names read naturally in every file
    assert json.loads((repo / "data/prepared/classes.json").read_text()) == FASHION
    per_class = json.loads((repo / "reports/per_class.json").read_text())
    assert [row["class"] for row in per_class] == FASHION
    header = (repo / "data/predictions.csv").read_text().splitlines()[0]
    assert header == "sample,actual,predicted," + ",".join(
        f'"proba_{name}"' if "," in name else f"proba_{name}" for name in FASHION
    )
    assert json.loads((repo / "reports/confusion.json").read_text())["classes"] == FASHION
    examples = json.loads((repo / "reports/confusion_examples.json").read_text())
    assert examples["confusions"]
    for cell in examples["confusions"]:
        assert {cell["actual"], cell["predicted"]} <= set(FASHION)
    attribution = json.loads((repo / "reports/attribution.json").read_text())
    assert attribution["method"] == "linear_shap"  # exact at 784 pixels too
    assert attribution["efficiency_max_abs_error"] < 1e-8
    assert len(attribution["explained_sample_ids"]) == 100
    # every figure is in the one offline report
    html = (repo / "reports/report.html").read_text()
    assert html.count("data:image/png;base64,") >= len(list((repo / "reports/figures").iterdir()))
    assert (repo / "reports/report.html").stat().st_size < 10_000_000

    # Replacing a raw file reruns prepare, and through data/prepared everything after it.
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "outputs")
    assert "up to date" in dvc(repo, "status")
    replacement = repo / "replacement"
    mnist_like.write_set(replacement, n_train=300, n_test=100, seed=1, compress=True)
    labels = "t10k-labels-idx1-ubyte.gz"
    (repo / "data/raw/mnist" / labels).write_bytes((replacement / labels).read_bytes())
    status = dvc(repo, "status", "prepare")
    assert "modified:           data/raw/mnist" in status
    log = dvc(repo, "repro", "prepare")
    assert "Running stage 'prepare'" in log
    downstream = dvc(repo, "status")
    for stage in ("train", "predict", "examples", "diagnose_data", "explain", "steps"):
        assert f"{stage}:" in downstream
    assert "modified:           data/prepared" in downstream

    # Switching data.path to another directory also reruns prepare.
    set_params(repo, {"data.path": "replacement"})
    status = dvc(repo, "status", "prepare")
    assert "modified:           replacement" in status  # the new directory is the dep
    assert "params.yaml:" in status  # and data.path changed
