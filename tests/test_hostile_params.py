"""Hostile params.yaml: numbers beyond floats and C, values that would run for ever or
exhaust memory, deep nesting, values the YAML constructors cannot build. Each is one line
on stderr naming the file and the key, exit code 2, no traceback, nothing written.

The bounds below are this test's own table (README, "When something is wrong"), not read
from the code: a param that loses its bound, or a bound that moves, fails here."""

import contextlib
import copy
import io
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digitwise import params
from digitwise.cli import run
from digitwise.cli.main import main as digitwise_main
from digitwise.models import estimators as models
from stages import diagnose_data, evaluate, examples, explain, prepare, steps, train

ROOT = Path(__file__).resolve().parents[1]
SEED = ("int", 0, 2**32 - 1)
# key: (kind, lowest, highest) allowed. "int": integers only; "float": any number.
BOUNDS = {
    "split.stratified.test_size": ("open", 0, 1),
    "split.stratified.seed": SEED,
    "train.seed": SEED,
    "train.max_samples": ("int", 1, 10**9),
    "train.logistic_regression.C": ("float", 1e-10, 1e10),
    "train.logistic_regression.max_iter": ("int", 1, 100_000),
    "train.mlp.alpha": ("float", 0, 1e6),
    "train.mlp.learning_rate_init": ("float", 1e-10, 10),
    "train.mlp.max_iter": ("int", 1, 100_000),
    "train.svc.C": ("float", 1e-10, 1e10),
    "train.svc.gamma": ("float", 1e-10, 1e10),
    "train.random_forest.n_estimators": ("int", 1, 10_000),
    "train.random_forest.max_depth": ("int", 1, 1_000),
    "train.random_forest.min_samples_leaf": ("int", 1, 10**9),
    "train.hist_gradient_boosting.learning_rate": ("float", 1e-10, 10),
    "train.hist_gradient_boosting.max_iter": ("int", 1, 10_000),
    "train.hist_gradient_boosting.max_leaf_nodes": ("int", 2, 100_000),
    "train.hist_gradient_boosting.l2_regularization": ("float", 0, 1e6),
    "train.knn.n_neighbors": ("int", 1, 10_000),
    "evaluate.top_confusions": ("int", 1, 1_000_000),
    "evaluate.bootstrap_resamples": ("int", 100, 100_000),
    "evaluate.bootstrap_seed": SEED,
    "evaluate.calibration_bins": ("int", 1, 1_000),
    "separability.maps": ("int", 0, 100),
    "attribution.examples": ("int", 0, 100),
    "attribution.max_samples": ("int", 1, 10**9),
    "attribution.seed": SEED,
    "attribution.patch": ("int", 1, 64),
    "attribution.max_evaluations": ("int", 1, 10**9),
    "examples.cells": ("int", 1, 100),
    "examples.per_cell": ("int", 1, 20),
    "steps.max_samples": ("int", 1, 10**9),
    "examples.label_issues_limit": ("int", 0, 10**9),
    "steps.train_eval_samples": ("int", 1, 10**9),
    "gate.min_accuracy": ("float", 0, 1),
    "gate.max_accuracy_drop": ("float", 0, 1),
    "gate.alpha": ("open", 0, 1),
}
# tested on their own below (steps.fractions: test_learning_curve.py)
LISTS = {"train.mlp.hidden_layer_sizes", "steps.snapshots", "steps.fractions"}

NULLABLE = ("train.max_samples", "train.random_forest.max_depth", "steps.max_samples")


def allowed(key: str, value) -> bool:
    kind, low, high = BOUNDS[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if kind == "int":
        return isinstance(value, int) and low <= value <= high
    if isinstance(value, float) and math.isnan(value):
        return False
    return low < value < high if kind == "open" else low <= value <= high


def leaves(node, prefix=""):
    for key, value in node.items():
        if isinstance(value, dict):
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def test_every_numeric_param_has_a_bound_in_this_table():
    shipped = yaml.safe_load((ROOT / "params.yaml").read_text())
    numeric = {
        key
        for key, value in leaves(shipped)
        if (isinstance(value, int | float) and not isinstance(value, bool))
        or key in NULLABLE
        or key == "train.svc.gamma"
    }
    assert numeric - LISTS == set(BOUNDS)


def stage_argv(key: str, params_file: Path, out: Path) -> tuple:
    """The stage (or digitwise subcommand) that reads ``key``, with outputs under ``out``."""
    data, model, predictions = out / "prepared", out / "model.skops", out / "predictions.csv"
    common = ["--params", str(params_file)]
    section = key.split(".")[0]
    if section == "split":
        return prepare.main, [*common, "--out", str(data)]
    if section == "train":
        return train.main, [*common, "--data", str(data), "--model", str(model)]
    if section == "steps":
        files = ("--accuracy", "a.csv", "--loss", "l.csv", "--confusion-plot", "c.png")
        return steps.main, [*common, "--data", str(data), *_under(out, files)]
    if section == "evaluate":
        names = ["metrics", "intervals", "confusion", "top-confusions", "pairwise", "per-class"]
        names += ["confusion-plot", "confusion-normalized-plot", "pairwise-plot"]
        names += ["calibration", "calibration-plot"]
        files = [item for name in names for item in (f"--{name}", f"{name}.out")]
        inputs = ["--predictions", str(predictions), "--classes", str(out / "classes.json")]
        return evaluate.main, [*common, *inputs, *_under(out, files)]
    if section == "separability":
        names = ["separability", "model-vs-data", "separability-plot"]
        names += ["separability-maps-plot", "model-vs-data-plot"]
        files = [item for name in names for item in (f"--{name}", f"{name}.out")]
        inputs = ["--pairwise", str(out / "p.json"), "--top-confusions", str(out / "t.json")]
        return diagnose_data.main, [*common, "--data", str(data), *inputs, *_under(out, files)]
    if section == "attribution":
        files = (
            "--attribution",
            "a.json",
            "--class-means-plot",
            "m.png",
            "--examples-plot",
            "e.png",
        )
        inputs = ["--model", str(model), "--predictions", str(predictions)]
        return explain.main, [*common, "--data", str(data), *inputs, *_under(out, files)]
    if section == "examples":
        files = ("--examples", "e.json", "--examples-plot", "e.png", "--label-issues", "l.json")
        inputs = ["--predictions", str(predictions)]
        return examples.main, [*common, "--data", str(data), *inputs, *_under(out, files)]
    assert section == "gate", key
    return digitwise_main, ["gate", str(out / "metrics.json"), *common]


def _under(out: Path, pairs) -> list[str]:
    return [item if item.startswith("--") else str(out / item) for item in pairs]


def run_refused(main, argv, out: Path) -> str:
    """Run ``main`` as its command does; it must refuse: exit code 2, one line on stderr,
    nothing on stdout, nothing created under ``out`` (a traceback fails the test)."""
    before = sorted(out.rglob("*"))
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = run(main, argv)
    lines = stderr.getvalue().splitlines()
    assert code == 2, stderr.getvalue()
    assert len(lines) == 1, stderr.getvalue()
    assert lines[0].startswith("error: ")
    assert stdout.getvalue() == ""
    assert sorted(out.rglob("*")) == before
    return lines[0]


def write(path: Path, changes: dict) -> Path:
    values = copy.deepcopy(SHIPPED)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = values
        for name in parents:
            node = node[name]
        node[last] = value
    path.write_text(yaml.safe_dump(values))
    return path


SHIPPED = yaml.safe_load((ROOT / "params.yaml").read_text())
READERS = {
    "split": params.split_params,
    "train": lambda raw: params.train_params(raw, models.SCHEMAS),
    "evaluate": params.evaluate_params,
    "separability": params.separability_params,
    "attribution": params.attribution_params,
    "examples": params.examples_params,
    "steps": params.steps_params,
    "gate": params.gate_params,
}

# beyond C's and the floats' ranges, at and around the bounds, and plain numbers
HOSTILE = st.one_of(
    st.sampled_from([10**11, 10**12, 2**63, 2**64, 10**30, 10**308, 10**400, -(10**400)]),
    st.sampled_from([1e308, -1e308, 1e-320, 5e-324, float("inf"), float("-inf"), float("nan")]),
    st.sampled_from([0, 1, 2, 20, 64, 100, 101, 1000, 1001, 10_000, 10_001, 100_000, 100_001]),
    st.sampled_from([1e-10, 9.9e-11, 10.0, 10.000001, 1e6, 1.000001e6, 1e10, 1.00001e10]),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([True, None, "ten", "1.0", [1]]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(sorted(BOUNDS)), value=HOSTILE)
def test_a_number_is_taken_if_in_its_range_and_else_refused_in_one_line(
    tmp_path_factory, key, value
):
    out = tmp_path_factory.mktemp("run")
    params_file = write(out / "params.yaml", {key: value})
    nullable = key in NULLABLE
    if allowed(key, value) or (value is None and nullable):
        # what the stage reads, the value as written (a float for a float param)
        raw = params.load(params_file)
        READERS[key.split(".")[0]](raw)
        return
    main, argv = stage_argv(key, params_file, out)
    line = run_refused(main, argv, out)
    assert line.startswith(f"error: {params_file}: {key} must be ")
    kind, low, high = BOUNDS[key]
    if kind == "int":
        assert f"an integer in {low}..{high}" in line
    else:
        assert f"{low:g} and {high:g}" in line
    assert len(line) < 300


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        # the attacks that found these: each was a traceback, a hang or an allocation
        ("train.logistic_regression.C", 10**400, r"got an integer of 401 digits \(int\)"),
        ("train.svc.gamma", 10**400, r"or one of scale, auto; got an integer of 401 digits"),
        ("gate.min_accuracy", 10**400, r"between 0 and 1; got an integer of 401 digits"),
        ("train.random_forest.max_depth", 10**11, r"in 1\.\.1000; got 100000000000 .*null"),
        ("train.random_forest.min_samples_leaf", 10**11, r"in 1\.\.1000000000; got"),
        ("train.mlp.hidden_layer_sizes", [10**12], r"1 to 10 integers in 1\.\.10000"),
        ("train.mlp.hidden_layer_sizes", [10_000, 10_000, 1], r"adding up to at most 20000"),
        ("train.mlp.hidden_layer_sizes", [1] * 11, r"a list of 1 to 10 integers"),
        ("train.mlp.hidden_layer_sizes", [], r"a list of 1 to 10 integers"),
        ("train.mlp.max_iter", 10**30, r"in 1\.\.100000; got 1000000000000000000000000000000"),
        ("train.random_forest.n_estimators", 10**30, r"in 1\.\.10000"),
        ("train.hist_gradient_boosting.max_iter", 10**30, r"in 1\.\.10000"),
        ("train.mlp.learning_rate_init", 1e308, r"between 1e-10 and 10; got 1e\+308 \(float\)"),
        ("steps.snapshots", [1] * 21, r"a list of 1 to 20 integers in 1\.\.100000"),
        ("steps.snapshots", [100_001], r"a list of 1 to 20 integers in 1\.\.100000"),
        ("evaluate.bootstrap_resamples", 10**400, r"in 100\.\.100000"),
    ],
)
def test_each_found_attack_is_one_line(tmp_path, key, value, message):
    import re

    params_file = write(tmp_path / "params.yaml", {key: value})
    main, argv = stage_argv(key, params_file, tmp_path)
    line = run_refused(main, argv, tmp_path)
    assert line.startswith(f"error: {params_file}: {key} must be ")
    assert re.search(message, line), line


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("train.mlp.hidden_layer_sizes", [10_000, 10_000]),
        ("train.mlp.hidden_layer_sizes", [2_000] * 10),
        ("steps.snapshots", [100_000] * 20),
    ],
)
def test_lists_at_their_bounds_are_taken(tmp_path, key, value):
    raw = params.load(write(tmp_path / "params.yaml", {key: value}))
    READERS[key.split(".")[0]](raw)


def raw_params(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def train_refusal(tmp_path: Path, params_file: Path) -> str:
    main, argv = stage_argv("train.seed", params_file, tmp_path)
    return run_refused(main, argv, tmp_path)


def with_value(key_line: str, value_text: str) -> str:
    """The shipped params.yaml with ``key_line``'s value replaced by raw YAML text."""
    text = (ROOT / "params.yaml").read_text()
    head, rest = text.split(key_line, 1)
    return head + key_line + " " + value_text + rest[rest.index("\n") :]


def test_an_integer_too_long_for_python_is_one_line_with_its_line(tmp_path):
    text = with_value("\n    max_iter:", "1" + "0" * 4300)  # 4,301 digits
    line_number = text[: text.index("1" + "0" * 4300)].count("\n") + 1
    params_file = raw_params(tmp_path, text)
    line = train_refusal(tmp_path, params_file)
    assert line == (
        f"error: {params_file}: not valid YAML: line {line_number} holds an integer of more "
        "than 4300 digits"
    )


def test_a_hexadecimal_integer_of_thousands_of_digits_is_refused_without_printing_it(tmp_path):
    # int("f" * 5000, 16) has no digit limit; its decimal text (6,021 digits) has
    params_file = raw_params(tmp_path, with_value("\n  seed:", "0x" + "f" * 5000))
    line = train_refusal(tmp_path, params_file)
    assert f"{params_file}: train.seed must be an integer in 0..4294967295; got an integer" in line
    assert "digits (int)" in line and len(line) < 300


def deep_params(tmp_path: Path, depth: int, *, flow: bool) -> Path:
    """The shipped params with a section nesting ``depth`` lists (flow) or mappings."""
    if flow:
        nested = "[" * depth + "]" * depth
    else:  # each mapping indented one more
        nested = "\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(depth))
    text = (ROOT / "params.yaml").read_text().replace("train:\n", f"trap: {nested}\ntrain:\n", 1)
    return raw_params(tmp_path, text)


# ruamel's scanner takes a second or more on thousands of nested flow lists before its
# parser runs out of stack; these depths cost tenths of a second each
@settings(max_examples=10, deadline=None)
@given(depth=st.integers(min_value=101, max_value=450), flow=st.booleans())
def test_nesting_deeper_than_any_params_file_is_one_line(tmp_path_factory, depth, flow):
    tmp_path = tmp_path_factory.mktemp("deep")
    params_file = deep_params(tmp_path, depth, flow=flow)
    line = train_refusal(tmp_path, params_file)
    assert line == (
        f"error: {params_file}: nested too deeply (more than 100 levels of mappings and lists)"
    )


@pytest.mark.parametrize(("depth", "flow"), [(600, True), (800, False)])
def test_nesting_too_deep_for_the_parser_is_one_line(tmp_path, depth, flow):
    params_file = deep_params(tmp_path, depth, flow=flow)  # RecursionError in ruamel
    line = train_refusal(tmp_path, params_file)
    assert line.startswith(f"error: {params_file}: nested too deeply")


def test_nesting_of_a_hundred_levels_is_read(tmp_path):
    params_file = deep_params(tmp_path, 99, flow=True)  # 100 with the section itself
    line = train_refusal(tmp_path, params_file)  # refused, but for its name
    assert line.startswith(f"error: {params_file}: unknown section 'trap'")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("&loop [*loop]", "nested too deeply"),  # an alias cycle is infinitely deep
        ("!!bool maybe", "not valid YAML: a value or key of an unreadable kind"),
        ("2001-13-01", r"not valid YAML: a value that cannot be read \(month must be in 1..12\)"),
        ("!!int twelve", "not valid YAML: a value that cannot be read"),
        ("{? [[1]] : 1}", "not valid YAML: a value or key of an unreadable kind"),
    ],
)
def test_values_the_yaml_constructors_cannot_build_are_one_line(tmp_path, value, message):
    import re

    params_file = raw_params(tmp_path, with_value("\n  max_samples:", value))
    line = train_refusal(tmp_path, params_file)
    assert re.search(rf"^error: {re.escape(str(params_file))}: {message}", line), line


def test_a_billion_laughs_of_aliases_is_refused_at_once(tmp_path):
    # 9 levels of 9 aliases each: 387 million names if expanded, e.g. to quote in a message
    chain = ["&a0 [x, x, x, x, x, x, x, x, x]"]
    chain += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    params_file = raw_params(tmp_path, with_value("\n  classes:", f"[{', '.join(chain)}]"))
    main, argv = stage_argv("split.method", params_file, tmp_path)
    line = run_refused(main, argv, tmp_path)
    assert line.startswith(f"error: {params_file}: data.classes must be null or a list of")
    assert "item 0 is [" in line and len(line) < 400
