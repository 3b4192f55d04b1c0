"""json_text: valid JSON equal to its payload (NaN and infinity as null), json.dumps'
layout, and each row of numbers on one line."""

import json
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from digitwise.io.outputs import json_text

LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5)
)
TREES = st.recursive(
    LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=20,
)


def finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [finite(item) for item in value]
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    return value


@settings(max_examples=300, deadline=None)
@given(TREES)
def test_json_text_reads_back_as_its_payload(payload):
    text = json_text(payload)
    assert text.endswith("\n")
    assert json.loads(text) == finite(payload)


def has_numeric_list(value) -> bool:
    if isinstance(value, list):
        numbers = bool(value) and all(type(item) in (int, float) for item in value)
        return numbers or any(has_numeric_list(item) for item in value)
    if isinstance(value, dict):
        return any(has_numeric_list(item) for item in value.values())
    return False


@settings(max_examples=300, deadline=None)
@given(TREES)
def test_without_rows_of_numbers_the_layout_is_json_dumps(payload):
    if has_numeric_list(payload):
        return
    expected = json.dumps(finite(payload), indent=2, sort_keys=True, allow_nan=False) + "\n"
    assert json_text(payload) == expected


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=3, max_size=3),
        min_size=1,
        max_size=5,
    )
)
def test_a_matrix_is_a_row_per_line_as_its_list_would_be(rows):
    matrix = np.array(rows)
    text = json_text({"m": matrix})
    assert json.loads(text) == {"m": finite(matrix.tolist())}
    assert text == json_text({"m": matrix.tolist()})
    assert len(text.splitlines()) == len(rows) + 4  # {, "m": [, the rows, ], }
