"""skops model files: byte-reproducible, round-trip exactly, and refuse what we don't trust."""

import io
import warnings
import zipfile

import numpy as np
import pytest
import skops.io
from sklearn.datasets import load_digits
from sklearn.tree import DecisionTreeClassifier

from digitwise.errors import UserError
from digitwise.models import estimators as models
from digitwise.models import files as model_io

# Small settings so every model trains in well under a second.
SMALL = {
    "logistic_regression": {"C": 1.0, "max_iter": 300},
    "mlp": {"hidden_layer_sizes": [16], "alpha": 1e-4, "learning_rate_init": 0.01, "max_iter": 300},
    "svc": {"C": 10.0, "kernel": "rbf", "gamma": "scale"},
    "random_forest": {"n_estimators": 5, "max_depth": None, "min_samples_leaf": 1},
    "hist_gradient_boosting": {
        "learning_rate": 0.3,
        "max_iter": 5,
        "max_leaf_nodes": 8,
        "l2_regularization": 0.0,
    },
    "knn": {"n_neighbors": 3, "weights": "uniform"},
}


DIGITS_SHAPE = {"n_features": 64, "n_classes": 10}


@pytest.fixture(scope="module")
def digits():
    features, labels = load_digits(return_X_y=True)
    return features[:600] / 16, labels[:600]


def test_small_settings_cover_every_model():
    assert set(SMALL) == set(models.MODELS)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_model_saves_the_same_bytes_and_loads_back_exactly(tmp_path, digits, name):
    features, labels = digits
    first = models.build(name, SMALL[name], seed=0).fit(features, labels)
    second = models.build(name, SMALL[name], seed=0).fit(features, labels)
    model_io.save_model(first, tmp_path / "a.skops")
    model_io.save_model(second, tmp_path / "b.skops")
    # Two fits, two saves: different objects and times, the same file.
    assert (tmp_path / "a.skops").read_bytes() == (tmp_path / "b.skops").read_bytes()

    loaded = model_io.load_model(tmp_path / "a.skops", **DIGITS_SHAPE)
    np.testing.assert_array_equal(loaded.predict_proba(features), first.predict_proba(features))


def test_canonical_archive_keeps_what_skops_wrote(digits):
    features, labels = digits
    model = models.build("random_forest", SMALL["random_forest"], seed=0).fit(features, labels)
    raw = skops.io.dumps(model)
    canonical = model_io.canonical_skops(raw)
    with (
        zipfile.ZipFile(io.BytesIO(raw)) as before,
        zipfile.ZipFile(io.BytesIO(canonical)) as after,
    ):
        assert len(before.namelist()) == len(after.namelist())
        assert {info.date_time for info in after.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        # array payloads are carried over unchanged, only renamed
        assert sorted(before.read(n) for n in before.namelist() if n != "schema.json") == sorted(
            after.read(n) for n in after.namelist() if n != "schema.json"
        )
    assert skops.io.get_untrusted_types(data=canonical) == skops.io.get_untrusted_types(data=raw)
    trusted = skops.io.get_untrusted_types(data=raw)
    reloaded = skops.io.load(io.BytesIO(canonical), trusted=trusted)
    np.testing.assert_array_equal(reloaded.predict_proba(features), model.predict_proba(features))


class Intruder:
    """A type no one trusts: loading a file that holds it must be refused."""

    def __init__(self):
        self.payload = [1, 2, 3]


def test_an_untrusted_type_is_refused(tmp_path):
    path = tmp_path / "model.skops"
    path.write_bytes(skops.io.dumps({"model": Intruder()}))
    with pytest.raises(
        UserError,
        match=r"model\.skops: refusing to load untrusted type .*Intruder; "
        r"this project trusts only: ",
    ):
        model_io.load_model(path, **DIGITS_SHAPE)


def test_a_trusted_but_unexpected_estimator_is_refused(tmp_path, digits):
    features, labels = digits
    path = tmp_path / "model.skops"
    model_io.save_model(DecisionTreeClassifier(random_state=0).fit(features, labels), path)
    with pytest.raises(
        UserError,
        match=r"holds a sklearn\.tree\._classes\.DecisionTreeClassifier, "
        r"not one of the classifiers",
    ):
        model_io.load_model(path, **DIGITS_SHAPE)


def test_a_corrupt_file_is_one_clear_error(tmp_path):
    path = tmp_path / "model.skops"
    path.write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(UserError, match=r"model\.skops: not a readable skops model file"):
        model_io.load_model(path, **DIGITS_SHAPE)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(UserError, match=r"model\.skops: model file not found"):
        model_io.load_model(tmp_path / "model.skops", **DIGITS_SHAPE)


def test_a_boosted_model_file_does_not_depend_on_the_machines_thread_count(tmp_path, digits):
    """The fitted bin mapper records the OpenMP thread count; the saved file must not. The
    count is set as OMP_NUM_THREADS sets it at start-up (the OpenMP runtime's own setting,
    through threadpoolctl), in this process instead of one Python process per count."""
    from threadpoolctl import threadpool_limits

    features, labels = digits
    h = {"learning_rate": 0.3, "max_iter": 3, "max_leaf_nodes": 8, "l2_regularization": 0.0}
    for threads in (1, 2):
        # each fit in its own filters: scikit-learn's threads reset the process's filters
        # inside catch_warnings, which is not thread-safe, and two may leave them empty,
        # which its next Parallel call takes for filters never passed (a UserWarning)
        with threadpool_limits(limits=threads, user_api="openmp"), warnings.catch_warnings():
            fitted = models.build("hist_gradient_boosting", h, seed=0).fit(
                features[:300], labels[:300]
            )
        assert fitted._bin_mapper.n_threads == threads  # what would reach the file
        portable = models.make_portable("hist_gradient_boosting", fitted)
        model_io.save_model(portable, tmp_path / f"{threads}.skops")
    assert (tmp_path / "1.skops").read_bytes() == (tmp_path / "2.skops").read_bytes()


def test_a_damaged_array_inside_the_archive_is_one_clear_error(tmp_path, digits):
    features, labels = digits
    model = models.build("logistic_regression", SMALL["logistic_regression"], 0)
    archive = model_io.canonical_skops(skops.io.dumps(model.fit(features, labels)))
    damaged = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, zipfile.ZipFile(damaged, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info, b"\x93NUMPY garbage" if info.filename.endswith(".npy") else data)
    path = tmp_path / "model.skops"
    path.write_bytes(damaged.getvalue())
    with pytest.raises(UserError, match=r"model\.skops: not a readable skops model file"):
        model_io.load_model(path, **DIGITS_SHAPE)


def test_a_model_fitted_on_other_data_is_refused(digits):
    features, labels = digits
    narrow = models.build("logistic_regression", SMALL["logistic_regression"], 0)
    narrow.fit(features[:, :10], labels)
    with pytest.raises(
        UserError, match=r"m\.skops: the model expects 10 features, the data has 64"
    ):
        model_io.check_fits_data(narrow, "m.skops", n_features=64, n_classes=10)
    named = models.build("logistic_regression", SMALL["logistic_regression"], 0)
    named.fit(features, np.array(["even", "odd"])[labels % 2])
    with pytest.raises(
        UserError,
        match=r"predicts classes \['even', 'odd'\], not at least 2 distinct class indices",
    ):
        model_io.check_fits_data(named, "m.skops", n_features=64, n_classes=10)
