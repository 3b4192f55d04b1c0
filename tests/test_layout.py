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
        assert len(path.read_text().splitlines()) <= 110, path
    for path in (LIBRARY / "cli").glob("*.py"):
        assert len(path.read_text().splitlines()) <= 110, path
    for path in LIBRARY.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 420, path
