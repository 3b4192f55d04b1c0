"""Hostile input files: broken .npy arrays, repeated sample ids, images without pixels,
deeply nested JSON and numbers too long to read in classes.json, meta.json and the files
the gate reads. Each is one line on stderr naming the file, exit code 2, no traceback,
nothing written."""

import contextlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitwise.cli import run
from digitwise.cli.main import main as digitwise_main
from stages import predict, prepare, train

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params.yaml"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """The prepared digits and the logistic regression the shipped params.yaml makes."""
    root = tmp_path_factory.mktemp("pipeline")
    prepare.main(["--params", str(PARAMS), "--out", str(root / "prepared")])
    data, model = ["--data", str(root / "prepared")], ["--model", str(root / "model.skops")]
    train.main(["--params", str(PARAMS), *data, *model])
    predict.main([*data, *model, "--out", str(root / "predictions.csv")])
    return root


def command(main, argv, out: Path) -> tuple[int, list[str]]:
    """Run ``main`` as its command does: (exit code, stderr lines); a traceback fails."""
    before = sorted(out.rglob("*")) if out.exists() else None
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = run(main, argv)
        except SystemExit as exit:  # the gate's verdict
            code = exit.code
    lines = stderr.getvalue().splitlines()
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr.getvalue()
        after = sorted(out.rglob("*")) if out.exists() else None
        assert after == before, "a refused run wrote something"
    return code, lines


def predict_refusal(prepared: Path, model: Path, tmp_path: Path) -> str:
    out = tmp_path / "out"
    argv = ["--data", str(prepared), "--model", str(model), "--out", str(out / "p.csv")]
    code, lines = command(predict.main, argv, out)
    assert code == 2, lines
    return lines[0]


@pytest.fixture
def prepared(pipeline, tmp_path):
    copy = tmp_path / "prepared"
    shutil.copytree(pipeline / "prepared", copy)
    return copy


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npz_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, labels=array)
    return buffer.getvalue()


def header_1_0(text: str) -> bytes:
    """A version 1.0 .npy header holding ``text`` as written (no checks)."""
    body = text.encode("latin1")
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body


LABELS = np.arange(450, dtype=np.int64) % 10


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"not a readable \.npy array: the file is empty"),  # np.load: EOFError
        (
            npz_bytes(LABELS),
            r"it starts with b'PK\\x03\\x04.*' \(a zip archive: \.npz\?\), not b'\\x93NUMPY'",
        ),
        (b"\x93NUMPY", r"its header is damaged"),
        # tokenize.TokenError and SyntaxError inside np.load's header parser
        (header_1_0("{'descr': '<i8', 'fortran_order': False, 'shape': (450,), '''}\n"), "damaged"),
        (header_1_0("{'descr': '<i8', 'fortran_order': False, 'shape': (450,),, }\n"), "damaged"),
        (header_1_0("{'descr': '<i8', 'fortran_order': False, 'shape': (" + "(" * 3000), "damage"),
        (
            header_1_0("{'descr': 'O', 'fortran_order': False, 'shape': (450,), }\n"),
            "its dtype object is not a plain number type",
        ),
        (
            header_1_0("{'descr': [('a', '<i8')], 'fortran_order': False, 'shape': (450,), }\n"),
            r"its dtype .* is not a plain number type",
        ),
        (header_1_0("{'descr': '<i8', 'fortran_order': False, 'shape': (-1,), }\n"), "negative"),
        (header_1_0("{'descr': '<i8', 'fortran_order': False, 'shape': (10**12,), }\n"), "damag"),
        (
            header_1_0("{'descr': '<i8', 'fortran_order': False, 'shape': (10000000000000,), }\n"),
            r"its data is cut off: shape \(10000000000000,\) of int64 needs 80000000000000 bytes",
        ),
        (npy_bytes(LABELS)[:-3], r"its data is cut off: .* needs 3600 bytes, the file holds 3597"),
        (npy_bytes(LABELS) + b"\0", r"its data is followed by 1 more bytes"),
        (b"\x93NUMPY\x03\x00" + npy_bytes(LABELS)[8:], r"format version \(3, 0\)"),
        (npy_bytes(LABELS.astype(float)), r"labels must be a 1-D integer array; got float64 array"),
        (npy_bytes(LABELS.reshape(45, 10)), r"labels must be a 1-D integer array; got int64 array"),
    ],
)
def test_a_broken_npy_file_is_one_line_naming_it(pipeline, prepared, tmp_path, content, message):
    import re

    (prepared / "test_labels.npy").write_bytes(content)
    line = predict_refusal(prepared, pipeline / "model.skops", tmp_path)
    assert line.startswith(f"error: {prepared / 'test_labels.npy'}: "), line
    assert re.search(message, line), line


def test_other_byte_orders_and_layouts_of_the_same_array_are_read(pipeline, prepared, tmp_path):
    """A well-formed .npy of the expected dtype is read whatever its byte order and order."""
    ids = np.load(pipeline / "prepared" / "test_ids.npy")
    labels = np.load(pipeline / "prepared" / "test_labels.npy")
    images = np.load(pipeline / "prepared" / "test_images.npy")
    (prepared / "test_ids.npy").write_bytes(npy_bytes(ids.astype(">i8")))
    (prepared / "test_labels.npy").write_bytes(npy_bytes(labels.astype(np.int16)))
    (prepared / "test_images.npy").write_bytes(npy_bytes(np.asfortranarray(images)))
    out = tmp_path / "out"
    argv = ["--data", str(prepared), "--model", str(pipeline / "model.skops")]
    code, lines = command(predict.main, [*argv, "--out", str(out / "p.csv")], out)
    assert (code, lines) == (0, [])
    assert (out / "p.csv").read_bytes() == (pipeline / "predictions.csv").read_bytes()


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(["test_labels.npy", "test_ids.npy", "test_images.npy"]),
    changes=st.lists(
        st.tuples(st.integers(min_value=0, max_value=140), st.integers(0, 255)), max_size=4
    ),
    cut=st.one_of(st.none(), st.integers(min_value=0, max_value=200)),
    extra=st.binary(max_size=3),
)
def test_any_damage_to_an_npy_file_is_read_or_refused_in_one_line(
    pipeline, tmp_path_factory, name, changes, cut, extra
):
    """Bytes changed in or near the header, the file cut short or lengthened: predict
    either reads it (a change that keeps it valid) or refuses it in one line."""
    tmp_path = tmp_path_factory.mktemp("damage")
    prepared = tmp_path / "prepared"
    shutil.copytree(pipeline / "prepared", prepared)
    data = bytearray((prepared / name).read_bytes())
    for position, value in changes:
        data[position] = value
    if cut is not None:
        data = data[:cut]
    (prepared / name).write_bytes(bytes(data) + extra)
    out = tmp_path / "out"
    argv = ["--data", str(prepared), "--model", str(pipeline / "model.skops")]
    code, lines = command(predict.main, [*argv, "--out", str(out / "p.csv")], out)
    assert code in (0, 2)
    if code == 0:
        assert lines == [] and (out / "p.csv").exists()
    else:
        assert str(prepared) in lines[0]


def test_images_without_pixels_are_refused(pipeline, prepared, tmp_path):
    (prepared / "test_images.npy").write_bytes(npy_bytes(np.zeros((450, 0, 0), np.uint8)))
    line = predict_refusal(prepared, pipeline / "model.skops", tmp_path)
    assert line == f"error: {prepared}/test_*.npy: images of 0 x 0 pixels hold no pixels"


def first_repeat(ids: np.ndarray) -> tuple[int, int, int]:
    """(id, first position, second position) of the first id seen a second time."""
    seen: dict[int, int] = {}
    for position, value in enumerate(ids.tolist()):
        if value in seen:
            return value, seen[value], position
        seen[value] = position
    raise AssertionError("no repeated id")


@settings(max_examples=10, deadline=None)
@given(copies=st.lists(st.tuples(st.integers(0, 449), st.integers(0, 449)), min_size=1))
def test_repeated_ids_are_refused_naming_the_first_and_both_positions(
    pipeline, tmp_path_factory, copies
):
    tmp_path = tmp_path_factory.mktemp("ids")
    prepared = tmp_path / "prepared"
    shutil.copytree(pipeline / "prepared", prepared)
    ids = np.load(prepared / "test_ids.npy")
    for source, target in copies:
        ids[target] = ids[source]
    if len(set(ids.tolist())) == len(ids):
        return  # every copy was onto itself
    (prepared / "test_ids.npy").write_bytes(npy_bytes(ids))
    value, first, second = first_repeat(ids)
    line = predict_refusal(prepared, pipeline / "model.skops", tmp_path)
    assert line == (
        f"error: {prepared / 'test_ids.npy'}: sample id {value} appears twice, at positions "
        f"{first} and {second}; each sample's id must be unique"
    )


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("name", ["classes.json", "meta.json"])
@pytest.mark.parametrize("depth", [101, 100_000])  # past the limit; past Python's stack
def test_deeply_nested_prepared_json_is_one_line(pipeline, prepared, tmp_path, name, depth):
    (prepared / name).write_text(nested(depth))
    line = predict_refusal(prepared, pipeline / "model.skops", tmp_path)
    assert line == (
        f"error: {prepared / name}: nested too deeply (more than 100 levels of lists and objects)"
    )


def test_a_number_too_long_to_read_is_one_line_with_its_place(pipeline, prepared, tmp_path):
    (prepared / "meta.json").write_text('{\n  "pixel_max": ' + "7" * 4301 + "\n}\n")
    line = predict_refusal(prepared, pipeline / "model.skops", tmp_path)
    assert line == (
        f"error: {prepared / 'meta.json'}: line 2 column 16: a number of 4301 digits; "
        "at most 4300 are read"
    )


@pytest.mark.parametrize("value", ["1" + "0" * 400, "43" + "0" * 4298, "65536", "0", "true"])
def test_pixel_max_beyond_any_image_is_refused(pipeline, prepared, tmp_path, value):
    (prepared / "meta.json").write_text(f'{{"pixel_max": {value}, "image_shape": [8, 8]}}')
    line = predict_refusal(prepared, pipeline / "model.skops", tmp_path)
    assert line == (
        f"error: {prepared / 'meta.json'}: must be a JSON object with an integer pixel_max "
        ">= 1, at most 65535"
    )


def gate(tmp_path: Path, metrics: str, comparison: str | None = None) -> tuple[int, list[str]]:
    (tmp_path / "metrics.json").write_text(metrics)
    argv = ["gate", str(tmp_path / "metrics.json")]
    if comparison is not None:
        (tmp_path / "comparison.json").write_text(comparison)
        argv += ["--comparison", str(tmp_path / "comparison.json")]
    return command(digitwise_main, argv, tmp_path)


@pytest.mark.parametrize(
    ("accuracy", "shown"),
    [
        ("1" + "0" * 400, "an integer of 401 digits"),
        ("-" + "9" * 400, "an integer of 400 digits"),
        ("1e999", "inf"),
        ("NaN", "nan"),
        ("2", "2"),
    ],
)
def test_the_gate_refuses_an_accuracy_beyond_the_floats(tmp_path, accuracy, shown):
    code, lines = gate(tmp_path, f'{{"accuracy": {accuracy}, "n_samples": 450}}')
    assert code == 2
    assert lines == [
        f"error: {tmp_path / 'metrics.json'}: accuracy must be a number in 0..1; got {shown}"
    ]


@pytest.mark.parametrize("which", ["metrics", "comparison"])
@pytest.mark.parametrize("depth", [101, 100_000])
def test_the_gate_refuses_deeply_nested_json(tmp_path, which, depth):
    metrics = '{"accuracy": 0.9, "n_samples": 450}'
    if which == "metrics":
        code, lines = gate(tmp_path, '{"accuracy": ' + nested(depth) + "}")
    else:
        code, lines = gate(tmp_path, metrics, '{"baseline": ' + nested(depth) + "}")
    assert code == 2
    assert lines == [
        f"error: {tmp_path / f'{which}.json'}: nested too deeply (more than 100 levels of "
        "lists and objects)"
    ]


def test_a_gate_metrics_file_with_an_integer_too_long_is_one_line(tmp_path):
    code, lines = gate(tmp_path, '{"accuracy": ' + "1" * 5000 + ', "n_samples": 450}')
    assert code == 2
    assert lines == [
        f"error: {tmp_path / 'metrics.json'}: line 1 column 14: a number of 5000 digits; "
        "at most 4300 are read"
    ]


def test_an_npz_archive_is_recognised_whatever_its_content(pipeline, prepared, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("labels.npy", npy_bytes(LABELS))
    (prepared / "test_labels.npy").write_bytes(buffer.getvalue())
    line = predict_refusal(prepared, pipeline / "model.skops", tmp_path)
    assert "a zip archive: .npz?" in line


def test_json_of_100_levels_is_read(tmp_path):
    code, _ = gate(tmp_path, '{"accuracy": 0.99, "n_samples": 450, "x": ' + nested(99) + "}")
    assert code == 0
    assert json.loads((tmp_path / "metrics.json").read_text())["accuracy"] == 0.99


@pytest.mark.parametrize(
    "shape", [(1,) * 70, (1,) * 40, (2**63, 0, 1), (2**62, 4, 0), (0, 2**40, 2**40), (3, 2**62, 0)]
)
def test_a_header_shape_numpy_cannot_hold_is_one_line(pipeline, prepared, tmp_path, shape):
    from numpy.lib import format as npy

    header = io.BytesIO()
    npy.write_array_header_2_0(header, {"descr": "<i8", "fortran_order": False, "shape": shape})
    (prepared / "test_ids.npy").write_bytes(header.getvalue())
    line = predict_refusal(prepared, pipeline / "model.skops", tmp_path)
    assert line.startswith(f"error: {prepared / 'test_ids.npy'}: not a readable .npy array"), line
