"""The GitHub Actions workflows, replayed step by step as the runner runs them.

Nothing here reaches GitHub, so each job of `.github/workflows/*.yml` runs here the way
GitHub's Ubuntu runner runs it: in a fresh checkout of a repository made from this
project's files (what `git add -A` would commit, as they are in the working tree), each
`run:` step written to a file and run by the step's shell (`bash -e {0}` when none is
set, `bash --noprofile --norc -eo pipefail {0}` for `shell: bash`), its `${{ ... }}`
expressions substituted first, with fresh GITHUB_STEP_SUMMARY, GITHUB_OUTPUT, GITHUB_ENV
and GITHUB_PATH files for each step and a stand-in for the `github` context. A failing
step ends the job, as on the runner.

The stand-ins for GitHub's events:

- main is a commit of the project's files, with their committed outputs
  (data/predictions.csv, reports/, dvc.lock), then a push of a README line, which nothing
  in the pipeline reads: its baseline is `HEAD~1`;
- a pull request on main's first commit makes the model worse (a hundred times more
  regularisation). It is checked out as GitHub checks one out, as its merge into the base
  (`refs/pull/1/merge`), with `github.event.pull_request.base.sha` the base commit.

What runs instead of the steps that cannot run here:

- `actions/checkout`: `git init` and `git fetch` of the event's ref from that repository,
  as the action does: one commit deep, or the whole history with `fetch-depth: 0`;
- `actions/setup-python`: the interpreter running these tests, first on PATH;
- the README's installs (its two commands' `pip install`, as `python -m pip install`):
  - `python -m pip install -r requirements/<name>.lock`: the lock file is checked to exist
    (the test environment was installed from the test lock);
  - the project's install, `python -m pip install --no-deps --no-build-isolation
    --check-build-dependencies -e .`: it would repoint the test environment's editable
    install at the checkout, so instead the checkout's `src/` goes first on PYTHONPATH for
    the steps after it, and `import digitwise` is checked to find the checkout's code (the
    test environment has the project, its dependencies and its test extra installed;
    tests/test_lockfile.py checks that pip would build it with the lock's backend alone);
  - any other step that could install or remove a package (pip, uv, setup.py, an
    `install` of any tool, ...) is refused before the job starts, in every workflow
    (sweep.yml's included), never run against the environment running these tests;
- `pytest`: nothing, since it is the suite this file belongs to;
- `actions/upload-artifact`: a check that every path it names exists.

Each job gets its own checkout; the jobs share DVC's cache, as on a runner that restored
it, seeded with what the tests' reproduced project (tests/conftest.py) computed from the
same files, so a job checks out what was computed with the same inputs instead of
computing it again. What GitHub does before a job starts (`on`,
`concurrency`, `permissions`, `runs-on`) is not replayed: actionlint and zizmor check it
in .ci/run. Anything else that the replay does not know (a key, an action, a shell, an
expression, a step writing GITHUB_ENV) fails these tests, so that a new workflow feature
is replayed here or refused, never skipped.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from test_lockfile import two_commands_installs
from test_pipeline import ROOT, run

WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
# every job of every workflow: a new one needs a test here that replays it
REPLAYED = {("ci.yml", "checks"), ("ci.yml", "pipeline")}
# sweep.yml spreads over runners (a matrix from a job's outputs, refs pushed to GitHub):
# tests/test_team_sweep.py runs its commands in two clones instead of replaying its jobs
NOT_REPLAYED = {"sweep.yml"}

WORKFLOW_KEYS = {"name", "on", "permissions", "concurrency", "env", "defaults", "jobs"}
JOB_KEYS = {"name", "runs-on", "permissions", "env", "defaults", "steps"}
STEP_KEYS = {"name", "uses", "with", "run", "env", "shell"}
# the runner's command for each `shell:` value, None being the default (GitHub's docs,
# "jobs.<job_id>.steps[*].shell": unspecified on Linux is `bash -e {0}`)
SHELLS = {
    None: ["bash", "-e"],
    "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"],
}
# the files the runner hands each step, and reads back after it
STEP_FILES = {
    "GITHUB_STEP_SUMMARY": "summary",
    "GITHUB_OUTPUT": "output",
    "GITHUB_ENV": "env",
    "GITHUB_PATH": "path",
}
# the README's installs, as a step runs them: the locks' and the project's (`-e .`)
INSTALLS = {f"python -m {command}": command for command in two_commands_installs()}
# a command that could change a Python environment (or any tool's `install`): a step with one
# must be one of INSTALLS, replayed below, never run against the tests' own environment
INSTALLING = re.compile(
    r"\b(?:pip[0-9.]*|uv|pipx|poetry|pdm|hatch|pipenv|conda|mamba|micromamba|easy_install"
    r"|ensurepip|virtualenv|setup\.py|install|uninstall|develop)\b"
)
NOT_RUN = {"pytest": "nothing: it is the suite this file belongs to"}


class ReplayError(Exception):
    """The workflow uses something that this replay does not know how to run."""


# --- expressions -------------------------------------------------------------------

EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
TOKEN = re.compile(r"\s*(?:('(?:[^']|'')*')|([A-Za-z_][A-Za-z0-9_.-]*)|(\|\|))\s*")
CONTEXTS = {"github"}


def evaluate(expression: str, context: dict) -> object:
    """The value of an expression made of `||`, single-quoted strings and property paths
    of the contexts in ``context`` (a property of null is null, as on the runner; a
    property the stand-in lacks is an error, not a silent null)."""
    shown = "${{" + expression + "}}"
    tokens, position = [], 0
    while position < len(expression):
        token = TOKEN.match(expression, position)
        if token is None or token.end() == position:
            raise ReplayError(f"unsupported expression: {shown}")
        tokens.append(token.groups())
        position = token.end()
    # operand (|| operand)*
    operators = [operator is not None for _, _, operator in tokens]
    if not tokens or operators != [i % 2 == 1 for i in range(len(tokens))] or operators[-1]:
        raise ReplayError(f"unsupported expression: {shown}")
    operands = [
        literal[1:-1].replace("''", "'") if literal is not None else _lookup(path, context, shown)
        for literal, path, operator in tokens
        if operator is None
    ]
    # `a || b`: the first truthy operand, else the last one
    return next((value for value in operands if value not in (None, False, 0, "")), operands[-1])


def _lookup(path: str, context: dict, shown: str) -> object:
    names = path.split(".")
    if names[0] not in CONTEXTS or names[0] not in context:
        raise ReplayError(f"unknown context {names[0]!r} in {shown}")
    value: object = context
    for name in names:
        if value is None:
            return None
        if not isinstance(value, dict) or name not in value:
            raise ReplayError(f"the replay has no stand-in for {path} in {shown}")
        value = value[name]
    return value


def substitute(text: str, context: dict) -> str:
    """``text`` with each ``${{ ... }}`` replaced by its value, as the runner writes it."""

    def value(match: re.Match) -> str:
        result = evaluate(match.group(1), context)
        if isinstance(result, bool):
            return str(result).lower()
        return "" if result is None else str(result)

    return EXPRESSION.sub(value, text)


# --- the workflow, checked against what the replay knows ---------------------------


def load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads `on:` as true
    return workflow


def install_of(script: str) -> str | None:
    """The README's install that the step ``script`` is (None if it installs nothing); any
    other install is refused."""
    script = script.strip()
    if script in INSTALLS:
        return INSTALLS[script]
    if INSTALLING.search(script):
        known = "\n".join(f"  {command}" for command in INSTALLS)
        raise ReplayError(
            f"a step installs in a way the replay does not know, and would run in the "
            f"tests' own environment:\n  {script}\nit knows the README's installs only:\n"
            f"{known}\n(replay a new one in an environment of its own, never this one)"
        )
    return None


def check_installs(workflow: dict) -> None:
    """Refuse any `run:` step that installs other than as the README does."""
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "run" in step:
                install_of(step["run"])


def check_known(workflow: dict) -> None:
    """Refuse any key, action, shell or install that the replay would not run as GitHub
    does."""
    check_installs(workflow)
    _refuse_unknown("the workflow", workflow, WORKFLOW_KEYS)
    for job_id, job in workflow["jobs"].items():
        _refuse_unknown(f"job {job_id}", job, JOB_KEYS)
        if not str(job["runs-on"]).startswith("ubuntu-"):
            raise ReplayError(f"job {job_id}: runs on {job['runs-on']}; the replay is Linux")
        for step in job["steps"]:
            _refuse_unknown(f"job {job_id}, step {step}", step, STEP_KEYS)
            if "uses" in step and action_of(step) not in USES:
                raise ReplayError(f"job {job_id}: no local equivalent of {step['uses']}")
            if "run" in step and shell_of(step, job, workflow) not in SHELLS:
                raise ReplayError(f"job {job_id}: shell {shell_of(step, job, workflow)!r}")


def _refuse_unknown(where: str, mapping: dict, known: set[str]) -> None:
    unknown = set(mapping) - known
    if unknown:
        raise ReplayError(f"{where}: the replay does not know {sorted(unknown)}")


def action_of(step: dict) -> str:
    return step["uses"].split("@")[0]


def shell_of(step: dict, job: dict, workflow: dict) -> str | None:
    """The step's `shell`, else the job's default, else the workflow's; None if unset."""
    job_default = job.get("defaults", {}).get("run", {})
    workflow_default = workflow.get("defaults", {}).get("run", {})
    for level in (step, job_default, workflow_default):
        if "shell" in level:
            return level["shell"]
    return None


# --- a job, step by step -----------------------------------------------------------


@dataclass(frozen=True)
class Event:
    ref: str  # what actions/checkout fetches and checks out
    github: dict  # the `github` context's stand-in


@dataclass
class Step:
    name: str  # as the job's page shows it
    returncode: int
    output: str  # stdout and stderr, interleaved
    replaced_by: str | None = None  # what ran instead, if anything did


@dataclass
class Job:
    steps: list[Step]  # the steps that ran (or were replaced), up to the first failure
    summary: str  # the job summary: what the steps wrote to GITHUB_STEP_SUMMARY
    workspace: Path  # the checkout, as the job leaves it


class Runner:
    """Job ``job_id`` of ``workflow`` for ``event`` on repository ``origin``, in a new
    workspace under ``temp``; ``dvc_cache`` is the DVC cache it starts with."""

    def __init__(
        self,
        workflow: dict,
        job_id: str,
        event: Event,
        *,
        origin: Path,
        temp: Path,
        dvc_cache: Path,
        cut: dict[str, str] | None = None,  # a step's script -> the cheaper one run instead
    ):
        check_known(workflow)
        self.workflow, self.job, self.event = workflow, workflow["jobs"][job_id], event
        self.origin, self.temp, self.dvc_cache, self.cut = origin, temp, dvc_cache, cut or {}
        self.workspace = temp / "digitwise"
        self.workspace.mkdir()
        self.context = {"github": event.github}
        # this machine's environment, less pytest's variables and what the runner does not
        # set (PYTHONDONTWRITEBYTECODE would make every stage compile the checkout's modules)
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("PYTEST_")
            and key not in {"PYTHONPATH", "PYTHONDONTWRITEBYTECODE"}
        }
        self.env = inherited | {
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_EVENT_NAME": event.github["event_name"],
            "GITHUB_SHA": event.github["sha"],
            "RUNNER_TEMP": str(temp),
        }
        for level in (workflow, self.job):
            self.env |= self.environment(level)

    def substituted(self, mapping: dict) -> dict:
        return {
            key: substitute(value, self.context) if isinstance(value, str) else value
            for key, value in mapping.items()
        }

    def environment(self, level: dict) -> dict[str, str]:
        """The `env:` of the workflow, a job or a step, its expressions substituted."""
        return {
            str(key): str(value) for key, value in self.substituted(level.get("env", {})).items()
        }

    def run(self) -> Job:
        job = Job(steps=[], summary="", workspace=self.workspace)
        for number, step in enumerate(self.job["steps"]):
            name = step.get("name") or step.get("uses") or step["run"]
            if "uses" in step:
                equivalent = USES[action_of(step)]
                equivalent(self, self.substituted(step.get("with", {})))
                job.steps.append(Step(name, 0, "", replaced_by=equivalent.__name__))
                continue
            script = substitute(step["run"], self.context)
            if script.strip() in NOT_RUN:
                job.steps.append(Step(name, 0, "", replaced_by=NOT_RUN[script.strip()]))
                continue
            command = install_of(script)
            if command is not None and command.endswith(" -e ."):
                install(self)
                job.steps.append(Step(name, 0, "", replaced_by=install.__name__))
                continue
            if command is not None:
                lock = command.removeprefix("pip install -r ")
                assert (self.workspace / lock).is_file(), f"{name}: no {lock}"
                job.steps.append(Step(name, 0, "", replaced_by="the test environment"))
                continue
            replaced_by = self.cut.get(script.strip())
            returncode, output, summary = self.run_script(number, step, replaced_by or script)
            job.steps.append(Step(name, returncode, output, replaced_by))
            job.summary += summary
            if returncode != 0:
                break
        return job

    def run_script(self, number: int, step: dict, script: str) -> tuple[int, str, str]:
        """Run one `run:` step as the runner does; its exit code, output and summary."""
        files = {variable: self.temp / f"{number}_{name}" for variable, name in STEP_FILES.items()}
        for path in files.values():
            path.write_text("")
        env = self.env | {variable: str(path) for variable, path in files.items()}
        env |= self.environment(step)
        script_file = self.temp / f"{number}.sh"
        script_file.write_text(script)
        shell = SHELLS[shell_of(step, self.job, self.workflow)]
        result = subprocess.run(
            [*shell, str(script_file)],
            cwd=self.workspace,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=600,
            check=False,
        )
        for variable in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH"):
            if files[variable].read_text():
                raise ReplayError(f"step {step.get('name')!r} writes {variable}: not replayed")
        return result.returncode, result.stdout, files["GITHUB_STEP_SUMMARY"].read_text()


# --- what runs instead of the steps that cannot run here ---------------------------


def checkout(runner: Runner, inputs: dict) -> None:
    """What actions/checkout does: fetch the event's ref (one commit, or everything with
    `fetch-depth: 0`) and check it out, detached; then point DVC at the shared cache."""
    _refuse_unknown("actions/checkout", inputs, {"fetch-depth", "persist-credentials"})
    workspace, local = runner.workspace, "refs/remotes/replay/checkout"
    run(workspace, "git", "init", "-q")
    run(workspace, "git", "remote", "add", "origin", runner.origin.as_uri())
    if inputs.get("fetch-depth", 1) == 0:
        run(workspace, "git", "fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*")
        run(workspace, "git", "fetch", "-q", "origin", f"+{runner.event.ref}:{local}")
    else:
        depth = f"--depth={inputs.get('fetch-depth', 1)}"
        run(
            workspace,
            "git",
            "fetch",
            "-q",
            "--no-tags",
            depth,
            "origin",
            f"+{runner.event.ref}:{local}",
        )
    run(workspace, "git", "checkout", "-q", "--force", "--detach", local)
    assert run(workspace, "git", "rev-parse", "HEAD").strip() == runner.event.github["sha"]
    (workspace / ".dvc/config.local").write_text(f"[cache]\n    dir = {runner.dvc_cache}\n")


def setup_python(runner: Runner, inputs: dict) -> None:
    """The interpreter running these tests, first on PATH."""
    _refuse_unknown("actions/setup-python", inputs, {"python-version"})
    runner.env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{runner.env['PATH']}"


def upload_artifact(runner: Runner, inputs: dict) -> None:
    """Every path to upload exists (the action itself only warns by default)."""
    _refuse_unknown("actions/upload-artifact", inputs, {"name", "path"})
    for name in inputs["path"].split():
        path = runner.workspace / name
        assert path.is_file() or (path.is_dir() and any(path.iterdir())), (
            f"upload-artifact {inputs['name']}: nothing at {name}"
        )


USES = {
    "actions/checkout": checkout,
    "actions/setup-python": setup_python,
    "actions/upload-artifact": upload_artifact,
}


def install(runner: Runner) -> None:
    """`pip install -e .` without touching the test environment: the checkout's code first
    on the path of the steps after it, checked to be what `import digitwise` finds."""
    runner.env["PYTHONPATH"] = str(runner.workspace / "src")
    found = subprocess.run(
        ["python", "-c", "import digitwise; print(digitwise.__file__)"],
        cwd=runner.workspace,
        env=runner.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(found).is_relative_to(runner.workspace / "src"), found


# --- the stand-in repository -------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    path: Path
    push: Event  # a change to main that nothing in the pipeline reads
    pull_request: Event  # a pull request that makes the model worse
    base: str  # main before the push, and the pull request's base


def project_files() -> list[str]:
    """What `git add -A` would commit: the tracked files and any new one not ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def commit(repo: Path, message: str) -> str:
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", message)
    return run(repo, "git", "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> Origin:
    path = tmp_path_factory.mktemp("origin")
    for name in project_files():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, path / name)
    run(path, "git", "init", "-q", "-b", "main")
    base = commit(path, "the base branch")

    run(path, "git", "checkout", "-q", "-b", "worse")
    params = yaml.safe_load((path / "params.yaml").read_text())
    params["train"]["logistic_regression"]["C"] /= 100  # a hundred times more regularisation
    (path / "params.yaml").write_text(yaml.safe_dump(params))
    head = commit(path, "a worse model")
    # what GitHub checks out for a pull request: its merge into the base branch
    tree = f"{head}^{{tree}}"
    merge = run(path, "git", "commit-tree", tree, "-p", base, "-p", head, "-m", "Merge").strip()
    run(path, "git", "update-ref", "refs/pull/1/merge", merge)

    run(path, "git", "checkout", "-q", "main")
    with (path / "README.md").open("a") as readme:
        readme.write("\nA line that nothing in the pipeline reads.\n")
    pushed = commit(path, "a README line")
    return Origin(
        path,
        # a push's event has no pull_request: the runner reads it as null
        push=Event(
            "refs/heads/main",
            {"event_name": "push", "sha": pushed, "event": {"pull_request": None}},
        ),
        pull_request=Event(
            "refs/pull/1/merge",
            {
                "event_name": "pull_request",
                "sha": merge,
                "event": {"pull_request": {"number": 1, "base": {"sha": base}}},
            },
        ),
        base=base,
    )


@pytest.fixture(scope="module")
def dvc_cache(reproduced_project, tmp_path_factory) -> Path:
    """DVC's cache as a runner that restored it from an earlier run would start with: a
    copy of what the reproduced project's `dvc repro` of the same files left (outputs and
    run-cache). The push's `dvc repro` checks prepare's and train's outputs out of it and
    compares their hashes with the committed dvc.lock, as a fresh run would, without
    computing them a second time; the pull request's train params are in no cache."""
    cache = tmp_path_factory.mktemp("dvc") / "cache"
    shutil.copytree(reproduced_project / ".dvc" / "cache", cache)
    return cache


# --- the tests ---------------------------------------------------------------------


def test_every_job_of_every_workflow_is_replayed_and_known():
    workflows = [path for path in WORKFLOWS.glob("*.y*ml") if path.name not in NOT_REPLAYED]
    jobs = {(path.name, job) for path in workflows for job in load(path)["jobs"]}
    assert jobs == REPLAYED
    for path in workflows:
        check_known(load(path))


def test_every_install_step_of_every_workflow_is_one_of_the_readmes():
    installs = []
    for path in sorted(WORKFLOWS.glob("*.y*ml")):
        check_installs(load(path))
        for job in load(path)["jobs"].values():
            installs += [install_of(step["run"]) for step in job["steps"] if "run" in step]
    # the pipeline jobs install the runtime lock, the checks job the test lock; each the project
    assert set(installs) - {None} == set(two_commands_installs())


@pytest.mark.parametrize(
    "script",
    [
        "pip install -e .",
        "python -m pip install -e .",
        "python -m pip install --no-deps -e .",  # an isolated build, of unpinned setuptools
        "python -m pip install --no-deps --no-build-isolation -e . --force-reinstall",
        "python -m pip install -r requirements/runtime.lock && pip install -e .",
        "python -m pip install --upgrade pip",
        "python3 -m pip install -r requirements/test.lock",
        "pip3 install digitwise",
        "uv pip install -e .",
        "python setup.py develop",
        "make install",
        "python -m pip uninstall -y digitwise",
    ],
)
def test_an_install_the_replay_does_not_know_is_refused_before_any_step_runs(script, tmp_path):
    workflow = load(CI)
    steps = workflow["jobs"]["checks"]["steps"]
    steps.insert(2, {"name": "Another install", "run": script})
    with pytest.raises(ReplayError, match="installs in a way the replay does not know"):
        install_of(script)
    with pytest.raises(ReplayError, match="would run in the tests' own environment"):
        Runner(
            workflow,
            "checks",
            Event("refs/heads/main", {}),
            origin=tmp_path,
            temp=tmp_path,
            dvc_cache=tmp_path,
        )
    assert not (tmp_path / "digitwise").exists()  # refused before the workspace was made


def test_expressions_are_substituted_as_the_runner_does():
    pull_request = {"github": {"event": {"pull_request": {"base": {"sha": "abc"}}}}}
    push = {"github": {"event": {"pull_request": None}}}
    base = "${{ github.event.pull_request.base.sha || 'HEAD~1' }}"
    assert substitute(f"git show {base}", pull_request) == "git show abc"
    assert substitute(f"git show {base}", push) == "git show HEAD~1"
    assert substitute("${{ 'it''s' }}", push) == "it's"
    with pytest.raises(ReplayError, match=r"no stand-in for github\.event\.number"):
        substitute("${{ github.event.number }}", push)
    with pytest.raises(ReplayError, match="unknown context 'secrets'"):
        substitute("${{ secrets.TOKEN }}", push)
    with pytest.raises(ReplayError, match="unsupported expression"):
        substitute("${{ github.event_name == 'push' }}", push)
    with pytest.raises(ReplayError, match="unsupported expression"):
        substitute("${{ format('{0}', github.sha) }}", push)


def test_the_checks_job_lints_a_checkout(origin, dvc_cache, tmp_path):
    runner = Runner(
        load(CI), "checks", origin.push, origin=origin.path, temp=tmp_path, dvc_cache=dvc_cache
    )
    job = runner.run()
    assert [(step.name, step.replaced_by) for step in job.steps][2:] == [
        ("Install the pinned dependencies, with every extra", "the test environment"),
        ("Install the project", "install"),
        ("Lint", None),
        ("Tests", NOT_RUN["pytest"]),
    ]
    lint = job.steps[4]
    assert lint.returncode == 0, lint.output


def replay_pipeline(origin: Origin, event: Event, **options) -> Job:
    """The pipeline job, checked up to the gate: every step before it passes, and the job
    summary holds the comparison's metrics table and McNemar's test."""
    job = Runner(load(CI), "pipeline", event, origin=origin.path, **options).run()
    assert job.steps[-1].name == "Regression gate", f"the job stopped early:\n{job.steps[-1]}"
    for step in job.steps[:-1]:
        assert step.returncode == 0, f"{step.name} failed:\n{step.output}"
    summary = job.summary
    assert "| metric | baseline | new | difference | 95% CI |" in summary
    assert re.search(r"^\| accuracy \| 0\.\d{4} \| 0\.\d{4} \| [+-]0\.\d{4} \|", summary, re.M)
    assert re.search(r"^McNemar's exact test: .* p = [0-9.e-]+\.$", summary, re.M)
    return job


def test_a_neutral_push_to_main_passes_the_gate(origin, dvc_cache, tmp_path):
    job = replay_pipeline(origin, origin.push, temp=tmp_path, dvc_cache=dvc_cache)
    assert "## All metrics against HEAD~1\n" in job.summary  # a push has no base.sha
    comparison = json.loads((job.workspace / "comparison/comparison.json").read_text())
    assert comparison["baseline_commit"] == origin.base
    # nothing the pipeline reads changed, so neither did a prediction
    test = comparison["mcnemar"]
    assert (test["n_new_only"], test["n_base_only"]) == (0, 0), (
        "the committed data/predictions.csv is not what `dvc repro` makes of this tree"
    )
    gate = job.steps[-1]
    assert gate.returncode == 0, gate.output


# A new model reruns every stage but prepare: about 30 s on one core, half this file's
# time. The comparison, the job summary and the gate read only what prepare to evaluate
# write (the report step draws the comparison's page beside the committed figures), so
# this replay runs those four stages. The whole `dvc repro` runs in the push's replay,
# which takes prepare and train from the run-cache of the same files and checks every
# stage against dvc.lock, and in tests/test_pipeline.py.
WORSE_CUT = {"dvc repro": "dvc repro evaluate"}


def test_a_worse_pull_request_is_refused_by_the_gate(origin, dvc_cache, tmp_path):
    job = replay_pipeline(
        origin, origin.pull_request, temp=tmp_path, dvc_cache=dvc_cache, cut=WORSE_CUT
    )
    assert job.steps[4].replaced_by == "dvc repro evaluate"
    assert f"## All metrics against {origin.base}\n" in job.summary  # the base.sha
    assert re.search(r"^\| reports/metrics\.json +\| accuracy ", job.summary, re.M)
    assert "train.logistic_regression.C" in job.summary  # the params diff
    gate = job.steps[-1]
    assert gate.returncode == 1, gate.output
    assert "gate: accuracy dropped by" in gate.output
