"""params.yaml: every wrong section, key, type or value is one clear message."""

import pytest

from digitwise import params
from digitwise.models import estimators as models

DELETE = "<delete>"  # tells the write_params fixture to remove a key


def all_sections(path):
    raw = params.load(path)
    return (
        params.data_params(raw),
        params.split_params(raw),
        params.train_params(raw, models.SCHEMAS),
        params.evaluate_params(raw),
        params.separability_params(raw),
        params.attribution_params(raw),
        params.examples_params(raw),
        params.steps_params(raw),
        params.gate_params(raw),
    )


def test_the_shipped_params_are_valid(write_params):
    data, split, train, evaluate, *_ = all_sections(write_params())
    assert data.source == "digits"
    assert split.method == "stratified"
    assert 0 < split.test_size < 1
    assert train.model in models.MODELS
    assert set(train.hyperparameters) == set(models.SCHEMAS[train.model])
    assert evaluate.top_confusions >= 1


def test_data_classes_may_be_left_out_or_named(write_params):
    assert params.data_params(params.load(write_params({"data.classes": DELETE}))).classes is None
    named = write_params({"data.classes": ["T-shirt/top", "Ankle boot", "ça va"]})
    assert params.data_params(params.load(named)).classes == ("T-shirt/top", "Ankle boot", "ça va")


def test_a_source_split_has_no_test_size(write_params):
    split = params.split_params(params.load(write_params({"split.method": "source"})))
    assert split == params.SplitParams(method="source", test_size=None, seed=None)


def test_train_params_carry_only_the_chosen_models_block(write_params):
    train = params.train_params(params.load(write_params({"train.model": "knn"})), models.SCHEMAS)
    assert train.hyperparameters == {"n_neighbors": 3, "weights": "uniform"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"split.stratified.test_size": 0},
            r"split\.stratified\.test_size must be a number strictly between 0 and 1; "
            r"got 0 \(int\)",
        ),
        (
            {"split.stratified.test_size": 1.5},
            r"split\.stratified\.test_size must be a number strictly between 0 and 1; got 1\.5",
        ),
        (
            {"split.stratified.test_size": "0.2"},
            r"split\.stratified\.test_size must be a number .*got '0\.2' \(str\)",
        ),
        ({"split.stratified.test_size": float("nan")}, r"split\.stratified\.test_size must be"),
        (
            {"split.stratified.seed": -1},
            r"split\.stratified\.seed must be an integer in 0\.\.4294967295; got -1",
        ),
        ({"split.stratified.seed": True}, r"split\.stratified\.seed must be an integer .*True"),
        (
            {"split.stratified.test_sise": 0.2},
            r"unknown key 'split\.stratified\.test_sise'; allowed: test_size, seed",
        ),
        ({"split.stratified.test_size": DELETE}, r"missing key 'split\.stratified\.test_size'"),
        # test_size belongs to the stratified method only
        ({"split.test_size": 0.2}, r"unknown key 'split\.test_size'; allowed: method, stratified"),
        ({"split.method": "random"}, r"split\.method must be one of stratified, source"),
        ({"split.method": DELETE}, r"missing key 'split\.method'"),
        (
            {"data.source": "mnist_typo"},
            r"data\.source must be one of digits, idx; got 'mnist_typo'",
        ),
        ({"data.path": ""}, r"data\.path must be a path \(a non-empty string\); got ''"),
        ({"data.path": 3}, r"data\.path must be a path .*got 3 \(int\)"),
        ({"data.path": DELETE}, r"missing key 'data\.path'"),
        ({"data.classes": "0123456789"}, r"data\.classes must be null or a list of at least 2"),
        ({"data.classes": ["only"]}, r"data\.classes must be null or a list of at least 2"),
        ({"data.classes": ["a", "b", "a"]}, r"data\.classes .*'a' appears more than once"),
        ({"data.classes": ["a", " b"]}, r"data\.classes .*item 1 is ' b' \(str\)"),
        ({"data.classes": ["a", 7]}, r"data\.classes .*item 1 is 7 \(int\)"),
        ({"data.classes": ["a", "b\nc"]}, r"data\.classes .*item 1 is 'b\\nc' \(str\)"),
        ({"data.classes": ["a", "x" * 101]}, r"data\.classes .*at most 100 characters"),
        ({"data.classes": ["a", "$5"]}, r"data\.classes .*without surrounding spaces or '\$'"),
        (
            {"train.max_samples": 0},
            r"train\.max_samples must be an integer in 1\.\.1000000000; got 0 .*null",
        ),
        ({"train.max_samples": 1.5}, r"train\.max_samples must be an integer in 1\.\."),
        ({"attribution.patch": 0}, r"attribution\.patch must be an integer in 1\.\.64; got 0"),
        (
            {"attribution.max_evaluations": 0},
            r"attribution\.max_evaluations must be an integer in 1\.\.1000000000; got 0",
        ),
        (
            {"steps.train_eval_samples": 0},
            r"steps\.train_eval_samples must be an integer in 1\.\.1000000000",
        ),
        (
            {"train.model": "xgboost"},
            r"train\.model must be one of logistic_regression, mlp, svc, random_forest, "
            r"hist_gradient_boosting, knn; got 'xgboost'",
        ),
        (
            {"train.logistic_regression.C": -1.0},
            r"train\.logistic_regression\.C must be a number between 1e-10 and 1e\+10; got -1\.0",
        ),
        (
            {"train.logistic_regression.C": 0},
            r"train\.logistic_regression\.C must be a number between 1e-10 and 1e\+10; got 0",
        ),
        (
            {"train.logistic_regression.c": 1.0},
            r"unknown key 'train\.logistic_regression\.c'; allowed: C, max_iter",
        ),
        (
            {"train.mlp.hidden_layer_sizes": [64, 0]},
            r"train\.mlp\.hidden_layer_sizes must be a list of 1 to 10 integers in 1\.\.10000 "
            r"adding up to at most 20000; got \[64, 0\] \(list\)",
        ),
        ({"train.mlp.alpha": -0.1}, r"train\.mlp\.alpha must be a number between 0 and 1e\+06"),
        (
            {"train.svc.gamma": "often"},
            r"train\.svc\.gamma must be a number between 1e-10 and 1e\+10 or one of scale, auto; "
            r"got 'often'",
        ),
        (
            {"train.random_forest.max_depth": 0},
            r"train\.random_forest\.max_depth must be an integer in 1\.\.1000; got 0 \(int\) "
            r"\(or null\)",
        ),
        (
            {"train.knn.n_neighbors": 2.5},
            r"train\.knn\.n_neighbors must be an integer in 1\.\.10000; got 2\.5",
        ),
        ({"train.svc": "fast"}, r"train\.svc must be a mapping with keys C, kernel, gamma"),
        (
            {"evaluate.bootstrap_resamples": 10},
            r"evaluate\.bootstrap_resamples must be an integer in 100\.\.100000; got 10",
        ),
        (
            {"gate.min_accuracy": 1.2},
            r"gate\.min_accuracy must be a number between 0 and 1; got 1\.2",
        ),
        ({"gate.alpha": 0}, r"gate\.alpha must be a number strictly between 0 and 1; got 0"),
        ({"separability.maps": -1}, r"separability\.maps must be an integer in 0\.\.100; got -1"),
        ({"attribution.max_samples": 0}, r"attribution\.max_samples must be an integer in 1\.\."),
        ({"examples.per_cell": 50}, r"examples\.per_cell must be an integer in 1\.\.20; got 50"),
        (
            {"steps.snapshots": [0, 5]},
            r"steps\.snapshots must be a list of 1 to 20 integers in 1\.\.100000; got \[0, 5\]",
        ),
        ({"steps.snapshots": 5}, r"steps\.snapshots must be a list of 1 to 20 integers"),
        (
            {"evaluate.top_confusions": 0},
            r"evaluate\.top_confusions must be an integer in 1\.\.1000000; got 0",
        ),
        (
            {"trian": {"model": "svc"}},
            r"unknown section 'trian'; allowed: data, split, train, evaluate, separability, "
            r"attribution, examples, steps, gate",
        ),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(write_params, changes, message):
    path = write_params(changes)
    with pytest.raises(params.ParamsError, match=message) as caught:
        all_sections(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ")
    assert "\n" not in text


def test_an_unused_models_block_is_checked_too(write_params):
    path = write_params({"train.model": "logistic_regression", "train.mlp.max_iter": 0})
    with pytest.raises(
        params.ParamsError, match=r"train\.mlp\.max_iter must be an integer in 1\.\.100000"
    ):
        params.train_params(params.load(path), models.SCHEMAS)


def test_a_missing_section_is_named(write_params):
    path = write_params({"evaluate": DELETE})
    with pytest.raises(params.ParamsError, match=r"missing section 'evaluate'"):
        params.evaluate_params(params.load(path))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("split: [unclosed\n", r"not valid YAML at line \d+"),
        (
            "- just\n- a list\n",
            r"must be a mapping of sections data, split, train, evaluate, separability",
        ),
        ("", r"must be a mapping of sections"),
    ],
)
def test_a_malformed_file_is_one_line(write_params, raw, message):
    with pytest.raises(params.ParamsError, match=message):
        params.load(write_params(raw=raw))


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(params.ParamsError, match=r"nowhere\.yaml: file not found"):
        params.load(tmp_path / "nowhere.yaml")


def test_values_are_read_as_dvc_reads_them(write_params):
    """YAML 1.2, as DVC: 1e-3 is a number and 010 is ten (PyYAML says '1e-3' and 8)."""
    text = write_params().read_text()
    text = text.replace("C: 1.0", "C: 1e-3").replace("n_neighbors: 3", "n_neighbors: 010")
    path = write_params(raw=text)
    raw = params.load(path)
    assert raw["train"]["logistic_regression"]["C"] == 0.001
    assert raw["train"]["knn"]["n_neighbors"] == 10
    params.train_params(raw, models.SCHEMAS)  # and both are valid


def test_a_duplicated_key_is_an_error_not_a_silent_override(write_params):
    path = write_params(raw="data:\n  source: digits\ndata:\n  source: digits\n")
    with pytest.raises(params.ParamsError, match=r'line 3: found duplicate key "data"'):
        params.load(path)
