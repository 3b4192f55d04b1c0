"""The two CSV readers agree: pyarrow's (where installed) and pandas' (always).

Every CSV file, however hostile, must give the same predictions, or the same error,
whichever reader reads it, so no output depends on whether pyarrow is installed. The
files are drawn field by field from what real files hold and what breaks readers:
spaces, quotes, signs, exponents, "NA", blank lines, line endings, a byte-order mark,
rows too short or too long, ids beyond 2^53.
"""

import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from digitwise.predictions import csv_arrow
from digitwise.predictions.reading import read_predictions
from digitwise.predictions.schema import PredictionsError

CLASSES = ("cat", "dog", "NA")
HEADER = ["sample", "actual", "predicted", "proba_cat", "proba_dog", "proba_NA"]


def read_both(path, classes=CLASSES):
    """(what pyarrow's reader gives, what pandas' gives, whether pyarrow's read it itself):
    the predictions' arrays, or the error's message."""
    taken = []
    original = csv_arrow.read_columns

    def spy(*args):
        columns = original(*args)
        taken.append(columns is not None)
        return columns

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(csv_arrow, "read_columns", spy)
        arrow = _outcome(path, classes)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "pyarrow.csv", None)  # as if pyarrow were not installed
        pandas = _outcome(path, classes)
    return arrow, pandas, any(taken)


def _outcome(path, classes):
    try:
        read = read_predictions(path, classes)
    except PredictionsError as error:
        return str(error)
    proba = None if read.proba is None else read.proba.view(np.int64).tolist()  # bits
    return read.sample.tolist(), read.actual.tolist(), read.predicted.tolist(), proba


PLAIN_NUMBERS = st.one_of(
    st.floats(0, 1).map(repr),
    st.sampled_from(["0", "1", "0.5", ".5", "5.", "1e-3", "1E-3", "1e-300", "0.25e0", "-0"]),
)
ODD_NUMBERS = st.sampled_from(
    ["", "nan", "NaN", "inf", "-inf", "NA", "0x1p-1", "1_0", "0.5f", "1e", "0,5", "½", "+0.5"]
)
PLAIN_IDS = st.one_of(st.integers(0, 10**6), st.integers(-(2**63), 2**63 - 1)).map(str)
ODD_IDS = st.sampled_from(["+3", "1e3", "3.0", "0x10", "", "x7", str(2**63), "9007199254740993"])
PLAIN_LABELS = st.sampled_from(CLASSES)
ODD_LABELS = st.sampled_from(["yak", "", "Cat", "cat\x00", "na", "dög", "cat,dog", " cat"])


def field(draw, plain, odd, hostile):
    """A field as written: bare; in a hostile file, sometimes odd, quoted, or with
    spaces or tabs around it."""
    text = draw(st.one_of(plain, odd) if hostile else plain)
    if "," in text:
        return f'"{text}"'
    around = st.sampled_from(["", " ", "  ", "\t"] if hostile else [""])
    before, after = draw(around), draw(around)
    quoted = hostile and draw(st.booleans())
    return f'{before}"{text}"{after}' if quoted else f"{before}{text}{after}"


@st.composite
def csv_files(draw):
    """Plain files, or hostile ones: odd values, spaces, rows too short or too long."""
    hostile = draw(st.booleans())
    proba = draw(st.booleans())
    header = HEADER if proba else HEADER[:3]
    extra = hostile and draw(st.booleans())  # a column no rule reads, with quotes in it
    if extra:
        header = [*header, "note"]
    header_line = ",".join(draw(st.sampled_from([name, f" {name}"])) for name in header)
    rows = []
    for _ in range(draw(st.integers(1, 4))):
        fields = [
            field(draw, PLAIN_IDS, ODD_IDS, hostile),
            field(draw, PLAIN_LABELS, ODD_LABELS, hostile),
            field(draw, PLAIN_LABELS, ODD_LABELS, hostile),
        ]
        if proba and (not hostile or draw(st.booleans())):  # values that sum to 1
            first = draw(st.floats(0, 1))
            fields += [repr(first), repr(1 - first), draw(st.sampled_from(["0", "0.0", "0e0"]))]
        elif proba:
            fields += [field(draw, PLAIN_NUMBERS, ODD_NUMBERS, hostile) for _ in range(3)]
        if extra:
            fields.append(draw(st.sampled_from(["x", ' "a,b"', '"x', 'a"b', '"a\nb"', '""'])))
        shapes = ["row", "short", "long", "blank", "spaces"] if hostile else ["row", "blank"]
        shape = draw(st.sampled_from(shapes))
        if shape == "short":
            fields = fields[:-1]
        elif shape == "long":
            fields = [*fields, "extra"]
        rows += [*{"blank": [""], "spaces": ["  "]}.get(shape, []), ",".join(fields)]
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = end.join([header_line, *rows]) + draw(st.sampled_from([end, ""]))
    start = draw(
        st.sampled_from([b"", b"\xef\xbb\xbf", b"\n"] if hostile else [b"", b"\xef\xbb\xbf"])
    )
    return start + text.encode()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=csv_files())
def test_both_readers_give_the_same_predictions_or_the_same_error(tmp_path, content):
    path = tmp_path / "predictions.csv"
    path.write_bytes(content)
    arrow, pandas, taken = read_both(path)
    event(f"read by pyarrow: {taken}; {'error' if isinstance(pandas, str) else 'read'}")
    assert arrow == pandas


@pytest.mark.parametrize(
    "text",
    [
        "sample,actual,predicted,proba_cat,proba_dog,proba_NA\n"
        "1,cat,NA,0.25,0,0.75\n9007199254740993,dog,dog,1e-300,1,0\n",
        "sample,actual,predicted\r\n-4,cat,dog \r\n\r\n5,NA,NA",
        "\ufeffsample,actual,predicted,proba_cat,proba_dog,proba_NA\n7,cat,cat,1,0,0\n",
    ],
)
def test_plain_files_are_read_by_pyarrow_as_pandas_reads_them(tmp_path, text):
    path = tmp_path / "predictions.csv"
    path.write_text(text, encoding="utf-8")
    arrow, pandas, taken = read_both(path)
    assert taken, "pyarrow's reader gave this plain file up"
    assert not isinstance(arrow, str), arrow
    assert arrow == pandas


def test_a_file_pyarrow_reads_differently_is_read_by_pandas(tmp_path):
    path = tmp_path / "predictions.csv"
    # pandas strips the spaces before a class name and reads "+1" and "1e1" as ids
    path.write_text("sample,actual,predicted\n+1, cat,cat\n1e1,dog, dog\n", encoding="utf-8")
    arrow, pandas, taken = read_both(path)
    assert not taken
    assert arrow == pandas == ([1, 10], [0, 1], [0, 1], None)


@pytest.mark.parametrize(
    "content",
    [
        # pandas reads a quote after a space as quoting; pyarrow as a character
        b'sample,x,y,actual,predicted,z\n1, "a,b",cat,dog,cat\n',
        b'sample,x,y,actual,predicted\n1, "a,b",cat,dog\n',
        b'sample,actual,predicted,x\n1,cat,cat,"x\n',  # a quote left open
        b"sample,actual,predicted\n1,cat," + b"x" * 2**21 + b"\n",  # a 2 MiB line
    ],
)
def test_files_the_readers_part_ways_on_are_read_by_pandas(tmp_path, content):
    path = tmp_path / "predictions.csv"
    path.write_bytes(content)
    arrow, pandas, taken = read_both(path)
    assert not taken
    assert arrow == pandas
    assert len(str(arrow)) < 500  # a long field is cut in the message


def test_a_quoted_line_break_across_pyarrows_blocks_is_read_by_pandas(tmp_path):
    # pyarrow splits its 4 MiB blocks at line breaks, a quoted one too
    rows = [f"{i},cat,cat,x" for i in range(300_000)]
    cut = 0
    text = "sample,actual,predicted,note\n"
    size = len(text)
    for i, row in enumerate(rows):
        if cut == 0 and size > 2**22 - 200:
            cut = i
            fake = "\n".join(f"{10**7 + j},dog,dog,q" for j in range(40))
            row = f'{i},cat,dog,"a\n{fake}\nb"'
        text += row + "\n"
        size += len(row) + 1
    path = tmp_path / "predictions.csv"
    path.write_text(text)
    arrow, pandas, taken = read_both(path)
    assert not taken
    assert arrow == pandas and len(arrow[0]) == len(rows)
