"""Fuzzing the promise every stage and command makes about bad input: one line on
stderr, ``error: ...``, naming the file (and line) or the key, exit code 2, no
traceback, no output created or changed and no input changed; or, for a change that
leaves the input valid, an ordinary run (exit code 0; the gate's 1 when a rule fails).

Each mutation comes from ``random.Random`` seeded with its target's name and its
number, so every run and machine tries the same ones, and runs the real ``main()`` of
a stage or of the ``digitwise`` command in this process, through ``digitwise.cli.run``
as the command line does. Three families:

- predictions files, CSV and Parquet, given to ``digitwise evaluate`` and to either
  side of ``digitwise compare``: bytes (bits flipped, cut short, bytes inserted or
  deleted, lines repeated), columns (dropped, renamed, repeated, reordered, added, no
  header), numbers (NaN, inf, -0, 1e400, integers beyond 64 bits, negative
  probabilities, rows that do not sum to 1, repeated ids), encodings (UTF-16, latin-1,
  byte-order marks, gzip, NUL bytes, control characters in class names) and whole
  files of another kind (an image, a zip, an empty file, a directory);
- params.yaml: every key of the shipped file given another type, a number beyond any
  range, 10,000 levels of nesting or an alias; removed, or joined by an unknown key;
  the file's syntax broken. Each runs the cheapest stage that reads its section;
- every file of the prepared data directory and the model file, against predict, train
  and explain; the JSON files and figures evaluate, compare, gate and report read.

The data are small (a 3-class predictions file of 8 rows; 60 training and 18 held-out
images of the digits 0 to 2), so a mutation that leaves its input valid still runs in a
fraction of a second, and no mutation makes a valid setting that runs long.

The default run tries 154 seeded mutations and 79 fixed ones (other kinds of file,
the cases the fuzzing found, valid values at the edges) in 13 to 18 s on one core.
``DIGITWISE_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py`` tries 2,000 seeded ones,
shared between the targets in the default proportions, with the slow nestings left out
by default (ruamel's scanner takes seconds on them): about 4 minutes. A failure's test
id names the target and the mutation's number, which reproduce it alone
(``-k "csv-17"``); its message says what was changed.
"""

import contextlib
import copy
import csv
import functools
import gzip
import io
import json
import os
import random
import re
import shutil
import threading
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from digitwise.cli import run
from digitwise.cli.main import main as digitwise
from digitwise.cli.names import COMPARE_OUTPUTS, EVALUATE_OUTPUTS
from digitwise.data import datasets
from stages import diagnose_data, evaluate, examples, explain, predict, prepare, steps, train

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = yaml.safe_load((ROOT / "params.yaml").read_text())
CLASSES = ("cat", "dog", "emu")

# Mutations per target in the default run; DIGITWISE_FUZZ_EXAMPLES scales them all.
DEFAULT_COUNTS = {
    "csv": 16,
    "parquet": 8,
    "compare": 8,
    "params": 60,
    "params-file": 8,
    "prepared": 24,
    "model": 6,
    "json": 24,
}
_TOTAL = os.environ.get("DIGITWISE_FUZZ_EXAMPLES")
LONG = _TOTAL is not None
SCALE = int(_TOTAL) / sum(DEFAULT_COUNTS.values()) if LONG else 1.0


def cases(target: str) -> list:
    count = max(1, round(DEFAULT_COUNTS[target] * SCALE))
    return [pytest.param(number, id=f"{target}-{number}") for number in range(count)]


def seeded(target: str, number: int) -> random.Random:
    return random.Random(f"{target}-{number}")  # str seeds hash the same on every run


# ---------------------------------------------------------------------------------------
# The promise


def snapshot(paths: Sequence[Path]) -> dict[str, bytes | None]:
    """Every path under ``paths`` with its bytes (None: a directory or other non-file)."""
    state: dict[str, bytes | None] = {}
    for root in paths:
        if not root.exists() and not root.is_symlink():
            continue
        entries = [root, *sorted(root.rglob("*"))] if root.is_dir() else [root]
        for path in entries:
            state[str(path)] = path.read_bytes() if path.is_file() else None
    return state


class Outcome(NamedTuple):
    code: int
    line: str  # the error line; "" unless refused
    printed: str  # stdout


def utf8_stream() -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)


def promise(
    main: Callable,
    argv: Sequence[object],
    *,
    inputs: Sequence[Path],
    outputs: Sequence[Path],
    names: Sequence[object],
    what: str,
    gate: bool = False,
) -> Outcome:
    """Run ``main(argv)`` as its command line does and check the promise."""
    before_inputs, before_outputs = snapshot(inputs), snapshot(outputs)
    # as a terminal or a pipe takes text: UTF-8, where half a surrogate pair cannot go
    stdout, stderr = utf8_stream(), utf8_stream()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = run(main, [str(arg) for arg in argv])
        except SystemExit as exit:  # the gate's verdict "refused"
            code = exit.code
        except Exception as error:  # a traceback: the mutation named, the traceback kept
            raise AssertionError(f"{what}: {type(error).__name__} escaped") from error
    out, err = stdout.buffer.getvalue().decode(), stderr.buffer.getvalue().decode()
    assert code in ((0, 1, 2) if gate else (0, 2)), f"{what}: exit code {code!r}; stderr {err!r}"
    assert snapshot(inputs) == before_inputs, f"{what}: an input changed"
    if code == 1:  # the gate's broken rules, one line each
        assert err and not any(line.startswith("error:") for line in err.splitlines()), err
    if code != 2:
        return Outcome(code, "", out)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), f"{what}: stderr {err!r}"
    assert out == "", f"{what}: a refused run printed {out!r}"
    named = [str(name) for name in names]
    assert any(name in lines[0] for name in named), f"{what}: {lines[0]!r} names none of {named}"
    assert snapshot(outputs) == before_outputs, f"{what}: a refused run wrote {lines[0]!r}"
    return Outcome(code, lines[0], out)


# ---------------------------------------------------------------------------------------
# Mutations of bytes, text and JSON

INTERESTING_BYTES = [b"\x00", b",", b"\n", b"\r", b'"', b"\xff", b"\xc3", b"\t", b" ", b"-"]
NUMBERS = [
    "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "-0", "-0.0", "+0", "1e400", "-1e400",
    "1e-400", "4.9e-324", "1.7976931348623157e308", "9" * 25, str(2**63), str(2**63 - 1),
    str(-(2**63)), str(-(2**63) - 1), str(2**64), str(2**53 + 1), "1e19", "-0.5", "1.5",
    "1.0000000001", "0x10", "1_000", "", " ", "1,5", "1e", ".", "--1", "\u0661", "\uff11",
    "1" * 5000,
]  # fmt: skip


def byte_mutation(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """One to three changes of bytes or lines."""
    done = []
    for _ in range(rng.randint(1, 3)):
        data, step = _one_byte_change(rng, bytearray(data))
        done.append(step)
    return "; ".join(done), bytes(data)


def _one_byte_change(rng: random.Random, data: bytearray) -> tuple[bytes, str]:
    kind = rng.choice(["flip", "flip", "cut", "insert", "delete", "line", "line"])
    if not data:
        return bytes(rng.choice(INTERESTING_BYTES)), "an empty file given one byte"
    position = rng.randrange(len(data))
    if kind == "flip":
        bit = rng.randrange(8)
        data[position] ^= 1 << bit
        return bytes(data), f"bit {bit} of byte {position} flipped"
    if kind == "cut":
        return bytes(data[:position]), f"cut at byte {position}"
    if kind == "insert":
        extra = rng.choice([*INTERESTING_BYTES, bytes([rng.randrange(256)]) * rng.randint(1, 3)])
        return bytes(data[:position] + extra + data[position:]), f"{extra!r} at byte {position}"
    if kind == "delete":
        length = rng.randint(1, 8)
        return bytes(data[:position] + data[position + length :]), f"{length} bytes at {position}"
    lines = bytes(data).split(b"\n")
    line = rng.randrange(len(lines))
    how = rng.choice(["repeated", "dropped", "swapped", "reversed"])
    if how == "repeated":
        lines.insert(line, lines[line])
    elif how == "dropped":
        del lines[line]
    elif how == "swapped":
        other = rng.randrange(len(lines))
        lines[line], lines[other] = lines[other], lines[line]
    else:
        lines[line] = lines[line][::-1]
    return b"\n".join(lines), f"line {line + 1} {how}"


def raw_json_value(rng: random.Random) -> str:
    """JSON text of a value of the wrong kind, or one beyond what Python reads."""
    return rng.choice(
        [
            "null", "true", "false", "0", "-1", "1.5", "-0.0", "NaN", "Infinity", "-Infinity",
            "1e400", "-1e400", "1" + "0" * 400, "-" + "9" * 30, "1" * 5000, '""', '"x"',
            '"\\u0000"', '"\\u001b[31m"', '"\\ud800"', '"' + "y" * 100_000 + '"', "[]", "{}",
            "[1, 2]", '{"x": 1}', "[" * 101 + "]" * 101, "[" * 10_000 + "]" * 10_000,
            '{"a": ' * 200 + "1" + "}" * 200,
        ]
    )  # fmt: skip


def json_mutation(rng: random.Random, text: str) -> tuple[str, bytes]:
    """A value replaced, a key removed or added, in the parsed file; or its bytes changed."""
    if rng.random() < 0.3:
        return byte_mutation(rng, text.encode())
    payload = json.loads(text)
    places = list(_places(payload))
    path = rng.choice(places)
    how = rng.choice(["value", "value", "value", "removed", "added"]) if path else "value"
    marker = "\u0000fuzz\u0000"
    if how == "value":
        raw = raw_json_value(rng)
        payload = _replaced(payload, path, marker)
    elif how == "removed":
        payload = _replaced(payload, path, _REMOVE)
        raw = ""
    else:  # beside it: a key unknown to the reader, or one more item
        raw = raw_json_value(rng)
        parent = _at(payload, path[:-1])
        if isinstance(parent, dict):
            parent["unknown_key"] = marker
        else:
            parent.append(marker)
        how = "joined by one more"
    described = f"{'/'.join(map(str, path)) or 'the whole'} {how}" + (
        f" as {raw[:40]}" if raw else ""
    )
    return described, json.dumps(payload, indent=2).replace(json.dumps(marker), raw).encode()


_REMOVE = object()


def _places(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _places(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value[:4]):  # a few items of long lists
            yield from _places(child, (*path, index))


def _at(value, path):
    for step in path:
        value = value[step]
    return value


def _replaced(payload, path, new):
    if not path:
        return new
    payload = copy.deepcopy(payload)
    parent = _at(payload, path[:-1])
    if new is _REMOVE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return payload


@functools.cache
def png_bytes() -> bytes:
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(1, 1))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def zip_bytes(content: bytes = b"sample,actual,predicted\n") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("predictions.csv", content)
    return buffer.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


@functools.cache
def other_kinds() -> dict[str, bytes]:
    """Whole files of another kind than the one expected."""
    import pickle

    return {
        "a PNG image": png_bytes(),
        "a zip archive": zip_bytes(),
        "an empty file": b"",
        "white space": b" \n\t\n",
        "JSON": b'{"sample": [1, 2], "actual": ["cat"]}\n',
        "a .npy array": npy_bytes(np.arange(12, dtype=np.int64)),
        "a pickle": pickle.dumps({"model": [1, 2, 3]}),
        "NUL bytes": b"\x00" * 64,
        "random bytes": random.Random("random bytes").randbytes(300),
        "gzip of nothing": gzip.compress(b"", mtime=0),
    }


# ---------------------------------------------------------------------------------------
# Family 1: predictions files (3 classes, 8 rows), given to evaluate and compare

ANIMAL_ROWS = [  # sample, actual, predicted, probabilities (exact in binary: no rounding)
    ("3", "cat", "cat", ("0.75", "0.125", "0.125")),
    ("0", "dog", "dog", ("0.25", "0.5", "0.25")),
    ("5", "emu", "emu", ("0", "0.25", "0.75")),
    ("1", "cat", "dog", ("0.25", "0.625", "0.125")),
    ("7", "dog", "dog", ("0", "1", "0")),
    ("2", "emu", "cat", ("0.5", "0.25", "0.25")),
    ("6", "cat", "cat", ("0.875", "0", "0.125")),
    ("4", "emu", "emu", ("0.125", "0.125", "0.75")),
]
HEADER = ["sample", "actual", "predicted", *(f"proba_{name}" for name in CLASSES)]


def animal_table(*, proba: bool = True, changed: bool = False) -> list[list[str]]:
    rows = [list(HEADER if proba else HEADER[:3])]
    for number, (sample, actual, predicted, probabilities) in enumerate(ANIMAL_ROWS):
        if changed and number in (0, 2):  # the baseline: two more mistakes
            predicted = "dog"
        rows.append([sample, actual, predicted, *(probabilities if proba else ())])
    return rows


def csv_of(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def parquet_of(columns: dict[str, pa.Array], **options) -> bytes:
    table = pa.Table.from_arrays(list(columns.values()), names=list(columns))
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **options)
    return buffer.getvalue()


def animal_columns(*, proba: bool = True) -> dict[str, pa.Array]:
    rows = animal_table(proba=proba)[1:]
    columns = {
        "sample": pa.array([int(row[0]) for row in rows], pa.int64()),
        "actual": pa.array([row[1] for row in rows]),
        "predicted": pa.array([row[2] for row in rows]),
    }
    if proba:
        for offset, name in enumerate(CLASSES):
            columns[f"proba_{name}"] = pa.array([float(row[3 + offset]) for row in rows])
    return columns


EVALUATE_PARAMS = (
    "evaluate:\n  top_confusions: 3\n  bootstrap_resamples: 100\n  bootstrap_seed: 0\n"
    "  calibration_bins: 15\n"
    "  class_order: natural\n"
)


@pytest.fixture(scope="module")
def animals(tmp_path_factory) -> Path:
    """The pristine 3-class predictions (CSV, Parquet, label-only), a baseline, the class
    list and small evaluate params."""
    root = tmp_path_factory.mktemp("animals")
    (root / "classes.json").write_text(json.dumps(list(CLASSES)) + "\n")
    (root / "params.yaml").write_text(EVALUATE_PARAMS)
    (root / "p.csv").write_text(csv_of(animal_table()))
    (root / "labels.csv").write_text(csv_of(animal_table(proba=False)))
    (root / "baseline.csv").write_text(csv_of(animal_table(changed=True)))
    (root / "p.parquet").write_bytes(parquet_of(animal_columns()))
    (root / "labels.parquet").write_bytes(parquet_of(animal_columns(proba=False)))
    return root


def earlier_outputs(out: Path, names: dict[str, str]) -> None:
    """Outputs of an earlier run at every standard name under ``out``: a refused run must
    leave them as they are."""
    for name in names.values():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(b"an earlier run's " + name.encode())


def evaluate_promise(animals: Path, given: Path, scratch: Path, what: str, *, populated: bool):
    """``digitwise evaluate`` of ``given``, into a fresh directory or over a full one."""
    out = scratch / "out"
    if populated:
        earlier_outputs(out, EVALUATE_OUTPUTS)
    argv = ["evaluate", given, "--classes", animals / "classes.json", "--out", out]
    return promise(
        digitwise,
        [*argv, "--params", animals / "params.yaml"],
        inputs=[given, animals / "classes.json", animals / "params.yaml"],
        outputs=[out],
        names=[given],
        what=what,
    )


def compare_promise(
    animals: Path, new: Path, baseline: Path, scratch: Path, what: str, *, populated: bool
):
    """``digitwise compare``, one side of it changed, into a fresh or a full directory."""
    out = scratch / "compared"
    if populated:
        earlier_outputs(out, COMPARE_OUTPUTS)
    argv = ["compare", new, baseline, "--classes", animals / "classes.json", "--out", out]
    changed = baseline if new.parent == animals else new
    return promise(
        digitwise,
        [*argv, "--params", animals / "params.yaml"],
        inputs=[new, baseline, animals / "classes.json", animals / "params.yaml"],
        outputs=[out],
        names=[changed],
        what=what,
    )


SPECIALS_IN_NAMES = ["\x00", "\x1b[31m", "\r", "\n", "\u202e", "\x7f", "\u2028", "\ufeff", " "]


def column_mutation(rng: random.Random, rows: list[list[str]]) -> tuple[str, list[list[str]]]:
    rows = [list(row) for row in rows]
    width = len(rows[0])
    column = rng.randrange(width)
    name = rows[0][column]
    kind = rng.choice(
        ["drop", "rename", "duplicate", "reorder", "extra", "no header", "swap names", "header"]
    )
    if kind == "drop":
        rows = [row[:column] + row[column + 1 :] for row in rows]
    elif kind == "rename":
        new = rng.choice(
            [
                name.upper(), f" {name} ", name + "_", "", "proba_cow", "proba_", "proba_Cat",
                rng.choice(rows[0]), f"{name}\x00", "sample ", "Sample", "proba_cat\ufeff",
            ]
        )  # fmt: skip
        rows[0][column] = new
        kind = f"rename to {new!r}"
    elif kind == "duplicate":
        rows = [[*row, row[column]] for row in rows]
    elif kind == "reorder":
        order = list(range(width))
        rng.shuffle(order)
        rows = [[row[i] for i in order] for row in rows]
    elif kind == "extra":
        extra = rng.choice(["note", "proba_", "", "sample_2", "proba_cat_2"])
        rows = [[*row, extra if i == 0 else str(rng.random())] for i, row in enumerate(rows)]
    elif kind == "no header":
        rows = rows[1:]
    elif kind == "swap names":
        other = rng.randrange(width)
        rows[0][column], rows[0][other] = rows[0][other], rows[0][column]
    else:
        rows[0] = [rng.choice(["sample;actual;predicted", "a\tb\tc", "#", "\x00"])]
    return f"column {name!r}: {kind}", rows


def number_mutation(rng: random.Random, rows: list[list[str]]) -> tuple[str, list[list[str]]]:
    rows = [list(row) for row in rows]
    row = rng.randrange(1, len(rows))
    kind = rng.choice(["value", "value", "value", "scaled", "repeated id", "label", "short row"])
    numeric = [0, *range(3, len(rows[0]))]
    if kind == "value":
        column = rng.choice(numeric)
        rows[row][column] = rng.choice(NUMBERS)
        return f"row {row} {rows[0][column]} = {rows[row][column][:30]!r}", rows
    if kind == "scaled" and len(rows[0]) > 3:
        factor = rng.choice([0.5, 1.01, 2.0, -1.0, 0.0, 1e300])
        rows[row][3:] = [repr(float(value) * factor) for value in rows[row][3:]]
        return f"row {row} probabilities times {factor}", rows
    if kind == "repeated id":
        rows[row][0] = rows[rng.randrange(1, len(rows))][0]
        return f"row {row} id repeated", rows
    if kind == "label":
        column = rng.choice([1, 2])
        special = rng.choice(SPECIALS_IN_NAMES)
        label = rows[row][column]
        rows[row][column] = rng.choice([label + special, special + label, label[:1], "caf\xe9"])
        return f"row {row} {rows[0][column]} = {rows[row][column]!r}", rows
    rows[row] = rows[row][: rng.randrange(len(rows[row]))]
    return f"row {row} cut to {len(rows[row])} fields", rows


def encoding_mutation(rng: random.Random, text: str) -> tuple[str, bytes]:
    kind = rng.choice(
        ["utf-16", "utf-16-le", "utf-16-be", "latin-1", "bom", "two boms", "gzip", "nul",
         "control", "crlf", "cr", "utf-32", "bz2", "quoted newline"]
    )  # fmt: skip
    if kind in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        return kind, text.encode(kind)
    if kind == "latin-1":
        return kind, text.replace("emu", "\xe9mu").encode("latin-1")
    if kind == "bom":
        return kind, text.encode("utf-8-sig")
    if kind == "two boms":
        return kind, b"\xef\xbb\xbf" + text.encode("utf-8-sig")
    if kind == "gzip":
        return kind, gzip.compress(text.encode(), mtime=0)
    if kind == "bz2":
        import bz2

        return kind, bz2.compress(text.encode())
    if kind == "nul":
        position = rng.randrange(len(text))
        return f"NUL at {position}", (text[:position] + "\x00" + text[position:]).encode()
    if kind == "control":
        special = rng.choice(SPECIALS_IN_NAMES)
        name = rng.choice(CLASSES)
        changed = text.replace(name, name[:1] + special + name[1:], rng.choice([1, 2, -1]))
        return f"{special!r} in {name}", changed.encode()
    if kind == "crlf":
        return kind, text.replace("\n", "\r\n").encode()
    if kind == "cr":
        return kind, text.replace("\n", "\r").encode()
    lines = text.splitlines(keepends=True)
    lines[1] = lines[1].replace(",cat,", ',"c\nat",').replace(",dog,", ',"d\nog",')
    return kind, "".join(lines).encode()


def csv_mutation(rng: random.Random, animals: Path) -> tuple[str, bytes]:
    source = rng.choice(["p.csv", "p.csv", "p.csv", "labels.csv"])
    text = (animals / source).read_text()
    rows = list(csv.reader(io.StringIO(text)))
    family = rng.choice(["bytes", "bytes", "columns", "numbers", "numbers", "encoding"])
    if family == "bytes":
        described, data = byte_mutation(rng, text.encode())
    elif family == "columns":
        described, changed = column_mutation(rng, rows)
        data = csv_of(changed).encode()
    elif family == "numbers":
        described, changed = number_mutation(rng, rows)
        data = csv_of(changed).encode()
    else:
        described, data = encoding_mutation(rng, text)
    return f"{source}: {family}: {described}", data


PARQUET_TYPES = {
    "float64": pa.float64(), "float32": pa.float32(), "string": pa.string(),
    "large_string": pa.large_string(), "int8": pa.int8(), "uint64": pa.uint64(),
    "bool": pa.bool_(), "binary": pa.binary(), "null": pa.null(),
    "dictionary": pa.dictionary(pa.int32(), pa.string()), "timestamp": pa.timestamp("s"),
    "decimal": pa.decimal128(10, 3), "list": pa.list_(pa.int64()),
}  # fmt: skip


def parquet_mutation(rng: random.Random, animals: Path) -> tuple[str, bytes]:
    proba = rng.random() < 0.75
    columns = animal_columns(proba=proba)
    family = rng.choice(["bytes", "columns", "types", "values", "values", "layout"])
    if family == "bytes":
        source = animals / ("p.parquet" if proba else "labels.parquet")
        described, data = byte_mutation(rng, source.read_bytes())
        return f"parquet bytes: {described}", data
    names = list(columns)
    name = rng.choice(names)
    options: dict = {}
    if family == "columns":
        kind = rng.choice(["drop", "rename", "duplicate", "reorder", "extra", "none left"])
        if kind == "drop":
            del columns[name]
        elif kind == "rename":
            new = rng.choice(["Sample", "proba_cow", "", f"{name}\x00", "proba_", names[0]])
            arrays = [columns[n] for n in names]
            table = pa.Table.from_arrays(arrays, names=[new if n == name else n for n in names])
            return f"parquet: {name} renamed {new!r}", _parquet_table(table)
        elif kind == "duplicate":
            table = pa.Table.from_arrays([*columns.values(), columns[name]], [*names, name])
            return f"parquet: {name} twice", _parquet_table(table)
        elif kind == "reorder":
            rng.shuffle(names)
            columns = {n: columns[n] for n in names}
        elif kind == "extra":
            columns["note"] = pa.array([[1]] * 8)
        else:
            columns = {"other": pa.array(range(8))}
        described = f"parquet: {name} {kind}"
    elif family == "types":
        type_name = rng.choice(sorted(PARQUET_TYPES))
        try:
            columns[name] = columns[name].cast(PARQUET_TYPES[type_name], safe=False)
        except pa.ArrowException:
            columns[name] = pa.array([None] * 8, PARQUET_TYPES[type_name])
        described = f"parquet: {name} as {type_name}"
    elif family == "values":
        row = rng.randrange(8)
        values = columns[name].to_pylist()
        if name == "sample":
            new = rng.choice([None, 2**63 - 1, -(2**63), values[(row + 1) % 8], -1])
            values[row] = new
            columns[name] = pa.array(values, pa.int64())
        elif name in ("actual", "predicted"):
            new = rng.choice([None, "", "cow", "cat\x00", " cat", "\u202ecat"])
            values[row] = new
            columns[name] = pa.array(values, pa.string())
        else:
            new = rng.choice([None, float("nan"), float("inf"), -0.25, 1.5, -0.0, 5e-324, 1e308])
            values[row] = new
            columns[name] = pa.array(values, pa.float64())
        described = f"parquet: row {row} {name} = {new!r}"
    else:
        kind = rng.choice(["no rows", "row groups of 1", "uint64 ids", "int labels", "nulls"])
        if kind == "no rows":
            columns = {n: array.slice(0, 0) for n, array in columns.items()}
        elif kind == "row groups of 1":
            options["row_group_size"] = 1
        elif kind == "uint64 ids":
            columns["sample"] = pa.array([2**64 - 1 - i for i in range(8)], pa.uint64())
        elif kind == "int labels":
            columns["actual"] = pa.array([CLASSES.index(v) for v in columns["actual"].to_pylist()])
        else:
            columns[name] = pa.array([None] * 8, columns[name].type)
        described = f"parquet: {kind}"
    return described, parquet_of(columns, **options)


def _parquet_table(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("number", cases("csv"))
def test_a_mutated_csv_is_evaluated_or_refused_in_one_line(animals, tmp_path, number):
    rng = seeded("csv", number)
    described, data = csv_mutation(rng, animals)
    given = tmp_path / "p.csv"
    given.write_bytes(data)
    what = f"csv-{number} ({described})"
    evaluate_promise(animals, given, tmp_path, what, populated=bool(number % 2))


@pytest.mark.parametrize("number", cases("parquet"))
def test_a_mutated_parquet_file_is_evaluated_or_refused_in_one_line(animals, tmp_path, number):
    rng = seeded("parquet", number)
    described, data = parquet_mutation(rng, animals)
    given = tmp_path / rng.choice(["p.parquet", "p.pq", "p.csv"])  # Parquet by its content
    given.write_bytes(data)
    what = f"parquet-{number} ({described})"
    evaluate_promise(animals, given, tmp_path, what, populated=bool(number % 2))


@pytest.mark.parametrize("number", cases("compare"))
def test_a_mutated_side_of_a_comparison_is_compared_or_refused_in_one_line(
    animals, tmp_path, number
):
    rng = seeded("compare", number)
    if rng.random() < 0.6:
        described, data = csv_mutation(rng, animals)
    else:
        described, data = parquet_mutation(rng, animals)
    mutated = tmp_path / "mutated.csv"
    mutated.write_bytes(data)
    side = rng.choice(["new", "baseline"])
    new, baseline = (mutated, animals / "baseline.csv")
    if side == "baseline":
        new, baseline = animals / "p.csv", mutated
    what = f"compare-{number} {side} ({described})"
    compare_promise(animals, new, baseline, tmp_path, what, populated=bool(number % 2))


def substitutions(animals: Path) -> dict[str, Callable[[Path], None]]:
    """Ways to put something else than a predictions file at a path."""

    def put(data: bytes):
        return lambda path: path.write_bytes(data)

    def directory(*shards: tuple[str, bytes]):
        def make(path: Path) -> None:
            path.mkdir()
            for name, data in shards:
                (path / name).write_bytes(data)

        return make

    pristine = (animals / "p.csv").read_bytes()
    rows = pristine.splitlines(keepends=True)
    made = {name: put(data) for name, data in other_kinds().items()}
    made["a Parquet file's magic and nothing else"] = put(b"PAR1")
    made["a Parquet footer only"] = put(b"PAR1" + b"\x00" * 8 + b"PAR1")
    made["an empty directory"] = directory()
    made["a directory of an image"] = directory(("figure.png", png_bytes()))
    made["a directory of an empty shard"] = directory(("part-0.csv", b""))
    made["shards of a header only"] = directory(("a.csv", rows[0]), ("b.csv", rows[0]))
    made["shards repeating an id"] = directory(("a.csv", pristine), ("b.csv", rows[0] + rows[1]))
    made["shards with and without probabilities"] = directory(
        ("a.csv", pristine), ("b.parquet", parquet_of(animal_columns(proba=False)))
    )
    made["a shard that is a directory"] = lambda path: (path / "x.csv").mkdir(parents=True)
    made["a shard of gzip"] = directory(("a.csv", gzip.compress(pristine, mtime=0)))
    made["a dangling symbolic link"] = lambda path: path.symlink_to(path.parent / "gone")
    made["a shard that is a FIFO"] = _fifo_shard
    return made


def _fifo_shard(path: Path) -> None:
    path.mkdir()
    os.mkfifo(path / "part-0.csv")


@contextlib.contextmanager
def unblocked(fifos: Sequence[Path], seconds: float = 10.0):
    """From ``seconds`` on, keep opening each FIFO for writing and closing it, so that a
    reader blocked on one sees its end instead of waiting for ever; yields an event set
    if that was needed."""
    fired, done = threading.Event(), threading.Event()

    def release() -> None:
        if done.wait(seconds):
            return
        fired.set()
        while not done.wait(0.05):
            for fifo in fifos:
                with contextlib.suppress(OSError):  # ENXIO: no reader waits on it
                    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    try:
        yield fired
    finally:
        done.set()
        thread.join()


SUBSTITUTIONS = [
    "a PNG image", "a zip archive", "an empty file", "white space", "JSON", "a .npy array",
    "a pickle", "NUL bytes", "random bytes", "gzip of nothing",
    "a Parquet file's magic and nothing else", "a Parquet footer only", "an empty directory",
    "a directory of an image", "a directory of an empty shard", "shards of a header only",
    "shards repeating an id", "shards with and without probabilities",
    "a shard that is a directory", "a shard of gzip", "a dangling symbolic link",
    "a shard that is a FIFO",
]  # fmt: skip


@pytest.mark.parametrize("kind", SUBSTITUTIONS)
@pytest.mark.parametrize("command", ["evaluate", "compare new", "compare baseline"])
def test_something_else_than_predictions_is_refused_in_one_line(animals, tmp_path, command, kind):
    given = tmp_path / "p.csv"
    substitutions(animals)[kind](given)
    fifos = [path for path in given.rglob("*") if path.is_fifo()] if given.is_dir() else []
    with unblocked(fifos) as blocked:
        if command == "evaluate":
            code = evaluate_promise(animals, given, tmp_path, kind, populated=False).code
        elif command == "compare new":
            outcome = compare_promise(
                animals, given, animals / "baseline.csv", tmp_path, kind, populated=True
            )
            code = outcome.code
        else:
            outcome = compare_promise(
                animals, animals / "p.csv", given, tmp_path, kind, populated=True
            )
            code = outcome.code
    assert not blocked.is_set(), f"{kind}: the reader waited for a writer"
    assert code == 2


# ---------------------------------------------------------------------------------------
# Family 2: params.yaml

SMALL_PARAMS = {  # the shipped file, with settings that make a valid run of any stage fast
    "train.logistic_regression.max_iter": 200,
    "evaluate.bootstrap_resamples": 100,
    "evaluate.top_confusions": 3,
    "separability.maps": 1,
    "attribution.examples": 1,
    "attribution.max_samples": 4,
    "attribution.max_evaluations": 200,
    "examples.cells": 1,
    "examples.per_cell": 1,
    "steps.snapshots": [1],
    "steps.train_eval_samples": 10,
    "gate.min_accuracy": 0.5,
}


def with_changes(values: dict, changes: dict) -> dict:
    values = copy.deepcopy(values)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = values
        for name in parents:
            node = node[name]
        node[last] = value
    return values


SMALL = with_changes(SHIPPED, SMALL_PARAMS)


def dotted_keys(node: dict, prefix: str = "") -> list[str]:
    """Every key of the file, sections and blocks included, in file order."""
    keys = []
    for key, value in node.items():
        keys.append(prefix + key)
        if isinstance(value, dict):
            keys += dotted_keys(value, f"{prefix}{key}.")
    return keys


KEYS = dotted_keys(SHIPPED)
NESTED_FLOW_MAPS = "{a: " * 10_000 + "1" + "}" * 10_000
# ruamel's scanner takes seconds on these (its possible simple keys, per flow level):
# tried in the long run only
SLOW_NESTING = {
    "10,000 nested flow lists": "[" * 10_000 + "]" * 10_000,
    "10,000 nested block mappings": "".join(
        "\n" + "  " * (i + 1) + f"k{i}:" for i in range(10_000)
    ),
}
VALUE_KINDS = {  # kind -> YAML text of the value; none is valid for a key that is a number
    "string": "not a number",
    "empty string": "''",
    "list": "[0.5, x]",
    "dict": "{x: 1}",
    "null": "null",
    "true": "true",
    "false": "false",
    "float for int": None,  # the shipped value + 0.5
    "10**400": "1" + "0" * 400,
    "1e308": "1e308",
    "-10**30": "-1" + "0" * 30,
    "5,000 digits": "1" * 5000,
    ".nan": ".nan",
    "-.inf": "-.inf",
    "nested 10,000 levels": NESTED_FLOW_MAPS,
    "alias of a section": "*anchor",
    "alias cycle": "&loop [*loop]",
    "a date": "2001-13-01",
    "!!binary": "!!binary aGVsbG8=",
    "!!python/object": "!!python/object:os.system ls",
    "half a surrogate pair": '"x\\ud800"',
    "a terminal escape": '"\\e[31mred"',
    "removed": None,
    "unknown key beside": None,
}
if LONG:
    VALUE_KINDS.update(dict.fromkeys(SLOW_NESTING))
MARKER = "fuzz-placeholder-value"


def params_text(key: str, kind: str, rng: random.Random) -> str:
    """The small params file as YAML, with ``key`` given a value of ``kind``."""
    *parents, last = key.split(".")
    values = copy.deepcopy(SMALL)
    node = values
    for name in parents:
        node = node[name]
    if kind == "removed":
        del node[last]
        return yaml.safe_dump(values, sort_keys=False)
    if kind == "unknown key beside":
        node[rng.choice(["unknown", last + "s", last.upper(), "__file__", "null"])] = 1
        return yaml.safe_dump(values, sort_keys=False)
    node[last] = MARKER
    text = yaml.safe_dump(values, sort_keys=False)
    if kind == "float for int":
        shipped = _at(SHIPPED, key.split("."))
        raw = f"{shipped + 0.5}" if isinstance(shipped, int) else "0.5.5"
    elif kind in SLOW_NESTING:
        raw = SLOW_NESTING[kind]
    else:
        raw = VALUE_KINDS[kind]
    if kind == "alias of a section":
        section = rng.choice([name for name in values if name != key.split(".")[0]])
        text = text.replace(f"\n{section}:\n", f"\n{section}: &anchor\n", 1)
        if text.startswith(f"{section}:\n"):
            text = f"{section}: &anchor\n" + text[len(section) + 2 :]
    return text.replace(MARKER, raw, 1)


def _small_stage(section: str, params_file: Path, pipeline: Path, out: Path) -> tuple:
    """The cheapest stage or command that reads ``section``, with outputs under ``out``."""
    data = ["--data", pipeline / "prepared"]
    common = ["--params", params_file]
    if section in ("data", "split"):
        return prepare.main, [*common, "--out", out / "prepared"]
    if section == "train":
        return train.main, [*common, *data, "--model", out / "model.skops"]
    if section == "evaluate":
        names = ["metrics", "intervals", "confusion", "top-confusions", "pairwise", "per-class"]
        names += ["confusion-plot", "confusion-normalized-plot", "pairwise-plot"]
        names += ["calibration", "calibration-plot"]
        files = [item for name in names for item in (f"--{name}", out / f"{name}.out")]
        inputs = ["--predictions", pipeline / "predictions.csv"]
        return evaluate.main, [*common, *inputs, "--classes", pipeline / "classes.json", *files]
    if section == "separability":
        names = ["separability", "model-vs-data", "separability-plot"]
        names += ["separability-maps-plot", "model-vs-data-plot"]
        files = [item for name in names for item in (f"--{name}", out / f"{name}.out")]
        evaluation = pipeline / "evaluation"
        inputs = ["--pairwise", evaluation / "pairwise.json"]
        inputs += ["--top-confusions", evaluation / "top_confusions.json"]
        return diagnose_data.main, [*common, *data, *inputs, *files]
    if section == "attribution":
        files = ["--attribution", out / "a.json", "--class-means-plot", out / "m.png"]
        inputs = ["--model", pipeline / "model.skops"]
        inputs += ["--predictions", pipeline / "predictions.csv"]
        return explain.main, [*common, *data, *inputs, *files, "--examples-plot", out / "e.png"]
    if section == "examples":
        files = ["--examples", out / "e.json", "--examples-plot", out / "e.png"]
        files += ["--label-issues", out / "l.json"]
        inputs = ["--predictions", pipeline / "predictions.csv"]
        return examples.main, [*common, *data, *inputs, *files]
    if section == "steps":
        files = ["--accuracy", out / "a.csv", "--loss", out / "l.csv"]
        return steps.main, [*common, *data, *files, "--confusion-plot", out / "c.png"]
    assert section == "gate", section
    return digitwise, ["gate", pipeline / "evaluation", *common]


PARAM_CASES = [(key, kind) for key in KEYS for kind in VALUE_KINDS]
random.Random("params order").shuffle(PARAM_CASES)


def params_outcome(pipeline: Path, tmp_path: Path, text: str | bytes, section: str, what: str):
    params_file = tmp_path / "params.yaml"
    params_file.write_bytes(text.encode() if isinstance(text, str) else text)
    out = tmp_path / "out"
    main, argv = _small_stage(section, params_file, pipeline, out)
    code, line, _ = promise(
        main,
        argv,
        inputs=[params_file, pipeline],
        outputs=[out],
        names=[params_file],
        what=what,
        gate=section == "gate",
    )
    if code == 2:
        assert line.startswith(f"error: {params_file}: "), f"{what}: {line!r}"
    return code, line


@pytest.mark.parametrize("number", cases("params"))
def test_a_mutated_key_of_params_is_taken_or_refused_naming_it(pipeline, tmp_path, number):
    key, kind = PARAM_CASES[number % len(PARAM_CASES)]
    rng = seeded("params", number)
    text = params_text(key, kind, rng)
    what = f"params-{number} ({key}: {kind})"
    code, line = params_outcome(pipeline, tmp_path, text, key.split(".")[0], what)
    if code == 2 and kind != "unknown key beside":
        # the key, or where in the file a value that cannot be read is
        parent = key.rsplit(".", 1)[0]
        whole_file = ("nested too deeply", "not valid YAML", "unknown section")
        assert key in line or parent in line or any(w in line for w in whole_file), what


def file_mutation(rng: random.Random) -> tuple[str, bytes]:
    text = yaml.safe_dump(SMALL, sort_keys=False)
    kind = rng.choice(
        ["bytes", "bytes", "unclosed", "tab", "duplicate key", "indent", "top level", "empty",
         "utf-16", "bom", "nul", "unknown section", "document end", "binary"]
    )  # fmt: skip
    lines = text.splitlines(keepends=True)
    line = rng.randrange(len(lines))
    if kind == "bytes":
        return byte_mutation(rng, text.encode())
    if kind == "unclosed":
        lines[line] = lines[line].rstrip("\n") + " [1, {\n"
    elif kind == "tab":
        lines[line] = "\t" + lines[line]
    elif kind == "duplicate key":
        lines.insert(line, lines[line])
    elif kind == "indent":
        lines[line] = "   " + lines[line]
    elif kind == "top level":
        return kind, rng.choice([b"- 1\n- 2\n", b"42\n", b"'text'\n", b"null\n", b"[]\n"])
    elif kind == "empty":
        return kind, rng.choice([b"", b"\n", b"# nothing\n", b"---\n"])
    elif kind == "utf-16":
        return kind, text.encode("utf-16")
    elif kind == "bom":
        return kind, text.encode("utf-8-sig")
    elif kind == "nul":
        lines[line] = lines[line][:2] + "\x00" + lines[line][2:]
    elif kind == "unknown section":
        lines.append(rng.choice(["trian:\n  seed: 0\n", "__file__: x\n", "? [1]\n: 2\n"]))
    elif kind == "document end":
        lines.insert(line, "---\n")
    else:
        return kind, random.Random(line).randbytes(200)
    return f"line {line + 1}: {kind}", "".join(lines).encode()


@pytest.mark.parametrize("number", cases("params-file"))
def test_a_broken_params_file_is_refused_naming_it(pipeline, tmp_path, number):
    rng = seeded("params-file", number)
    described, data = file_mutation(rng)
    section = rng.choice(sorted(SMALL))
    params_outcome(pipeline, tmp_path, data, section, f"params-file-{number} ({described})")


# ---------------------------------------------------------------------------------------
# Family 3: the prepared data, the model and the JSON files between stages

DIGITS = 3  # digits 0, 1 and 2: every figure of a valid run small and quick to draw
TRAIN_PER_CLASS, TEST_PER_CLASS = 20, 6


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    """A tiny subset of the digits through prepare's writer, train, predict, evaluate and
    compare: the prepared directory, the model, its predictions, an evaluation and a
    comparison with them, and the small params."""
    root = tmp_path_factory.mktemp("pipeline")
    digits = datasets.load_digits_source()
    digits = replace(digits, classes=digits.classes[:DIGITS])  # the labels of the rows taken
    by_class = [np.flatnonzero(digits.labels == label) for label in range(DIGITS)]
    train_rows = np.sort(np.concatenate([rows[:TRAIN_PER_CLASS] for rows in by_class]))
    end = TRAIN_PER_CLASS + TEST_PER_CLASS
    test_rows = np.sort(np.concatenate([rows[TRAIN_PER_CLASS:end] for rows in by_class]))
    prepared = root / "prepared"
    datasets.save_splits(
        prepared, datasets.take(digits, train_rows), datasets.take(digits, test_rows)
    )
    params_file = root / "params.yaml"
    params_file.write_text(yaml.safe_dump(SMALL, sort_keys=False))
    shutil.copy(prepared / "classes.json", root / "classes.json")
    model, predictions = root / "model.skops", root / "predictions.csv"
    train.main(["--params", str(params_file), "--data", str(prepared), "--model", str(model)])
    predict.main(["--data", str(prepared), "--model", str(model), "--out", str(predictions)])
    # The model makes no mistake on these 18 images: the evaluation and the comparison
    # are of its predictions with three rows moved to the next class (its probability
    # swapped with the predicted one's), so that they have confusions.
    rows = predictions.read_text().splitlines()
    edited = [rows[0]]
    for number, row in enumerate(rows[1:]):
        fields = row.split(",")
        if number % 6 == 0:
            old = int(fields[2])
            new = (old + 1) % DIGITS
            fields[2] = str(new)
            fields[3 + old], fields[3 + new] = fields[3 + new], fields[3 + old]
        edited.append(",".join(fields))
    (root / "edited.csv").write_text("\n".join(edited) + "\n")
    common = ["--classes", root / "classes.json", "--params", params_file]
    for argv in (
        ["evaluate", root / "edited.csv", *common, "--out", root / "evaluation"],
        ["compare", root / "edited.csv", predictions, *common, "--out", root / "comparison"],
    ):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert run(digitwise, [str(arg) for arg in argv]) == 0
    return root


PREPARED_FILES = [
    *(f"{part}_{field}.npy" for part in ("train", "test") for field in ("images", "labels", "ids")),
    "classes.json",
    "meta.json",
]
READERS = {  # file -> the stages that read it
    **{f"train_{field}.npy": ("train", "explain") for field in ("images", "labels", "ids")},
    **{f"test_{field}.npy": ("predict", "explain") for field in ("images", "labels", "ids")},
    "classes.json": ("predict", "train", "explain"),
    "meta.json": ("predict", "train", "explain"),
}


def npy_mutation(rng: random.Random, path: Path, *, header_only: bool) -> tuple[str, bytes]:
    """A .npy file changed: its bytes (near the header only, for a stage whose valid
    run is slow), cut short, another array, or a file of another kind."""
    data = path.read_bytes()
    kind = rng.choice(["bytes", "bytes", "cut", "array", "other kind"])
    if kind == "bytes":
        if header_only:  # the header and the first bytes of the data
            head = bytearray(data[:140])
            position = rng.randrange(len(head))
            head[position] = rng.randrange(256)
            return f"byte {position} = {head[position]}", bytes(head) + data[140:]
        return byte_mutation(rng, data)
    if kind == "cut":
        position = rng.randrange(len(data))
        return f"cut at {position}", data[:position]
    if kind == "array":
        array = np.load(path)
        change = rng.choice(
            ["float", "negative", "transposed", "one more", "int8", "bool", "complex", "0-d",
             "fortran", "big-endian", "huge values", "repeated"]
        )  # fmt: skip
        if change == "float":
            array = array.astype(np.float64)
        elif change == "negative":
            array = -array.astype(np.int64) - 1
        elif change == "transposed":
            array = array.T
        elif change == "one more":
            array = np.concatenate([array, array[:1]])
        elif change == "int8":
            array = array.astype(np.int8)
        elif change == "bool":
            array = array.astype(bool)
        elif change == "complex":
            array = array.astype(np.complex64)
        elif change == "0-d":
            array = np.array(7)
        elif change == "fortran":
            array = np.asfortranarray(array)
        elif change == "big-endian":
            array = array.astype(array.dtype.newbyteorder(">"))
        elif change == "huge values":
            array = array.astype(np.uint64) + np.uint64(2**63)
        else:
            array = np.repeat(array[:1], len(array), axis=0)
        return f"the array {change}", npy_bytes(array)
    name, content = rng.choice(sorted(other_kinds().items()))
    return f"replaced by {name}", content


def prepared_mutation(rng: random.Random, path: Path, stage: str) -> tuple[str, bytes]:
    if path.suffix == ".npy":
        return npy_mutation(rng, path, header_only=stage == "explain")
    if rng.random() < 0.2:
        name, content = rng.choice(sorted(other_kinds().items()))
        return f"replaced by {name}", content
    return json_mutation(rng, path.read_text())


def stage_promise(
    stage: str, pipeline: Path, scratch: Path, *, prepared: Path, model: Path, **check
):
    out = scratch / "out"
    data = ["--data", prepared, "--model", model]
    if stage == "predict":
        main, argv = predict.main, [*data, "--out", out / "p.csv"]
    elif stage == "train":
        main = train.main
        argv = ["--params", pipeline / "params.yaml", "--data", prepared]
        argv += ["--model", out / "m.skops"]
    else:
        main = explain.main
        argv = ["--params", pipeline / "params.yaml", *data]
        argv += ["--predictions", pipeline / "predictions.csv", "--attribution", out / "a.json"]
        argv += ["--class-means-plot", out / "m.png", "--examples-plot", out / "e.png"]
    inputs = [prepared, model, pipeline / "params.yaml", pipeline / "predictions.csv"]
    return promise(main, argv, inputs=inputs, outputs=[out], **check)


@pytest.mark.parametrize("number", cases("prepared"))
def test_a_mutated_prepared_file_is_read_or_refused_naming_it(pipeline, tmp_path, number):
    rng = seeded("prepared", number)
    name = rng.choice(PREPARED_FILES)
    stage = rng.choice(READERS[name])
    prepared = tmp_path / "prepared"
    shutil.copytree(pipeline / "prepared", prepared)
    described, data = prepared_mutation(rng, prepared / name, stage)
    (prepared / name).write_bytes(data)
    # A check across files names one of them: the split's files (labels beyond the class
    # list, pixels beyond meta.json's pixel_max), the predictions explain checks against
    # the held-out labels; train names train.model for a split it cannot fit (one class).
    names = [prepared / name, *(f"{prepared}/{part}_*.npy" for part in ("train", "test"))]
    names += [pipeline / "predictions.csv", *(["train.model="] if stage == "train" else [])]
    what = f"prepared-{number} {name} ({described}) in {stage}"
    model = pipeline / "model.skops"
    stage_promise(stage, pipeline, tmp_path, prepared=prepared, model=model, names=names, what=what)


def model_mutation(rng: random.Random, model: Path, stage: str) -> tuple[str, bytes]:
    data = model.read_bytes()
    kind = rng.choice(["bytes", "cut", "other kind", "entry"])
    if kind == "bytes" and stage != "explain":
        return byte_mutation(rng, data)
    if kind in ("bytes", "cut"):
        position = rng.randrange(len(data))
        return f"cut at {position}", data[:position]
    if kind == "entry":  # a member of the archive replaced
        with zipfile.ZipFile(model) as archive:
            members = {info.filename: archive.read(info) for info in archive.infolist()}
        member = rng.choice(sorted(members))
        original = members[member]
        members[member] = rng.choice(
            [b"", b"{}", b"\x93NUMPY", original[: len(original) // 2], b'{"__class__": "x"}']
        )
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, content in members.items():
                archive.writestr(name, content)
        return f"member {member} replaced", buffer.getvalue()
    name, content = rng.choice(sorted(other_kinds().items()))
    return f"replaced by {name}", content


@pytest.mark.parametrize("number", cases("model"))
def test_a_mutated_model_file_is_read_or_refused_naming_it(pipeline, tmp_path, number):
    rng = seeded("model", number)
    stage = rng.choice(["predict", "predict", "explain"])
    model = tmp_path / "model.skops"
    described, data = model_mutation(rng, pipeline / "model.skops", stage)
    model.write_bytes(data)
    what = f"model-{number} ({described}) in {stage}"
    prepared = pipeline / "prepared"
    stage_promise(
        stage, pipeline, tmp_path, prepared=prepared, model=model, names=[model], what=what
    )


JSON_READERS = {  # file -> the commands that read it
    "classes.json": ("evaluate", "compare"),
    "metrics.json": ("gate", "gate with comparison", "report"),
    "per_class.json": ("report",),
    "confusion.json": ("gate with comparison", "report with comparison"),
    "top_confusions.json": ("report",),
    "intervals.json": ("report",),
    "comparison.json": ("gate with comparison", "report with comparison"),
    "figures/confusion_counts.png": ("report",),
    "confusion_delta.png": ("report with comparison",),
}


def command_promise(command: str, pipeline: Path, animals: Path, scratch: Path, **check):
    """A digitwise command over copies of the evaluation, the comparison and the
    animals' class list in ``scratch``, one of them mutated already."""
    out = scratch / "out"
    evaluation, comparison = scratch / "evaluation", scratch / "comparison"
    gate_params = ["--params", pipeline / "params.yaml"]
    if command in ("evaluate", "compare"):
        classes = scratch / "classes.json"
        common = ["--classes", classes, "--params", animals / "params.yaml", "--out", out]
        given = [animals / "p.csv", animals / "baseline.csv"]
        argv = [command, *given[: 1 if command == "evaluate" else 2], *common]
    elif command == "gate":
        argv = ["gate", evaluation / "metrics.json", *gate_params]
    elif command == "gate with comparison":
        argv = ["gate", evaluation, "--comparison", comparison, *gate_params]
    elif command == "report":
        argv = ["report", evaluation, "--out", out / "report.html"]
    else:
        argv = ["report", evaluation, "--comparison", comparison, "--out", out / "report.html"]
        argv += ["--classes", pipeline / "classes.json"]
    inputs = [evaluation, comparison, scratch / "classes.json", pipeline, animals]
    gate = command.startswith("gate")
    return promise(digitwise, argv, inputs=inputs, outputs=[out], gate=gate, **check)


def json_input_mutation(rng: random.Random, path: Path) -> tuple[str, bytes]:
    if path.suffix == ".png":
        if rng.random() < 0.5:
            name, content = rng.choice(sorted(other_kinds().items()))
            return f"replaced by {name}", content
        data = path.read_bytes()
        head = bytearray(data[:40])  # the signature and the IHDR chunk: its size
        position = rng.randrange(len(head))
        head[position] ^= 1 << rng.randrange(8)
        return f"byte {position} of the header changed", bytes(head) + data[40:]
    if rng.random() < 0.15:
        name, content = rng.choice(sorted(other_kinds().items()))
        return f"replaced by {name}", content
    return json_mutation(rng, path.read_text())


@pytest.mark.parametrize("number", cases("json"))
def test_a_mutated_json_input_is_read_or_refused_naming_it(pipeline, animals, tmp_path, number):
    rng = seeded("json", number)
    name = rng.choice(sorted(JSON_READERS))
    command = rng.choice(JSON_READERS[name])
    shutil.copytree(pipeline / "evaluation", tmp_path / "evaluation")
    shutil.copytree(pipeline / "comparison", tmp_path / "comparison")
    shutil.copy(animals / "classes.json", tmp_path / "classes.json")
    if name == "classes.json":
        path = tmp_path / "classes.json"
    elif name in COMPARE_OUTPUTS.values():
        path = tmp_path / "comparison" / name
    else:
        path = tmp_path / "evaluation" / name
    described, data = json_input_mutation(rng, path)
    path.write_bytes(data)
    what = f"json-{number} {name} ({described}) in {command}"
    # the class list is checked against the predictions' columns and labels: a mismatch
    # names the predictions file
    names = (
        [path, animals / "p.csv", animals / "baseline.csv"] if name == "classes.json" else [path]
    )
    command_promise(command, pipeline, animals, tmp_path, names=names, what=what)


# ---------------------------------------------------------------------------------------
# What the fuzzing found: each was a traceback or a run that never ended


def _parquet_without_rows(given: Path, pipeline: Path, animals: Path) -> tuple:
    """ZeroDivisionError in the Parquet reader."""
    given.write_bytes(parquet_of({n: a.slice(0, 0) for n, a in animal_columns().items()}))
    out = given.parent / "out"
    return digitwise, ["evaluate", given, "--classes", animals / "classes.json", "--out", out]


def _fifo_among_shards(given: Path, pipeline: Path, animals: Path) -> tuple:
    """Read as a shard: every reader waited for a writer, for ever."""
    _fifo_shard(given)
    out = given.parent / "out"
    return digitwise, ["evaluate", given, "--classes", animals / "classes.json", "--out", out]


def _path_of_half_a_surrogate(given: Path, pipeline: Path, animals: Path) -> tuple:
    """UnicodeEncodeError in prepare, which resolves data.path."""
    given.write_text(params_text("data.path", "half a surrogate pair", random.Random(0)))
    return prepare.main, ["--params", given, "--out", given.parent / "out"]


def _edited(name: str, change: Callable[[dict], None], *, comparison: bool = False):
    """The report of the pipeline's evaluation (and comparison), copied into ``given``,
    ``name`` there rewritten by ``change``; the string "401 digits" becomes that number."""

    def make(given: Path, pipeline: Path, animals: Path) -> tuple:
        shutil.copytree(pipeline / "evaluation", given / "evaluation")
        shutil.copytree(pipeline / "comparison", given / "comparison")
        path = given / name
        payload = json.loads(path.read_text())
        change(payload)
        path.write_text(json.dumps(payload).replace('"401 digits"', "1" + "0" * 400))
        argv = ["report", given / "evaluation", "--out", given.parent / "out" / "report.html"]
        return digitwise, [*argv, "--comparison", given / "comparison"] if comparison else argv

    return make


def _gate(change: Callable[[dict], None]):
    """The gate of the pipeline's evaluation and of its comparison, rewritten by ``change``."""
    edit = _edited("comparison/comparison.json", change)

    def make(given: Path, pipeline: Path, animals: Path) -> tuple:
        edit(given, pipeline, animals)
        argv = ["gate", given / "evaluation", "--comparison", given / "comparison"]
        return digitwise, [*argv, "--params", pipeline / "params.yaml"]

    return make


HALF = "\ud800"  # half of a surrogate pair, as a JSON escape may hold it
FOUND = {  # case: (what makes the input, main and argv; the error line, None: exit code 0)
    "parquet of no rows": (_parquet_without_rows, r"p\.parquet: has no rows$"),
    "a shard that is a FIFO": (_fifo_among_shards, r"p\.parquet/part-0\.csv: not a regular file$"),
    "an interval of 401 digits": (
        _edited("evaluation/intervals.json", lambda p: p["accuracy"].update(low="401 digits")),
        r"intervals\.json: accuracy\.low must be a finite number; got 1000+\.\.\. \(int\)$",
    ),
    "half a surrogate in top_confusions": (
        _edited(
            "evaluation/top_confusions.json", lambda p: p["top_confusions"][0].update(actual=HALF)
        ),
        r"top_confusions\[0\]\.actual must be a non-empty string of characters; got '\\ud800'",
    ),
    "half a surrogate as a class name in per_class": (
        _edited("evaluation/per_class.json", lambda p: p[0].update({"class": HALF})),
        r"per_class\.json: \[0\]\.class must be a non-empty string of characters",
    ),
    "half a surrogate as a per_class_recall name": (
        _edited(
            "comparison/comparison.json",
            lambda p: p["per_class_recall"].update({HALF: p["per_class_recall"].pop("0")}),
            comparison=True,
        ),
        r"comparison\.json: each name in per_class_recall must be a non-empty string of",
    ),
    "half a surrogate in changed_confusions": (
        _edited(
            "comparison/comparison.json",
            lambda p: p["changed_confusions"][0].update(predicted=HALF),
            comparison=True,
        ),
        r"changed_confusions\[0\]\.predicted must be a non-empty string of characters",
    ),
    "half a surrogate as the baseline, in the report": (
        _edited("comparison/comparison.json", lambda p: p.update(baseline=HALF), comparison=True),
        r"comparison\.json: baseline must be a non-empty string of characters",
    ),
    "half a surrogate as the baseline, printed by the gate": (
        _gate(lambda p: p.update(baseline=f"main{HALF}")),
        None,
    ),
    "a line break in the baseline, printed by the gate": (
        _gate(lambda p: p.update(baseline="main\n\x1b[31mred")),
        None,
    ),
    "half a surrogate in data.path": (
        _path_of_half_a_surrogate,
        r"p\.parquet: data\.path must be a path of whole characters; got 'x\\ud800' \(str\)$",
    ),
}


@pytest.mark.parametrize("case", FOUND)
def test_each_case_the_fuzzing_found_is_one_line(pipeline, animals, tmp_path, case):
    make, message = FOUND[case]
    given = tmp_path / "p.parquet"  # a file, a directory of shards or of the JSON inputs
    main, argv = make(given, pipeline, animals)
    inputs = [given, animals / "classes.json", pipeline]
    with unblocked([given / "part-0.csv"] if "FIFO" in case else []) as blocked:
        outcome = promise(
            main,
            argv,
            inputs=inputs,
            outputs=[tmp_path / "out"],
            names=[given],
            what=case,
            gate=argv[0] == "gate",
        )
    assert not blocked.is_set(), "the reader waited for a writer"
    if message is None:  # the gate passes, in one line, the baseline escaped
        assert outcome.code == 0 and len(outcome.printed.splitlines()) == 1, outcome
        assert "change vs main\\" in outcome.printed, outcome.printed
    else:
        assert outcome.code == 2 and re.search(message, outcome.line), outcome.line


# Valid, at the edges of what is read: ids at the ends of 64 bits and beyond 2^53,
# probabilities that are negative zero, subnormal, a rounding error above 1 or below the
# floats (1e-400 reads as 0), class names in another order. Evaluated and compared.
EDGE_ROWS = [
    (str(2**63 - 1), "cat", "cat", ("1.0000000001", "-0", "1e-400")),
    (str(-(2**63)), "dog", "dog", ("4.9e-324", "1", "0")),
    (str(2**53 + 1), "emu", "emu", ("0.0", "-0.0", "1.0")),
    ("-1", "emu", "dog", ("0.25", "0.5", "0.25")),
    ("+7", " cat", "cat\t", ("0.5", "0.25", "0.25")),
]


def test_valid_values_at_the_edges_are_evaluated_and_compared(animals, tmp_path):
    """As CSV, evaluated; as Parquet, compared with the same rows in CSV, columns and
    rows in another order."""
    rows = [list(HEADER)] + [[s, a, p, *q] for s, a, p, q in EDGE_ROWS]
    given = tmp_path / "edge.csv"
    given.write_text(csv_of(rows))
    assert evaluate_promise(animals, given, tmp_path, "edge.csv", populated=False).code == 0
    columns = {
        "sample": pa.array([int(row[0]) for row in rows[1:]], pa.int64()),
        "actual": pa.array([row[1].strip() for row in rows[1:]]),
        "predicted": pa.array([row[2].strip() for row in rows[1:]]),
    }
    for offset, name in enumerate(CLASSES):
        columns[f"proba_{name}"] = pa.array([float(row[3 + offset]) for row in rows[1:]])
    (tmp_path / "edge.parquet").write_bytes(parquet_of(columns))
    order = [5, 2, 0, 4, 1, 3]
    reordered = [[row[i] for i in order] for row in [rows[0], *rows[2:], rows[1]]]
    (tmp_path / "reordered.csv").write_text(csv_of(reordered))
    compared = compare_promise(
        animals,
        tmp_path / "edge.parquet",
        tmp_path / "reordered.csv",
        tmp_path,
        "edges",
        populated=False,
    )
    assert compared.code == 0
