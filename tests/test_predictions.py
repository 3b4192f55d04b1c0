"""The predictions file: round trip, and one clear line for every way it can be wrong."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitwise.predictions.reading import read_predictions
from digitwise.predictions.schema import Predictions, PredictionsError, to_csv

CLASSES = ("cat", "dog", "emu")
HEADER = "sample,actual,predicted,proba_cat,proba_dog,proba_emu\n"


def write(tmp_path, text):
    path = tmp_path / "predictions.csv"
    path.write_text(text)
    return path


@settings(max_examples=50, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 2),
            st.integers(0, 2),
            st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_written_files_read_back_exactly(tmp_path_factory, rows):
    weights = np.array([row[2] for row in rows]) + 1e-3
    predictions = Predictions(
        sample=np.arange(len(rows), dtype=np.int64) * 7,
        actual=np.array([row[0] for row in rows], dtype=np.int64),
        predicted=np.array([row[1] for row in rows], dtype=np.int64),
        proba=weights / weights.sum(axis=1, keepdims=True),
        classes=CLASSES,
    )
    path = tmp_path_factory.mktemp("roundtrip") / "p.csv"
    path.write_text(to_csv(predictions))
    back = read_predictions(path, CLASSES)
    for field in ("sample", "actual", "predicted", "proba"):
        np.testing.assert_array_equal(getattr(back, field), getattr(predictions, field))


def test_columns_may_come_in_any_order_and_extra_columns_are_ignored(tmp_path):
    path = write(
        tmp_path,
        "note,proba_emu,predicted,proba_dog,sample,proba_cat,actual\nx,0.1,dog,0.7,5,0.2,cat\n",
    )
    back = read_predictions(path, CLASSES)
    assert back.actual.tolist() == [0]
    assert back.predicted.tolist() == [1]
    np.testing.assert_array_equal(back.proba, [[0.2, 0.7, 0.1]])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "",
            r"empty file; expected a header 'sample,actual,predicted' and optionally "
            r"'proba_cat,\.\.\.,proba_emu'",
        ),
        (HEADER, r"has a header but no rows"),
        (
            "sample,actual,proba_cat,proba_dog,proba_emu\n1,cat,1,0,0\n",
            r"missing column 'predicted'",
        ),
        (
            "sample,actual,predicted,proba_cat,proba_dog\n1,cat,cat,1,0\n",
            r"missing column 'proba_emu'",
        ),
        (
            HEADER.strip() + ",proba_yak\n1,cat,cat,1,0,0,0\n",
            r"column 'proba_yak' is for a class not in the class list \(cat, dog, emu\)",
        ),
        (
            HEADER.strip() + ",sample\n1,cat,cat,1,0,0,2\n",
            r"column 'sample' appears more than once",
        ),
        (HEADER + "1,cat,cat,1,0,0\n2,cat,cat,1,0\n", r"line 3: expected 6 fields like the header"),
        (
            HEADER + "1,cat,cat,1,0,0\n2,yak,cat,1,0,0\n",
            r"line 3: actual 'yak' is not in the class list \(cat, dog, emu\)",
        ),
        (HEADER + "1,cat,Dog,0,1,0\n", r"line 2: predicted 'Dog' is not in the class list"),
        (
            HEADER + "1,cat,cat,nan,0.5,0.5\n",
            r"line 2: proba_cat must be a probability in \[0, 1\]; got nan",
        ),
        (
            HEADER + "1,cat,cat,1,0,0\n2,cat,cat,1.5,-0.5,0\n",
            r"line 3: proba_cat must be a probability in \[0, 1\]; got 1\.5",
        ),
        (
            HEADER + "1,cat,cat,1,0,0\n2,cat,cat,0.5,0.4,0\n",
            r"line 3: probabilities sum to 0\.9; each row must sum to 1 \(within 0\.001\)",
        ),
        (HEADER + "1,cat,cat,one,0,0\n", r"line 2: proba_cat is not a number: 'one'"),
        (
            HEADER + "1,cat,cat,1,0,0\nx7,cat,cat,1,0,0\n",
            r"line 3: sample must be an integer id within 64 bits; got 'x7'",
        ),
        (HEADER + "4,cat,cat,1,0,0\n4,dog,dog,0,1,0\n", r"sample id 4 appears more than once"),
    ],
)
def test_a_bad_file_is_one_line_naming_file_line_and_rule(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(PredictionsError, match=message) as caught:
        read_predictions(path, CLASSES)
    assert str(caught.value).startswith(str(path))
    assert "\n" not in str(caught.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(PredictionsError, match=r"predictions\.csv: file not found"):
        read_predictions(tmp_path / "predictions.csv", CLASSES)


def test_a_binary_file_is_refused(tmp_path):
    path = tmp_path / "predictions.csv"
    path.write_bytes(b"\x80\x81\x00garbage")
    with pytest.raises(PredictionsError, match=r"not a readable CSV file"):
        read_predictions(path, CLASSES)


@pytest.mark.parametrize(
    ("start", "named"),
    [(b"\x1f\x8b\x08\x00", "gzip-compressed"), ("sample,actual".encode("utf-16"), "UTF-16")],
)
def test_a_compressed_or_utf16_file_is_named_as_such(tmp_path, start, named):
    path = tmp_path / "predictions.csv"
    path.write_bytes(start + b"rest")
    with pytest.raises(PredictionsError, match=rf"predictions\.csv: is {named}"):
        read_predictions(path, CLASSES)


def test_byte_order_mark_white_space_and_blank_lines_are_tolerated(tmp_path):
    path = tmp_path / "predictions.csv"
    text = (
        "sample, actual, predicted, proba_cat, proba_dog, proba_emu\r\n"
        "\r\n"
        " 7 , cat , dog , 0.25 , 0.75 , 0 \r\n"
        "8,emu,emu,0,-1e-17,1.0000000000000002\r\n"
        "\r\n"
    )
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    back = read_predictions(path, CLASSES)
    assert back.sample.tolist() == [7, 8]
    assert back.predicted.tolist() == [1, 2]
    # a rounding error outside [0, 1] is clipped back into it
    np.testing.assert_array_equal(back.proba, [[0.25, 0.75, 0.0], [0.0, 0.0, 1.0]])


def test_line_numbers_count_the_blank_lines_too(tmp_path):
    path = write(tmp_path, HEADER + "\n1,cat,cat,1,0,0\n\n2,yak,cat,1,0,0\n")
    with pytest.raises(PredictionsError, match=r"line 5: actual 'yak'"):
        read_predictions(path, CLASSES)


@pytest.mark.parametrize("sample", ["99999999999999999999999", "²", "1.5", ""])
def test_a_sample_id_that_is_not_a_plain_integer_is_refused(tmp_path, sample):
    path = write(tmp_path, HEADER + f"{sample},cat,cat,1,0,0\n")
    with pytest.raises(
        PredictionsError, match=r"line 2: sample must be an integer id within 64 bits"
    ):
        read_predictions(path, CLASSES)


@settings(max_examples=200, deadline=None)
@given(
    ids=st.lists(
        st.one_of(st.integers(-3, 3), st.integers(-(2**63), 2**63 - 1)), min_size=0, max_size=40
    )
)
def test_the_first_repeated_id_is_the_first_row_an_earlier_row_shares_its_id_with(ids):
    from digitwise.predictions.validation import first_repeat

    seen: dict[int, int] = {}
    expected = None
    for row, value in enumerate(ids):
        if value in seen:
            expected = (row, seen[value])
            break
        seen[value] = row
    assert first_repeat(np.array(ids, dtype=np.int64)) == expected


def test_an_id_beyond_2_to_the_53_is_read_exactly_under_a_header_with_spaces(tmp_path):
    path = write(tmp_path, "sample ,actual,predicted\n9007199254740993, cat,cat\n")
    assert read_predictions(path, CLASSES).sample.tolist() == [9007199254740993]


def test_the_smallest_id_written_as_a_float_is_refused(tmp_path):
    # -2^63 written as a float: np.abs of it overflows to a negative number
    path = write(tmp_path, "sample,actual,predicted\n-9.223372036854775808e18,cat,cat\n")
    with pytest.raises(PredictionsError, match=r"line 2: sample must be an integer id"):
        read_predictions(path, CLASSES)


def test_a_long_field_is_cut_in_the_message(tmp_path):
    path = write(tmp_path, "sample,actual,predicted\n1,cat," + "x" * 2**21 + "\n")
    with pytest.raises(PredictionsError) as caught:
        read_predictions(path, CLASSES)
    message = str(caught.value)
    assert "line 2: predicted 'xxx" in message and "... (2,097,152 characters)'" in message
    assert len(message) < 400


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        (["9007199254740993", "1e3"], [9007199254740993, 1000]),  # a plain id beyond 2^53
        (["0" * 5000 + "9007199254740993"], [9007199254740993]),  # beyond int()'s 4,300
        (["-9223372036854775808", "-0009223372036854775807"], [-(2**63), 1 - 2**63]),
    ],
)
def test_ids_beyond_2_to_the_53_are_exact_beside_ids_pandas_reads_as_numbers(
    tmp_path, ids, expected
):
    rows = "".join(f"{i},cat,cat\n" for i in ids)
    path = write(tmp_path, "sample,actual,predicted\n" + rows)
    assert read_predictions(path, CLASSES).sample.tolist() == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sample,actual,predicted\n" + "1" * 5000 + ",cat,cat\n", r"line 2: sample must be"),
        (HEADER + "1,cat,dog,+-inf,0.5,0.5\n", r"line 2: proba_cat is not a number: '\+-inf'"),
        (HEADER + "1,cat,dog,--nan,0.5,0.5\n", r"line 2: proba_cat is not a number"),
    ],
)
def test_ids_too_long_and_doubly_signed_numbers_are_one_line(tmp_path, text, message):
    with pytest.raises(PredictionsError, match=message) as caught:
        read_predictions(write(tmp_path, text), CLASSES)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400
