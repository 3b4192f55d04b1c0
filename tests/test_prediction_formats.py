"""Predictions in every format and layout: CSV, Parquet, shards; label-only files; and the
fixes found by trying the reader as a new user would (rounding, numeric class lists,
separators, the row reported, control characters)."""

import json
import re
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from digitwise.data.datasets import DataError, load_classes
from digitwise.errors import printable
from digitwise.predictions.reading import read_predictions
from digitwise.predictions.schema import Predictions, PredictionsError, to_csv

CLASSES = ("cat", "dog", "emu")


def random_predictions(n: int, *, proba: bool = True, seed: int = 0) -> Predictions:
    rng = np.random.default_rng(seed)
    actual = rng.integers(0, 3, n)
    weights = rng.dirichlet(np.ones(3), n)
    return Predictions(
        sample=rng.permutation(n * 3)[:n].astype(np.int64),
        actual=actual,
        predicted=weights.argmax(axis=1),
        proba=weights if proba else None,
        classes=CLASSES,
    )


def table(predictions: Predictions, rows=slice(None)) -> pa.Table:
    names = predictions.classes
    columns = {
        "sample": pa.array(predictions.sample[rows]),
        "actual": pa.array([names[i] for i in predictions.actual[rows]]),
        "predicted": pa.array([names[i] for i in predictions.predicted[rows]]),
    }
    if predictions.proba is not None:
        for j, name in enumerate(names):
            columns[f"proba_{name}"] = pa.array(predictions.proba[rows, j])
    return pa.table(columns)


def csv_text(predictions: Predictions, rows=slice(None)) -> str:
    part = Predictions(
        sample=predictions.sample[rows],
        actual=predictions.actual[rows],
        predicted=predictions.predicted[rows],
        proba=None if predictions.proba is None else predictions.proba[rows],
        classes=predictions.classes,
    )
    return to_csv(part)


def assert_same(got: Predictions, expected: Predictions) -> None:
    for field in ("sample", "actual", "predicted"):
        np.testing.assert_array_equal(getattr(got, field), getattr(expected, field))
    if expected.proba is None:
        assert got.proba is None
    else:
        np.testing.assert_array_equal(got.proba, expected.proba)
    assert got.classes == expected.classes


LAYOUTS = ["csv", "parquet", "csv shards", "parquet shards", "mixed shards", "glob"]


def write_layout(tmp_path, predictions: Predictions, layout: str):
    """Write the predictions in one layout; the path (or pattern) to read."""
    thirds = [slice(0, 7), slice(7, 20), slice(20, None)]
    if layout == "csv":
        (tmp_path / "p.csv").write_text(csv_text(predictions))
        return tmp_path / "p.csv"
    if layout == "parquet":
        pq.write_table(table(predictions), tmp_path / "p.parquet", row_group_size=9)
        return tmp_path / "p.parquet"
    shards = tmp_path / "shards"
    shards.mkdir()
    for i, rows in enumerate(thirds):
        kind = {"csv shards": "csv", "parquet shards": "parquet", "glob": "parquet"}.get(
            layout, "csv" if i % 2 else "parquet"
        )
        name = shards / f"part-{i}.{kind}"
        if kind == "csv":
            name.write_text(csv_text(predictions, rows))
        else:
            pq.write_table(table(predictions, rows), name)
    (shards / "_SUCCESS").write_text("")  # written by Spark; skipped
    if layout == "glob":
        (shards / "other.csv").write_text("not,a,shard\n")  # not matched by the pattern
        return str(shards / "part-*.parquet")
    return shards


def test_a_csv_copied_on_two_threads_reads_every_row(tmp_path, monkeypatch):
    import threading

    from digitwise.predictions import csv_format

    started = []

    class Counted(threading.Thread):
        def start(self):
            started.append(self)
            super().start()

    monkeypatch.setattr(csv_format, "_THREADED_ROWS", 1)
    monkeypatch.setattr(threading, "Thread", Counted)
    predictions = random_predictions(50_001, seed=4)  # blocks of 21,845 rows at 3 classes
    assert_same(read_predictions(write_layout(tmp_path, predictions, "csv"), CLASSES), predictions)
    assert len(started) == 1  # the second half of the rows was copied on a thread


@pytest.mark.parametrize("proba", [True, False], ids=["probabilities", "labels only"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_format_and_layout_reads_the_same_rows(tmp_path, layout, proba):
    predictions = random_predictions(31, proba=proba)
    assert_same(read_predictions(write_layout(tmp_path, predictions, layout), CLASSES), predictions)


def test_parquet_class_columns_may_be_integers_dictionaries_and_narrow_types(tmp_path):
    classes = tuple(str(d) for d in range(10))
    path = tmp_path / "p.parquet"
    pq.write_table(
        pa.table(
            {
                "sample": pa.array([5, 6, 7], pa.int16()),
                "actual": pa.array([3, 9, 0], pa.int8()),
                "predicted": pa.array(["3", "8", "0"]).dictionary_encode(),
                **{f"proba_{d}": pa.array([0.1] * 3, pa.float32()) for d in classes},
            }
        ),
        path,
    )
    got = read_predictions(path, classes)
    assert got.sample.tolist() == [5, 6, 7] and got.sample.dtype == np.int64
    assert got.actual.tolist() == [3, 9, 0]
    assert got.predicted.tolist() == [3, 8, 0]
    assert got.proba.dtype == np.float64


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"sample": pa.array([1.5])}, r"column sample must hold integers; it holds double"),
        ({"actual": pa.array([1.0])}, r"column actual must hold class names .*it holds double"),
        ({"sample": pa.array([1, None])}, r"p\.parquet, row 1: sample is missing \(null\)"),
        (
            {"proba_dog": pa.array(["x", "y"])},
            r"column proba_dog must hold numbers; it holds string",
        ),
        ({"actual": pa.array(["cat", "yak"])}, r"p\.parquet, row 1: actual 'yak' is not in"),
        ({"proba_cat": pa.array([1.0, 0.7])}, r"row 1: probabilities sum to 1\.7"),
    ],
)
def test_bad_parquet_is_one_line_naming_the_row(tmp_path, columns, message):
    base = {
        "sample": pa.array([1, 2]),
        "actual": pa.array(["cat", "dog"]),
        "predicted": pa.array(["cat", "dog"]),
        "proba_cat": pa.array([1.0, 0.0]),
        "proba_dog": pa.array([0.0, 1.0]),
        "proba_emu": pa.array([0.0, 0.0]),
    }
    base.update({name: values for name, values in columns.items()})
    length = min(len(values) for values in base.values())
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({k: v.slice(0, length) for k, v in base.items()}), path)
    with pytest.raises(PredictionsError, match=message) as caught:
        read_predictions(path, CLASSES)
    assert "\n" not in str(caught.value)


def test_a_damaged_parquet_file_is_one_line(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(table(random_predictions(10)), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] + b"PAR1")
    with pytest.raises(PredictionsError, match=r"not a readable Parquet file") as caught:
        read_predictions(path, CLASSES)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: (d / "notes.txt").write_text("x"), r"notes\.txt: not a predictions shard"),
        (lambda d: None, r"directory holds no predictions shards"),
    ],
)
def test_a_directory_holds_only_shards(tmp_path, setup, message):
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / ".hidden.csv").write_text("skipped")
    setup(shards)
    with pytest.raises(PredictionsError, match=message):
        read_predictions(shards, CLASSES)


def test_an_id_in_two_shards_names_both(tmp_path):
    predictions = random_predictions(10)
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "a.csv").write_text(csv_text(predictions, slice(0, 5)))
    (shards / "b.csv").write_text(csv_text(predictions, slice(4, 10)))
    repeated = int(predictions.sample[4])
    with pytest.raises(
        PredictionsError, match=rf"b\.csv: sample id {repeated} is also in .*a\.csv"
    ):
        read_predictions(shards, CLASSES)


def test_shards_share_their_columns(tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "a.csv").write_text(csv_text(random_predictions(5)))
    (shards / "b.csv").write_text(csv_text(random_predictions(5, proba=False, seed=1)))
    with pytest.raises(PredictionsError, match=r"b\.csv: has no proba_ columns, unlike"):
        read_predictions(shards, CLASSES)


def test_a_glob_matching_nothing_or_only_directories_is_named(tmp_path):
    with pytest.raises(PredictionsError, match=r"this pattern matches nothing; it must match"):
        read_predictions(str(tmp_path / "part-*.csv"), CLASSES)
    (tmp_path / "part-1.csv").mkdir()
    with pytest.raises(PredictionsError, match=r"matches only directories, such as .*part-1"):
        read_predictions(str(tmp_path / "part-*.csv"), CLASSES)


def test_some_but_not_all_probability_columns_is_refused(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("sample,actual,predicted,proba_cat\n1,cat,cat,1\n")
    with pytest.raises(PredictionsError, match=r"missing column 'proba_dog'; a file with prob"):
        read_predictions(path, CLASSES)


# --- fixes: what a new user ran into --------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_rows_rounded_to_three_decimals_within_the_stated_tolerance_pass(tmp_path_factory, data):
    n_classes = data.draw(st.integers(2, 12))
    # thousandths summing to 999, 1000 or 1001: the decimal sum is within 0.001
    total = data.draw(st.sampled_from([999, 1000, 1001]))
    cuts = sorted(
        data.draw(st.lists(st.integers(0, total), min_size=n_classes - 1, max_size=n_classes - 1))
    )
    parts = np.diff([0, *cuts, total])
    assume(parts.max() <= 1000)  # each one a probability
    assert Decimal(int(parts.sum())) / 1000 - 1 in (Decimal("-0.001"), 0, Decimal("0.001"))
    classes = tuple(f"c{i}" for i in range(n_classes))
    text = ",".join(f"{p / 1000:.3f}" for p in parts)
    path = tmp_path_factory.mktemp("rounded") / "p.csv"
    header = ",".join(f"proba_{c}" for c in classes)
    path.write_text(f"sample,actual,predicted,{header}\n1,c0,c0,{text}\n")
    read_predictions(path, classes)  # no error


def test_a_sum_just_beyond_the_tolerance_is_refused(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(
        "sample,actual,predicted,proba_cat,proba_dog,proba_emu\n1,cat,cat,0.5,0.4,0.1011\n"
    )
    with pytest.raises(PredictionsError, match=r"line 2: probabilities sum to 1\.0011"):
        read_predictions(path, CLASSES)


def test_a_numeric_class_list_names_the_classes_by_their_numbers(tmp_path):
    path = tmp_path / "classes.json"
    path.write_text(json.dumps(list(range(10))))
    assert load_classes(path) == tuple(str(d) for d in range(10))


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ([0, 1.5], r"element 1 is a number 1\.5, not a string or an integer"),
        (["a", True], r"element 1 is a boolean true, not a string or an integer"),
        (["a", None], r"element 1 is null null"),
        (["a", ["b"]], r"element 1 is a list"),
        (["a", "5\u0000"], r"element 1 '5\\x00' is refused"),
        (["a", "b\nc"], r"element 1 'b\\nc' is refused"),
        (["a", 1, "1"], r"'1' appears more than once"),
    ],
)
def test_class_list_names_are_strings_or_integers_without_control_characters(
    tmp_path, names, message
):
    path = tmp_path / "classes.json"
    path.write_text(json.dumps(names))
    with pytest.raises(DataError, match=message) as caught:
        load_classes(path)
    assert "\n" not in str(caught.value) and "\x00" not in str(caught.value)


@pytest.mark.parametrize(("separator", "name"), [(";", "semicolons"), ("\t", "tabs")])
def test_other_separators_are_named(tmp_path, separator, name):
    path = tmp_path / "p.csv"
    row = ["sample", "actual", "predicted", "proba_cat", "proba_dog", "proba_emu"]
    path.write_text(separator.join(row) + "\n" + separator.join(["1", "cat", "cat", "1", "0", "0"]))
    with pytest.raises(PredictionsError, match=rf"fields are separated by {name}; .* by commas"):
        read_predictions(path, CLASSES)


HEADER = "sample,actual,predicted,proba_cat,proba_dog,proba_emu\n"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        # a bad label alphabetically after another bad one, but on an earlier line
        (["1,yak,cat,1,0,0", "2,ant,cat,1,0,0"], r"line 2: actual 'yak'"),
        # a bad probability before a bad label
        (["1,cat,cat,1,0,0", "2,cat,cat,2,0,0", "3,yak,cat,1,0,0"], r"line 3: proba_cat must"),
        # a bad label before a repeated id
        (["1,cat,cat,1,0,0", "2,cat,zzz,1,0,0", "1,cat,cat,1,0,0"], r"line 3: predicted 'zzz'"),
        (
            ["1,cat,cat,1,0,0", "2,cat,cat,1,0,0", "2,cat,cat,1,0,0"],
            r"line 4: sample id 2 appears more than once \(first at .*line 3\)",
        ),
        (["1,cat,cat,1,0,0", "2,cat,cat,1,0,0,9"], r"line 3: expected 6 fields like the header"),
        # blank lines count, as an editor counts them
        (["", "1,cat,cat,1,0,0", "", "2,cat,cat,0.2,0,0"], r"line 5: probabilities sum to 0\.2"),
    ],
)
def test_the_first_bad_row_of_the_file_is_reported(tmp_path, rows, message):
    path = tmp_path / "p.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    with pytest.raises(PredictionsError, match=message):
        read_predictions(path, CLASSES)


@pytest.mark.parametrize("field", ["cat\x00", "ca\x1b[31mt", '"c\nat"'])
def test_control_characters_in_a_class_field_are_refused_and_never_echoed(tmp_path, field):
    path = tmp_path / "p.csv"
    path.write_text(HEADER + f"1,{field},cat,1,0,0\n", newline="")
    with pytest.raises(
        PredictionsError, match=r"line 2: actual '.*' is not in the class list"
    ) as e:
        read_predictions(path, CLASSES)
    message = str(e.value)
    assert not re.search(r"[\x00-\x1f\x7f]", message)


def test_label_only_files_keep_their_labels(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("sample,predicted,actual\n3,dog,cat\n4,emu,emu\n")
    got = read_predictions(path, CLASSES)
    assert got.proba is None
    assert got.actual.tolist() == [0, 2] and got.predicted.tolist() == [1, 2]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        # a bad label before a row the parser itself cannot read
        (["1,cat,cat,1,0,0", "2,zz,cat,1,0,0", "x,cat,cat,1,0,0"], r"line 3: actual 'zz'"),
        # a short row before a bad probability: the field count, not an empty name
        (["1,cat,cat,1,0,0", "2,cat", "3,cat,cat,5,0,0"], r"line 3: expected 6 fields"),
        # a space before a quoted field spanning lines: lines counted as pandas reads them
        (['1,cat,cat, "1\n",0,0', "2,cat,yak,1,0,0"], r"line 4: predicted 'yak'"),
    ],
)
def test_the_first_bad_row_whichever_rule_it_breaks(tmp_path, rows, message):
    path = tmp_path / "p.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    with pytest.raises(PredictionsError, match=message):
        read_predictions(path, CLASSES)


def test_a_null_after_a_repeated_id_reports_the_repeat(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(
        pa.table(
            {
                "sample": [1, 1, 3],
                "actual": ["cat", "cat", "dog"],
                "predicted": ["cat", "cat", None],
            }
        ),
        path,
    )
    with pytest.raises(PredictionsError, match=r"p\.parquet, row 1: sample id 1 appears more"):
        read_predictions(path, CLASSES)
    pq.write_table(
        pa.table({"sample": [1, 2], "actual": ["cat", None], "predicted": ["cat", "yak"]}), path
    )
    with pytest.raises(PredictionsError, match=r"p\.parquet, row 1: actual is missing \(null\)"):
        read_predictions(path, CLASSES)


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        (["1e3", "2"], [1000, 2]),  # as pandas reads integers
        (["9007199254740993", "5"], [9007199254740993, 5]),  # beyond 2^53, kept exact
        (["-9223372036854775808", "0"], [-(2**63), 0]),
    ],
)
def test_ids_are_read_as_integers_exactly(tmp_path, ids, expected):
    path = tmp_path / "p.csv"
    path.write_text("sample,actual,predicted\n" + "".join(f"{i},cat,cat\n" for i in ids))
    assert read_predictions(path, CLASSES).sample.tolist() == expected


@pytest.mark.parametrize("bad", ["9007199254740993.0", "1e30", "1.5", "inf", ""])
def test_ids_a_float_cannot_hold_exactly_are_refused(tmp_path, bad):
    path = tmp_path / "p.csv"
    path.write_text(f"sample,actual,predicted\n9007199254740992,cat,cat\n{bad},cat,cat\n")
    with pytest.raises(PredictionsError, match=r"line 3: sample must be an integer id") as error:
        read_predictions(path, CLASSES)
    assert "\n" not in str(error.value)


def test_an_empty_shard_among_others_is_fine_but_no_rows_at_all_is_not(tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "a.csv").write_text("sample,actual,predicted\n")
    pq.write_table(table(random_predictions(4, proba=False)).slice(0, 0), shards / "b.parquet")
    with pytest.raises(PredictionsError, match=r"shards: no shard has rows"):
        read_predictions(shards, CLASSES)
    (shards / "c.csv").write_text(csv_text(random_predictions(4, proba=False)))
    assert len(read_predictions(shards, CLASSES).sample) == 4


@pytest.mark.parametrize("name", [" a", "a ", "a\u00a0", "\ud800"])
def test_class_names_with_surrounding_space_or_broken_characters_are_refused(tmp_path, name):
    path = tmp_path / "classes.json"
    path.write_text(json.dumps(["b", name]))
    with pytest.raises(DataError, match=r"element 1 .* is refused"):
        load_classes(path)


@pytest.mark.parametrize("field", ["cat\x0b", "cat\u2028", "cat\x85"])
def test_a_label_with_a_control_character_at_its_edge_is_not_the_class(tmp_path, field):
    path = tmp_path / "p.csv"
    path.write_text(f"sample,actual,predicted\n1,{field},cat\n", newline="")
    with pytest.raises(PredictionsError, match=r"line 2: actual 'cat\\") as error:
        read_predictions(path, CLASSES)
    assert printable(str(error.value)) == str(error.value)
