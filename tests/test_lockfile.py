"""The lock files pin what pyproject.toml asks for: every requirement of the package (and,
in the test lock, of each extra) and of its build (`[build-system] requires`) is pinned to
one version inside its range, with hashes, and so is every requirement of what is pinned
(extras included): the lock is complete.

`pyproject.toml` keeps ranges for those who use digitwise as a library; the locks pin
the versions that made the committed outputs, for `dvc repro`, the tests and CI, and the
build backend that installs the project in the environment they make."""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from test_pipeline import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = PYPROJECT["optional-dependencies"]
BUILD = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
# pyproject's build requirements, repeated for `uv pip compile` (which reads only [project])
BUILD_IN = "requirements/build.in"
LOCKS = {
    "requirements/runtime.lock": (),  # dvc repro
    "requirements/test.lock": tuple(EXTRAS),  # everything: the tests, CI
}
PYTHONS = ("3.11", "3.12", "3.13")  # requires-python >= 3.11; the locks are universal


def entries(text: str) -> list[tuple[Requirement, list[str]]]:
    """Each requirement of a hashed requirements file, with its hashes."""
    logical = re.sub(r"\\\n", " ", text)  # continuation lines
    found = []
    for line in logical.splitlines():
        line = line.split("#", 1)[0].strip() if line.lstrip().startswith("#") else line.strip()
        if not line:
            continue
        requirement, *options = re.split(r"\s+--", line)
        hashes = [option.removeprefix("hash=") for option in options if option.startswith("hash")]
        found.append((Requirement(requirement.strip()), hashes))
    return found


def environment(python: str) -> dict[str, str]:
    """Marker variables of CPython ``python`` on Linux (x86_64), as CI and the README run."""
    return default_environment() | {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": "x86_64",
    }


def pins(path: str, python: str) -> dict[str, Version]:
    """The version each package is pinned at, for Linux and that Python."""
    pinned = {}
    for requirement, _ in entries((ROOT / path).read_text()):
        marker = requirement.marker
        if marker is not None and not marker.evaluate(environment(python)):
            continue
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", requirement
        pinned[canonicalize_name(requirement.name)] = Version(specifier.version)
    return pinned


def wanted(extras: tuple[str, ...], python: str) -> list[Requirement]:
    """pyproject's requirements of the package with these extras, and of its build, markers
    evaluated."""
    requirements = [
        requirement
        for requirement in map(Requirement, [*PYPROJECT["dependencies"], *BUILD["requires"]])
        if requirement.marker is None
        or requirement.marker.evaluate(environment(python) | {"extra": ""})
    ]
    for extra in extras:
        requirements += [
            requirement
            for requirement in map(Requirement, EXTRAS[extra])
            if requirement.marker is None
            or requirement.marker.evaluate(environment(python) | {"extra": extra})
        ]
    return requirements


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("path", LOCKS)
def test_every_requirement_is_pinned_inside_its_range(path, python):
    pinned = pins(path, python)
    for requirement in wanted(LOCKS[path], python):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{path}: {requirement} is not pinned"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{path}: {name}=={pinned[name]} is outside pyproject's {requirement}"
        )


def requirements_of(name: str, version: Version, extras: tuple[str, ...], python: str):
    """What the installed distribution ``name`` requires with those extras, markers
    evaluated, or None if it is not installed here at ``version`` (its metadata may differ)."""
    try:
        distribution = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None
    if Version(distribution.version) != version:
        return None
    return [
        requirement
        for requirement in map(Requirement, distribution.requires or [])
        if requirement.marker is None
        or any(
            requirement.marker.evaluate(environment(python) | {"extra": extra})
            for extra in ("", *extras)
        )
    ]


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("path", LOCKS)
def test_the_lock_is_complete(path, python):
    """Walked from pyproject's requirements: each package's own requirements (with the
    extras asked of it, e.g. dask[distributed]) are pinned inside their ranges, as the
    installed copy of the pinned version declares them."""
    pinned = pins(path, python)
    todo = [(requirement, "pyproject.toml") for requirement in wanted(LOCKS[path], python)]
    seen, read = set(), 0
    while todo:
        requirement, needed_by = todo.pop()
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{path}: {needed_by} needs {requirement}, which is not pinned"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{path}: {name}=={pinned[name]} is outside {needed_by}'s {requirement}"
        )
        extras = tuple(sorted(requirement.extras))
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        found = requirements_of(name, pinned[name], extras, python)
        read += found is not None
        todo += [(needed, f"{name} {pinned[name]}") for needed in found or []]
    assert read > len(pinned) // 2  # most pins are installed here at their pinned version


@pytest.mark.parametrize("path", LOCKS)
def test_every_pin_has_hashes(path):
    found = entries((ROOT / path).read_text())
    assert len(found) > 50
    for requirement, hashes in found:
        assert hashes, f"{path}: {requirement} has no --hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", value) for value in hashes), requirement


def test_the_locks_agree():
    """The tests run on the very versions `dvc repro` runs on."""
    for python in PYTHONS:
        runtime, test = (
            pins("requirements/runtime.lock", python),
            pins("requirements/test.lock", python),
        )
        assert {name: test.get(name) for name in runtime} == runtime


# --- the build backend, and the project installed by it ------------------------------


def two_commands_installs() -> list[str]:
    """The `pip install` commands of the README's two commands, in order."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"^## Two commands\n.*?^```bash\n(.*?)^```", readme, re.S | re.M)[1]
    lines = [line for line in block.splitlines() if not line.lstrip().startswith("#")]
    commands = (part.strip() for part in re.split(r"&&|\n", "\n".join(lines)))
    return [command for command in commands if command.startswith("pip install")]


def project_install() -> str:
    """The README's install of the project itself (after the lock's)."""
    (command,) = [command for command in two_commands_installs() if command.endswith(" -e .")]
    return command


def test_the_readme_installs_the_lock_then_builds_the_project_with_it():
    assert two_commands_installs() == [
        "pip install -r requirements/runtime.lock",
        "pip install --no-deps --no-build-isolation --check-build-dependencies -e .",
        "pip install -r requirements/test.lock",
    ]


WORKFLOWS = ("ci.yml", "sweep.yml")
INSTALLING = [".ci/run", "CONTRIBUTING.md", *(f".github/workflows/{name}" for name in WORKFLOWS)]


@pytest.mark.parametrize("path", INSTALLING)
def test_every_install_of_the_project_is_the_readmes(path):
    """No `pip install -e .` that would build in an isolated environment of unpinned
    packages: each one is the README's (`python -m` and `--quiet` aside)."""
    found = re.findall(r"pip install (?:--quiet )?(\S.*? -e \.)(?=\s|$)", (ROOT / path).read_text())
    assert found, f"{path} does not install the project"
    assert {f"pip install {flags}" for flags in found} == {project_install()}, path


def test_the_build_requirements_are_those_of_pyproject():
    """requirements/build.in, the locks' input for the build, is pyproject's list."""
    listed = [requirement for requirement, _ in entries((ROOT / BUILD_IN).read_text())]
    assert sorted(map(str, listed)) == sorted(map(str, map(Requirement, BUILD["requires"])))


def test_the_installed_backend_builds_the_project_from_the_lock_alone(tmp_path):
    """The backend installed here from the lock (at its pinned version) asks for nothing
    more than what is pinned, and the README's install of the project, checked by pip
    without installing (`--dry-run`) and without an index or a config, needs no download."""
    backend = BUILD["build-backend"]
    assert backend == "setuptools.build_meta"
    pinned = pins("requirements/test.lock", "3.11")
    for requirement in map(Requirement, BUILD["requires"]):
        installed = Version(metadata.version(requirement.name))
        assert installed == pinned[canonicalize_name(requirement.name)], requirement
    # a copy: the backend writes its metadata next to the sources
    project = tmp_path / "project"
    shutil.copytree(
        ROOT / "src", project / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, project / name)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    hooks = f"import json, {backend} as b; print(json.dumps(b.get_requires_for_build_editable()))"
    asked = subprocess.run(
        [sys.executable, "-c", hooks],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()[-1]
    for requirement in map(Requirement, json.loads(asked)):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"the backend also needs {requirement}, which is not pinned"
        assert requirement.specifier.contains(pinned[name], prereleases=True), requirement

    *command, editable, here = project_install().split()
    assert (editable, here) == ("-e", ".")
    result = subprocess.run(
        [sys.executable, "-m", *command, "--dry-run", "--no-index", "-e", str(project)],
        env=environment | {"PIP_CONFIG_FILE": os.devnull},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Would install digitwise-" in result.stdout, result.stdout
