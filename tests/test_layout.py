"""The layout holds: stages/ is only the DVC entry points, the library is the installed
package `digitwise`, its data files ship with it, and no module grows past its size."""

import fnmatch
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "src" / "digitwise"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def test_stages_holds_exactly_the_dvc_stage_entry_points():
    modules = {path.stem for path in (ROOT / "stages").glob("*.py")} - {"__init__"}
    assert modules == set(STAGES)
    for stage in STAGES:
        assert STAGES[stage]["cmd"].startswith(f"python -m stages.{stage} ")


def test_the_distribution_is_the_digitwise_package_from_src():
    assert PYPROJECT["tool"]["setuptools"]["packages"]["find"] == {"where": ["src"]}
    assert [
        path.name
        for path in (ROOT / "src").iterdir()
        if path.is_dir() and not path.name.endswith(".egg-info")
    ] == ["digitwise"]


def test_every_data_file_of_the_library_ships_with_it():
    globs = PYPROJECT["tool"]["setuptools"]["package-data"]
    for path in LIBRARY.rglob("*"):
        if path.is_dir() or path.suffix in {".py", ".pyc"} or "__pycache__" in path.parts:
            continue
        package = ".".join(path.parent.relative_to(LIBRARY.parent).parts)
        assert any(fnmatch.fnmatch(path.name, glob) for glob in globs.get(package, [])), path


def test_entry_points_are_thin_and_modules_small():
    for path in (ROOT / "stages").glob("*.py"):
        assert len(path.read_text().splitlines()) <= 105, path
    for path in (LIBRARY / "cli").glob("*.py"):
        assert len(path.read_text().splitlines()) <= 105, path
    for path in LIBRARY.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, path


def test_the_stages_run_the_library_of_their_own_checkout(tmp_path):
    """A queued experiment runs in a copy of the workspace: its stages must import the
    copy's digitwise (whose files DVC hashed), not the installed one."""
    import shutil
    import subprocess
    import sys

    for name in ("stages", "src"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("*.pyc"))
    result = subprocess.run(
        [sys.executable, "-c", "import stages, digitwise; print(digitwise.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(result.stdout.strip()) == tmp_path / "src" / "digitwise" / "__init__.py"


def test_every_library_file_is_tracked_by_git():
    """An ignore pattern must not swallow a module (``comparison/`` once did)."""
    import subprocess

    tracked = subprocess.run(
        ["git", "ls-files", "src/digitwise"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    on_disk = {
        str(path.relative_to(ROOT))
        for path in LIBRARY.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert on_disk <= set(tracked), sorted(on_disk - set(tracked))
