"""dvc.yaml tells the truth: each stage depends on exactly the modules it imports and
the params sections it reads, and takes its paths from its command line."""

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = yaml.safe_load((ROOT / "dvc.yaml").read_text())
STAGES = PIPELINE["stages"]


def project_imports(module: str) -> set[str]:
    """Names of the stages/*.py modules that ``module`` imports, directly or not."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        tree = ast.parse((ROOT / "stages" / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "stages":
                todo += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("stages."):
                todo.append(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                todo += [a.name.split(".")[1] for a in node.names if a.name.startswith("stages.")]
    return seen | {"__init__"}  # importing stages.x runs stages/__init__.py first


def sections_read(module: str) -> set[str]:
    """params sections a stage's own module asks for: params.<section>_params(...)."""
    source = (ROOT / "stages" / f"{module}.py").read_text()
    return set(re.findall(r"params\.(\w+)_params\(", source))


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_module_deps_are_exactly_the_imports(stage):
    declared = {Path(dep).stem for dep in STAGES[stage]["deps"] if str(dep).startswith("stages/")}
    assert declared == project_imports(stage)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_params_are_exactly_the_sections_read(stage):
    assert set(STAGES[stage].get("params", [])) == sections_read(stage)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_output_path_is_on_the_command_line(stage):
    command = STAGES[stage]["cmd"]
    for out in STAGES[stage]["outs"]:
        path = out if isinstance(out, str) else next(iter(out))
        assert path in command.split(), f"{path} is not passed to {stage}'s command"
    assert command.startswith(f"python -m stages.{stage} ")


def test_no_stage_module_spells_an_output_path():
    paths = {
        out if isinstance(out, str) else next(iter(out))
        for stage in STAGES.values()
        for out in stage["outs"]
    }
    for module in (ROOT / "stages").glob("*.py"):
        source = module.read_text()
        for path in paths:
            assert path not in source, f"{module.name} spells {path}; take it from argv"


def all_outputs() -> set[str]:
    return {
        next(iter(out)) if isinstance(out, dict) else out
        for stage in STAGES.values()
        for out in stage["outs"]
    }


def test_metrics_and_every_figure_are_declared_at_the_top():
    assert PIPELINE["metrics"] == ["reports/metrics.json", "reports/intervals.json"]
    images = {p for p in PIPELINE["plots"] if isinstance(p, str)}
    assert images == {p for p in all_outputs() if p.endswith(".png")}
    specs = [next(iter(p.values())) for p in PIPELINE["plots"] if isinstance(p, dict)]
    templates = [spec for spec in specs if "template" in spec]
    assert {t["template"] for t in templates} == {"confusion", "confusion_normalized"}
    assert all(
        t["x"] == "predicted" and t["y"] == {"data/predictions.csv": "actual"} for t in templates
    )
    curves = {file for spec in specs if "template" not in spec for file in spec["y"]}
    assert curves == {p for p in all_outputs() if p.startswith("reports/steps/")}
