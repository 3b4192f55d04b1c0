"""Experiments across machines: the grid of sweep.yaml, run in one clone and pushed, then
pulled into another and collected into one table; the workflow that does it on GitHub.

Two machines are two clones here: a bare git repository is their `origin`, a local
directory their DVC remote (both in the test's temporary directory)."""

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import copy_project
from scipy.stats import binomtest
from test_pipeline import ROOT, dvc, environment, run
from test_workflows import install_of

from digitwise.cli import run as run_command
from digitwise.cli.main import main
from digitwise.errors import UserError
from digitwise.sweep import collect, grid

# one experiment that changes the predictions, one that changes only the intervals: each
# reruns train, predict and evaluate at most (the table reads nothing else)
SWEEP = {"lr-c0.1": {"train.logistic_regression.C": 0.1}, "seed-7": {"evaluate.bootstrap_seed": 7}}


WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "sweep.yml").read_text())


def digitwise(repo: Path, *args: str, capsys, monkeypatch) -> str:
    """The command run in ``repo``, in this process: what it printed (it must succeed)."""
    monkeypatch.chdir(repo)
    capsys.readouterr()
    code = run_command(main, list(args))
    printed = capsys.readouterr()
    assert code == 0, printed.err
    return printed.out + printed.err


def job_steps(job: str, repo: Path, **env: str) -> str:
    """The ``run:`` steps of a job of the workflow but its installs (the README's, which
    made this environment; any other is refused), as the runner runs them (``bash
    --noprofile --norc -eo pipefail``), with the job's env but ``env``."""
    printed = ""
    for step in WORKFLOW["jobs"][job]["steps"]:
        if "run" not in step or install_of(step["run"]) is not None:
            continue
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=repo,
            env=environment() | env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"{step['name']}:\n{result.stdout}\n{result.stderr}"
        printed += result.stdout + result.stderr
    return printed


@pytest.fixture(scope="module")
def machines(reproduced_project, tmp_path_factory):
    """Clone A ran the experiment job's steps for both experiments, clone B (a fresh
    clone, no DVC cache) the collect job's: git refs only, as between runners."""
    tmp = tmp_path_factory.mktemp("sweep")
    origin = tmp / "origin.git"
    a = copy_project(reproduced_project, tmp / "a")
    shutil.copy2(ROOT / ".dvc" / ".gitignore", a / ".dvc" / ".gitignore")
    (a / "sweep.yaml").write_text(yaml.safe_dump({"experiments": SWEEP}))
    run(a, "git", "add", "-A")
    run(a, "git", "commit", "-q", "-m", "outputs and a sweep")
    run(tmp, "git", "init", "-q", "--bare", "-b", "main", str(origin))
    run(a, "git", "push", "-q", str(origin), "main")
    for name in SWEEP:
        printed = job_steps("experiment", a, EXPERIMENT=name, ORIGIN=str(origin))
        assert f"$ dvc exp run --temp --name {name} " in printed
    b = tmp / "b"
    run(tmp, "git", "clone", "-q", str(origin), str(b))
    summary = tmp / "summary.md"
    job_steps("collect", b, ORIGIN=str(origin), GITHUB_STEP_SUMMARY=str(summary))
    return a, b, origin, summary


def test_the_other_machine_sees_both_experiments_with_their_metrics(machines):
    a, b, _, summary = machines
    assert summary.read_text() == (b / "sweep" / "experiments.md").read_text()
    shown = json.loads(dvc(b, "exp", "show", "--json"))
    (baseline,) = [entry for entry in shown if entry["rev"] != "workspace"]
    assert baseline["rev"] == run(a, "git", "rev-parse", "HEAD").strip()
    experiments = {
        rev["name"]: rev["data"] for entry in baseline["experiments"] for rev in entry["revs"]
    }
    assert set(experiments) == set(SWEEP)
    for name, data in experiments.items():
        commit = run(
            a, "git", "rev-parse", f"refs/exps/{baseline['rev'][:2]}/{baseline['rev'][2:]}/{name}"
        ).strip()
        committed = json.loads(run(a, "git", "show", f"{commit}:reports/metrics.json"))
        assert data["metrics"]["reports/metrics.json"]["data"] == committed
        ((key, value),) = SWEEP[name].items()
        section, *rest = key.split(".")
        params = data["params"]["params.yaml"]["data"][section]
        for part in rest:
            params = params[part]
        assert params == value
    # --no-cache: the model of the experiment that trained stayed on A
    lock = yaml.safe_load(run(b, "git", "show", f"{_ref(b, 'lr-c0.1')}:dvc.lock"))
    (model,) = lock["stages"]["train"]["outs"]
    assert not (b / ".dvc" / "cache").exists()
    assert (a / ".dvc" / "cache" / "files" / "md5" / model["md5"][:2] / model["md5"][2:]).is_file()


def _ref(repo: Path, name: str) -> str:
    head = run(repo, "git", "rev-parse", "HEAD").strip()
    return run(repo, "git", "rev-parse", f"refs/exps/{head[:2]}/{head[2:]}/{name}").strip()


def _predictions(repo: Path, revision: str) -> pd.DataFrame:
    shown = subprocess.run(
        ["git", "show", f"{revision}:data/predictions.csv"], cwd=repo, capture_output=True
    )
    from io import BytesIO

    return pd.read_csv(BytesIO(shown.stdout)).sort_values("sample").reset_index(drop=True)


def test_the_collected_table_compares_each_experiment_with_the_baseline(
    machines, tmp_path, capsys, monkeypatch
):
    _, b, _, _ = machines
    printed = digitwise(
        b,
        "sweep",
        "collect",
        "--out",
        str(tmp_path / "sweep"),
        capsys=capsys,
        monkeypatch=monkeypatch,
    )
    table = (tmp_path / "sweep" / "experiments.md").read_text()
    assert printed.startswith(table)
    collected = json.loads((tmp_path / "sweep" / "experiments.json").read_text())
    rows = {row["experiment"]: row for row in collected["rows"][1:]}
    assert list(rows) == sorted(SWEEP)
    base = _predictions(b, "HEAD")
    for name, row in rows.items():
        assert row["params_changed"] == SWEEP[name]
        new = _predictions(b, row["commit"])
        assert (new["sample"] == base["sample"]).all()
        right_new = new["actual"] == new["predicted"]
        right_base = base["actual"] == base["predicted"]
        n_new_only, n_base_only = (
            int((right_new & ~right_base).sum()),
            int((right_base & ~right_new).sum()),
        )
        test = row["against_baseline"]["mcnemar"]
        assert (test["n_new_only"], test["n_base_only"]) == (n_new_only, n_base_only)
        expected_p = (
            binomtest(n_new_only, n_new_only + n_base_only).pvalue
            if n_new_only + n_base_only
            else 1.0
        )
        assert test["p_value"] == pytest.approx(expected_p, rel=1e-9)
        assert row["against_baseline"]["accuracy"]["difference"] == pytest.approx(
            right_new.mean() - right_base.mean()
        )
        assert row["metrics"]["accuracy"]["value"] == pytest.approx(right_new.mean())
        intervals = json.loads(run(b, "git", "show", f"{row['commit']}:reports/intervals.json"))
        assert row["metrics"]["accuracy"]["low"] == intervals["accuracy"]["low"]
        line = next(line for line in table.splitlines() if line.startswith(f"| {name} |"))
        assert f"{row['metrics']['accuracy']['value']:.4f} [" in line
        assert f"| {n_new_only} / {n_base_only} |" in line
    # one experiment changed the predictions, the other only the intervals
    assert rows["lr-c0.1"]["against_baseline"]["mcnemar"]["n_base_only"] > 0
    assert rows["seed-7"]["against_baseline"]["mcnemar"] | {"p_value": 1.0} == {
        "n_new_only": 0,
        "n_base_only": 0,
        "p_value": 1.0,
    }
    assert rows["seed-7"]["metrics"]["accuracy"] != collected["rows"][0]["metrics"]["accuracy"]


def test_collect_without_experiments_is_one_line(machines, tmp_path, capsys, monkeypatch):
    _, b, _, _ = machines
    monkeypatch.chdir(b)
    assert (
        run_command(main, ["sweep", "collect", "--baseline", "HEAD~1", "--out", str(tmp_path)]) == 2
    )
    error = capsys.readouterr().err
    assert error.startswith("error: baseline HEAD~1 (") and "no experiments" in error
    assert error.count("\n") == 1
    assert (
        run_command(main, ["sweep", "collect", "--baseline", "nope", "--out", str(tmp_path)]) == 2
    )
    assert (
        capsys.readouterr().err
        == f"error: baseline nope: not a revision of the git repository at {b}\n"
    )
    assert not any(tmp_path.iterdir())


# --- the grid and the workflow, without running anything ---------------------------


def test_the_repository_grid_is_the_six_models():
    experiments = grid.load_grid(ROOT / "sweep.yaml", ROOT / "params.yaml")
    models = yaml.safe_load((ROOT / "params.yaml").read_text())["train"]
    assert [experiment.params for experiment in experiments] == [
        {"train.model": name} for name in models if isinstance(models[name], dict)
    ]


def test_the_matrix_command_prints_the_names(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert run_command(main, ["sweep", "matrix"]) == 0
    names = list(yaml.safe_load((ROOT / "sweep.yaml").read_text())["experiments"])
    assert json.loads(capsys.readouterr().out) == {"experiment": names}


def test_each_value_reaches_dvc_as_written():
    experiment = grid.Experiment(
        "x",
        {"a.b": 0.1, "a.c": "svc", "a.d": None, "a.e": [64, 32], "a.f": "true", "a.g": "two words"},
    )
    command = grid.exp_run_command(experiment, ("evaluate",))
    assert command == [
        "dvc",
        "exp",
        "run",
        "--temp",
        "--name",
        "x",
        "--set-param=a.b=0.1",
        "--set-param=a.c=svc",
        "--set-param=a.d=null",
        "--set-param=a.e=[64, 32]",
        '--set-param=a.f="true"',
        '--set-param=a.g="two words"',
        "evaluate",
    ]
    for argument in command[6:-1]:  # read back as DVC reads a -S value: YAML
        key, text = argument.removeprefix("--set-param=").split("=", 1)
        assert yaml.safe_load(text) == experiment.params[key]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("experiments: {}\n", "'experiments' must map names to the params they set"),
        ("runs: {a: {train.model: svc}}\n", "must be a mapping with one key, 'experiments'"),
        ("experiments: {a: {train.modle: svc}}\n", "experiments.a: 'train.modle' is not a key of"),
        ("experiments: {a: {train: svc}}\n", "experiments.a: 'train' is not a key of"),
        ("experiments: {a: {}}\n", "experiments.a: must map params.yaml keys to values"),
        ("experiments: {'-a': {train.model: svc}}\n", "experiment name '-a': letters, digits"),
        ("experiments: {a/b: {train.model: svc}}\n", "experiment name 'a/b'"),
        ("experiments: {a..b: {train.model: svc}}\n", "experiment name 'a..b'"),
        ("experiments: {x.lock: {train.model: svc}}\n", "experiment name 'x.lock'"),
        ("experiments: {x.: {train.model: svc}}\n", "experiment name 'x.'"),
        ("experiments: {a: {train.model: {x: 1}}}\n", "experiments.a.train.model: a number"),
        ("experiments: {a: {x: 1}, a: {y: 2}}\n", "not valid YAML at line 1"),
        ("experiments: [\n", "not valid YAML"),
    ],
)
def test_a_bad_sweep_file_is_one_line(tmp_path, capsys, text, message):
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    argv = ["sweep", "matrix", "--grid", str(path), "--params-file", str(ROOT / "params.yaml")]
    assert run_command(main, argv) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {path}: ") and message in error, error
    assert error.count("\n") == 1


def test_an_unknown_experiment_is_one_line(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert run_command(main, ["sweep", "run", "nope"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: sweep.yaml: no experiment 'nope'; it declares "
    )


def test_a_second_sweep_of_the_commit_replaces_its_experiments(machines, tmp_path):
    """The push step run again for an experiment of the same name, made anew: origin
    takes the new commit (without --force, dvc exp push says "diverged" and exits 0)."""
    a, _, origin, _ = machines
    head = run(a, "git", "rev-parse", "HEAD").strip()
    ref = f"refs/exps/{head[:2]}/{head[2:]}/seed-7"
    old = run(a, "git", "rev-parse", ref).strip()
    tree = run(a, "git", "rev-parse", f"{old}^{{tree}}").strip()
    new = run(a, "git", "commit-tree", tree, "-p", head, "-m", "seed-7 again").strip()
    run(a, "git", "update-ref", ref, new)
    try:
        push = WORKFLOW["jobs"]["experiment"]["steps"][-1]["run"]
        subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", push],
            cwd=a,
            env=environment() | {"EXPERIMENT": "seed-7", "ORIGIN": str(origin)},
            check=True,
            capture_output=True,
        )
        assert run(origin, "git", "rev-parse", ref).strip() == new
    finally:
        run(a, "git", "update-ref", ref, old)
        run(origin, "git", "update-ref", ref, old)


def test_a_shallow_clone_is_refused_before_running(machines, tmp_path, capsys, monkeypatch):
    _, _, origin, _ = machines
    shallow = tmp_path / "shallow"
    run(tmp_path, "git", "clone", "-q", "--depth", "1", f"file://{origin}", str(shallow))
    monkeypatch.chdir(shallow)
    assert run_command(main, ["sweep", "run", "seed-7", "evaluate"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {shallow}: a shallow clone, where dvc exp run records no ")
    assert error.count("\n") == 1


def test_an_experiment_cut_before_evaluate_is_refused(machines, tmp_path, capsys, monkeypatch):
    """A commit whose params.yaml says svc, but whose predictions and metrics are the
    baseline's: its dvc.lock gives it away."""
    _, b, _, _ = machines
    head = run(b, "git", "rev-parse", "HEAD").strip()
    ref = f"refs/exps/{head[:2]}/{head[2:]}/svc-train-only"
    params = (b / "params.yaml").read_text().replace("model: logistic_regression", "model: svc")
    blob = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"],
        cwd=b,
        input=params,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    index = {"GIT_INDEX_FILE": str(tmp_path / "index")}
    for command in (
        ["read-tree", head],
        ["update-index", "--cacheinfo", f"100644,{blob},params.yaml"],
    ):
        subprocess.run(["git", *command], cwd=b, env=environment() | index, check=True)
    tree = subprocess.run(
        ["git", "write-tree"],
        cwd=b,
        env=environment() | index,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    run(
        b,
        "git",
        "update-ref",
        ref,
        run(b, "git", "commit-tree", tree, "-p", head, "-m", "x").strip(),
    )
    monkeypatch.chdir(b)
    try:
        assert run_command(main, ["sweep", "collect", "--out", str(tmp_path / "out")]) == 2
    finally:
        run(b, "git", "update-ref", "-d", ref)
    error = capsys.readouterr().err
    assert error.startswith("error: svc-train-only (")
    assert (
        "dvc.lock: stage train ran with train.model=logistic_regression, params.yaml has svc"
        in error
    )
    assert error.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_the_workflow_pushes_with_the_token_in_the_url():
    """What the steps above cannot try offline: the ORIGIN of the push and the pull
    carries the job's token, the checkout keeps no credentials and fetches the whole
    history."""
    jobs = WORKFLOW["jobs"]
    url = "https://x-access-token:${{ github.token }}@github.com/${{ github.repository }}.git"
    for name in ("experiment", "collect"):
        steps = jobs[name]["steps"]
        # in the step that pushes or pulls only, never where pip runs packages' code
        assert [step.get("env", {}).get("ORIGIN") for step in steps if "ORIGIN" in str(step)] == [
            url
        ]
        checkout = steps[0]["with"]
        assert checkout == {"fetch-depth": 0, "persist-credentials": False}
    assert "evaluate" in jobs["experiment"]["steps"][-2]["run"]  # the table reads no further
    assert jobs["collect"]["needs"] == ["grid", "experiment"]
    assert "needs.grid.result == 'success'" in jobs["collect"]["if"]
    assert {job: spec["permissions"] for job, spec in jobs.items()} == {
        "grid": {"contents": "read"},
        "experiment": {"contents": "write"},
        "collect": {"contents": "read"},
    }
    assert WORKFLOW["permissions"] == {}


@pytest.mark.parametrize("good", [True, False])
def test_the_grid_step_writes_the_matrix_or_fails(tmp_path, good):
    """The grid job's script, run as the runner runs it (`bash --noprofile --norc -eo
    pipefail`): the matrix in GITHUB_OUTPUT, or a failed step for a refused sweep.yaml."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "sweep.yml").read_text())
    script = workflow["jobs"]["grid"]["steps"][-1]["run"]
    shutil.copy2(ROOT / "params.yaml", tmp_path / "params.yaml")
    text = (ROOT / "sweep.yaml").read_text()
    (tmp_path / "sweep.yaml").write_text(text if good else text.replace("train.model", "train.x"))
    (tmp_path / "step.sh").write_text(script)
    output = tmp_path / "output"
    output.write_text("")
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "step.sh"],
        cwd=tmp_path,
        env=environment() | {"GITHUB_OUTPUT": str(output)},
        capture_output=True,
        text=True,
        check=False,
    )
    if good:
        assert result.returncode == 0, result.stderr
        key, value = output.read_text().rstrip("\n").split("=", 1)
        names = list(yaml.safe_load(text)["experiments"])
        assert (key, json.loads(value)) == ("matrix", {"experiment": names})
    else:
        assert result.returncode == 2
        assert result.stderr.startswith("error: sweep.yaml: experiments.logistic_regression: ")
        assert output.read_text() == ""


def _lock(model_md5: str, predictions_md5: str, c: float) -> dict:
    """A dvc.lock of three stages, train -> predict -> evaluate, and one after them."""
    return {
        "stages": {
            "train": {
                "deps": [{"path": "stages/train.py", "md5": "s"}],
                "params": {"params.yaml": {"train": {"C": c}}},
                "outs": [{"path": "models/m", "md5": "m1"}],
            },
            "predict": {
                "deps": [{"path": "models/m", "md5": model_md5}],
                "outs": [{"path": "p.csv", "md5": predictions_md5}],
            },
            "evaluate": {
                "deps": [{"path": "p.csv", "md5": predictions_md5}],
                "params": {"params.yaml": {"evaluate.seed": 0}},
                "outs": [{"path": "metrics.json", "md5": hashlib.md5(b"{}").hexdigest()}],
            },
            "later": {
                "deps": [{"path": "metrics.json", "md5": "stale"}],
                "params": {"params.yaml": {"later.x": 1}},
            },
        }
    }


@pytest.mark.parametrize(
    ("lock", "params", "committed", "problem"),
    [
        (_lock("m1", "p1", 1.0), {"train.C": 1.0, "evaluate.seed": 0}, {}, None),
        (
            _lock("m1", "p1", 1.0),
            {"train.C": 0.1, "evaluate.seed": 0},
            {},
            "dvc.lock: stage train ran with train.C=1.0, params.yaml has 0.1",
        ),
        (
            _lock("m1", "p1", 1.0),
            {"train.C": 1.0},
            {},
            "dvc.lock: stage evaluate ran with evaluate.seed=0, not in params.yaml",
        ),
        (
            _lock("m0", "p1", 1.0),
            {"train.C": 1.0, "evaluate.seed": 0},
            {},
            "dvc.lock: stage predict read a models/m other than the one train made",
        ),
        (
            _lock("m1", "p1", 1.0),
            {"train.C": 1.0, "evaluate.seed": 0},
            {"metrics.json": b"{ }"},
            "metrics.json is not the output of evaluate that dvc.lock records",
        ),
        (
            _lock("m1", "p1", 1.0),
            {"train.C": 1.0, "evaluate.seed": 0},
            {"metrics.json": b"{}"},
            None,
        ),
        ({"stages": []}, {}, {}, "dvc.lock: not a DVC lock file"),
        ({"stages": {}}, {}, {}, "dvc.lock has no evaluate stage"),
    ],
)
def test_the_lock_check_finds_each_break_in_the_chain(lock, params, committed, problem):
    """Stages after evaluate (``later``: stale, and its param absent) are not looked at."""
    assert collect.lock_mismatch(lock, params, committed) == problem


def test_the_experiments_of_one_commit_against_another(machines, tmp_path, capsys, monkeypatch):
    """--against: the experiments of HEAD, compared with lr-c0.1's commit as if it were
    main; lr-c0.1 against itself changes nothing."""
    _, b, _, _ = machines
    against = _ref(b, "lr-c0.1")
    out = tmp_path / "sweep"
    printed = digitwise(
        b,
        "sweep",
        "collect",
        "--out",
        str(out),
        "--against",
        against,
        capsys=capsys,
        monkeypatch=monkeypatch,
    )
    head = run(b, "git", "rev-parse", "HEAD").strip()
    assert printed.startswith(
        f"## Experiments of `HEAD` ({head[:12]}) against `{against}` ({against[:12]})\n"
    )
    collected = json.loads((out / "experiments.json").read_text())
    assert (collected["baseline_commit"], collected["experiments_of_commit"]) == (against, head)
    rows = {row["experiment"]: row for row in collected["rows"]}
    assert rows[against]["commit"] == against
    assert rows["lr-c0.1"]["params_changed"] == {}
    assert rows["lr-c0.1"]["against_baseline"]["mcnemar"]["n_base_only"] == 0
    assert (
        rows["seed-7"]["params_changed"] == {"train.logistic_regression.C": 1.0} | SWEEP["seed-7"]
    )


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"dvc.yaml": "stages: {evaluate: {cmd: [python, -m, stages.evaluate]}}\n"},
            "dvc.yaml must have an evaluate stage whose cmd names --params",
        ),
        ({"c.json": '{"classes": null}'}, "c.json must hold 'classes', a non-empty list"),
        ({"c.json": '{"counts": []}'}, "c.json must hold 'classes', a non-empty list"),
        ({"p.yaml": "a: [\n"}, "p.yaml: not YAML"),
    ],
)
def test_a_commit_collect_cannot_read_is_one_line(tmp_path, files, message):
    """Damaged files of the baseline's commit, read from git: never a traceback."""
    command = " ".join(
        f"--{name} {path}"
        for name, path in zip(
            collect.READ, ("p.yaml", "pred.csv", "m.json", "i.json", "c.json"), strict=True
        )
    )
    committed = {
        "dvc.yaml": f"stages: {{evaluate: {{cmd: python -m stages.evaluate {command}}}}}\n",
        "c.json": '{"classes": ["0", "1"]}',
        "p.yaml": "a: 1\n",
        "pred.csv": "sample,actual,predicted\n0,0,0\n",
    } | files
    for name, text in committed.items():
        (tmp_path / name).write_text(text)
    run(tmp_path, "git", "init", "-q")
    run(tmp_path, "git", "add", "-A")
    run(tmp_path, "git", "commit", "-q", "-m", "x")
    head = collect.resolve(tmp_path, "HEAD")
    run(tmp_path, "git", "update-ref", f"refs/exps/{head.commit[:2]}/{head.commit[2:]}/e", "HEAD")
    with pytest.raises(UserError, match=re.escape(message)):
        collect.collect(tmp_path, head, n_resamples=10, seed=0)
