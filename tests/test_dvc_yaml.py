"""dvc.yaml tells the truth: each stage depends on exactly the modules it imports and
the params sections it reads, and takes its paths from its command line."""

import re
from pathlib import Path

import pytest
import yaml
from imports import project_imports

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = yaml.safe_load((ROOT / "dvc.yaml").read_text())
STAGES = PIPELINE["stages"]


def sections_read(module: str) -> set[str]:
    """params sections a stage's own module asks for: params.<section>_params(...)."""
    source = (ROOT / "stages" / f"{module}.py").read_text()
    return set(re.findall(r"params\.(\w+)_params\(", source))


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_module_deps_are_exactly_the_imports(stage):
    """One rule: a stage lists every project file its entry point imports, directly or
    not (package __init__ files and the package data they read included), and no other."""
    code = ("stages/", "src/")
    declared = {str(dep) for dep in STAGES[stage]["deps"] if str(dep).startswith(code)}
    assert declared == project_imports(f"stages.{stage}")


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
    for module in [*(ROOT / "stages").glob("*.py"), *(ROOT / "src").rglob("*.py")]:
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
    assert PIPELINE["metrics"] == ["reports/metrics.json"]
    images = {p for p in PIPELINE["plots"] if isinstance(p, str)}
    assert images == {p for p in all_outputs() if p.endswith(".png")}
    specs = [next(iter(p.values())) for p in PIPELINE["plots"] if isinstance(p, dict)]
    templates = [spec for spec in specs if "template" in spec]
    confusions = [t for t in templates if t["template"].startswith("confusion")]
    assert {t["template"] for t in confusions} == {"confusion", "confusion_normalized"}
    assert all(
        t["x"] == "predicted" and t["y"] == {"data/predictions.csv": "actual"} for t in confusions
    )
    # the per-class scores: one horizontal bar chart each, a bar per class
    bars = [t for t in templates if t not in confusions]
    assert {t["template"] for t in bars} == {"bar_horizontal_sorted"}
    assert sorted(t["x"] for t in bars) == ["f1", "precision", "recall"]
    assert all(t["y"] == {"reports/per_class.json": "class"} for t in bars)
    curves = {file for spec in specs if "template" not in spec for file in spec["y"]}
    assert curves == {p for p in all_outputs() if p.startswith("reports/steps/")}
