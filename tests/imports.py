"""Which of this project's source files a module imports, directly or not (for the test
that dvc.yaml's deps are exactly a stage's imports)."""

import ast
import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"stages": ROOT, "digitwise": ROOT / "src"}
# package data, read at run time by the modules beside it: pyproject.toml's globs
PACKAGE_DATA = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
    "package-data"
]


def module_file(dotted: str) -> Path | None:
    """The file of a project module or package, or None for anything else."""
    top = dotted.split(".")[0]
    if top not in SOURCES:
        return None
    base = SOURCES[top].joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _with_packages(dotted: str) -> list[str]:
    """``a.b.c`` runs a/__init__.py and a/b/__init__.py before a/b/c.py."""
    parts = dotted.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            # absolute imports only (a relative one would be missed here, so it is refused)
            assert node.level == 0 and node.module, f"{path}: relative import"
            names.add(node.module)
            for alias in node.names:  # `from package import module` imports the module
                if module_file(f"{node.module}.{alias.name}") is not None:
                    names.add(f"{node.module}.{alias.name}")
    return names


def project_imports(dotted: str) -> set[str]:
    """Repository-relative paths of every project file that importing ``dotted`` runs."""
    seen: set[Path] = set()
    todo = _with_packages(dotted)
    while todo:
        name = todo.pop()
        path = module_file(name)
        if path is None or path in seen:
            continue
        seen.add(path)
        for imported in _imported(path):
            todo += _with_packages(imported)
    # files a package reads at run time (the report's page skeleton and style sheet)
    data = {
        other
        for path in seen
        for other in path.parent.iterdir()
        if any(fnmatch.fnmatch(other.name, glob) for glob in _data_globs(path.parent))
    }
    return {str(path.relative_to(ROOT)) for path in seen | data}


def _data_globs(directory: Path) -> list[str]:
    """pyproject.toml's package-data globs for the package in ``directory``."""
    if not directory.is_relative_to(ROOT / "src"):
        return []
    package = ".".join(directory.relative_to(ROOT / "src").parts)
    return PACKAGE_DATA.get(package, [])
