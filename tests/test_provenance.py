"""Which predictions a result is of: the content digest evaluate and compare record, and
gate and report refusing a comparison of other predictions, even one with the same
accuracy on as many samples."""

import hashlib
import json
import struct

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_command import CLASSES, digitwise, inputs, predictions  # noqa: F401  (fixture)

from digitwise.predictions.digest import digest_of_rows, id_order, row_hashes
from digitwise.predictions.schema import Predictions, content_digest, to_csv

MASK = 2**64 - 1


def brute_row_hash(words: list[int], seed: int) -> int:
    """One lane of a row's hash, from ``predictions.digest``'s definition in Python ints:
    each 64-bit word xor-ed in, then MurmurHash3's 64-bit finaliser."""
    h = seed
    for word in words:
        h ^= word & MASK
        for multiplier in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53):
            h ^= h >> 33
            h = (h * multiplier) & MASK
        h ^= h >> 33
    return h


def brute_digest(p: Predictions) -> str:
    """The documented definition, row by row: the header, then each row's two lanes in
    id order, little-endian."""
    order = sorted(range(len(p.sample)), key=lambda row: int(p.sample[row]))
    header = {"classes": list(p.classes), "rows": len(order), "probabilities": p.proba is not None}
    digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode() + b"\n")
    for row in order:
        words = [int(p.sample[row]), int(p.actual[row]), int(p.predicted[row])]
        if p.proba is not None:
            floats = struct.pack(f"<{len(p.classes)}d", *map(float, p.proba[row]))
            words += list(struct.unpack(f"<{len(p.classes)}Q", floats))
        for seed in (0x9E3779B97F4A7C15, 0xD1B54A32D192ED03):
            digest.update(brute_row_hash(words, seed).to_bytes(8, "little"))
    return digest.hexdigest()


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 60), st.integers(0, 2**32 - 1), st.booleans(), st.data())
def test_the_digest_is_its_definition_and_ignores_row_order_only(n, seed, with_proba, data):
    p = predictions(n, seed=seed % 1000, proba=with_proba)
    p = Predictions(p.sample * 7 - 3, p.actual, p.predicted, p.proba, p.classes)  # any ids
    assert content_digest(p) == brute_digest(p)
    order = np.array(data.draw(st.permutations(range(n))))
    shuffled = Predictions(
        p.sample[order],
        p.actual[order],
        p.predicted[order],
        None if p.proba is None else p.proba[order],
        p.classes,
    )
    assert content_digest(shuffled) == content_digest(p)
    row = data.draw(st.integers(0, n - 1))
    changed = p.predicted.copy()
    changed[row] = (changed[row] + 1) % len(CLASSES)
    other = Predictions(p.sample, p.actual, changed, p.proba, p.classes)
    assert content_digest(other) != content_digest(p)


def rows(p: Predictions, order: np.ndarray) -> Predictions:
    proba = None if p.proba is None else p.proba[order]
    return Predictions(p.sample[order], p.actual[order], p.predicted[order], proba, p.classes)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 60), st.booleans(), st.sampled_from(["sorted", "any"]), st.data())
def test_sorted_shuffled_and_sharded_rows_have_the_digest_of_its_definition(
    n, with_proba, ids, data
):
    """In id order (nothing to sort), in any order, or in shards hashed apart and joined
    in any order (as ``engines.shards.combine`` joins them), with ids close together
    (their offsets and row numbers packed into one number to sort) or spread over all
    of int64 (too far apart for that)."""
    width = data.draw(st.sampled_from([n, 4 * n, 2**40, 2**63]))
    drawn = data.draw(st.lists(st.integers(-width, width - 1), min_size=n, max_size=n, unique=True))
    base = predictions(n, seed=n, proba=with_proba)
    sample = np.array(sorted(drawn) if ids == "sorted" else drawn, dtype=np.int64)
    p = Predictions(sample, base.actual, base.predicted, base.proba, base.classes)
    expected = brute_digest(p)
    assert content_digest(p) == expected
    shuffled = rows(p, np.array(data.draw(st.permutations(range(n)))))
    assert content_digest(shuffled) == expected
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=4)))
    shards = [rows(shuffled, part) for part in np.split(np.arange(n), cuts)]
    shards = [shards[i] for i in data.draw(st.permutations(range(len(shards))))]
    hashes = [row_hashes(s.sample, s.actual, s.predicted, s.proba) for s in shards]
    joined = np.concatenate([s.sample for s in shards])
    assert digest_of_rows(p.classes, with_proba, joined, np.concatenate(hashes)) == expected


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        st.lists(st.integers(-3, 3), max_size=50),  # repeated ids
        st.lists(st.integers(-(2**40), 2**40), max_size=50),
        st.lists(st.integers(-(2**63), 2**63 - 1), max_size=50),  # too far apart to pack
        st.lists(st.sampled_from([-(2**63), 2**63 - 1, 0]), max_size=50),
    )
)
def test_the_id_order_is_a_stable_sort_of_the_ids(ids):
    """Python's sort is stable: equal ids keep their row order."""
    expected = sorted(range(len(ids)), key=ids.__getitem__)
    assert id_order(np.array(ids, dtype=np.int64)).tolist() == expected


@pytest.mark.parametrize("n", [2, 3, 4, 5, 1024, 1025])
@pytest.mark.parametrize("past_the_limit", [-1, 0, 1])
def test_the_id_order_at_the_packing_limit_is_a_stable_sort(n, past_the_limit):
    """Ids spread as far as n rows can pack (64 bits for the offset and the row number),
    one short of it and one past it (the fallback), from the lowest int64 up, with repeats."""
    span = 2 ** (64 - (n - 1).bit_length()) - 1 + past_the_limit
    low = -(2**63)
    ids = [low + (i % 3) * (span // 2) for i in range(n - 1)]
    ids.insert(n // 2, low + span)
    expected = sorted(range(n), key=ids.__getitem__)
    assert id_order(np.array(ids, dtype=np.int64)).tolist() == expected


def test_csv_parquet_and_shards_of_the_same_rows_record_one_digest(inputs, capsys):  # noqa: F811
    directory, classes = inputs
    p = predictions(200)
    (directory / "p.csv").write_text(to_csv(p))
    shards = directory / "shards"
    shards.mkdir()
    text = to_csv(p).splitlines(keepends=True)
    (shards / "b.csv").write_text(text[0] + "".join(text[1:120]))
    (shards / "a.csv").write_text(text[0] + "".join(text[120:]))  # read first: other order
    table = pa.table(
        {
            "sample": p.sample,
            "actual": [CLASSES[i] for i in p.actual],
            "predicted": [CLASSES[i] for i in p.predicted],
            **{f"proba_{c}": p.proba[:, i] for i, c in enumerate(CLASSES)},
        }
    )
    pq.write_table(table, directory / "p.parquet")
    recorded = set()
    for source in ("p.csv", "p.parquet", "shards"):
        out = directory / f"out-{source}"
        code, _, err = digitwise(
            "evaluate", directory / source, "--classes", classes, "--out", out, capsys=capsys
        )
        assert (code, err) == (0, "")
        recorded.add(json.loads((out / "confusion.json").read_text())["predictions_sha256"])
    assert recorded == {brute_digest(p)}


def test_gate_and_report_refuse_a_comparison_of_other_predictions_with_equal_accuracy(
    inputs,  # noqa: F811
    capsys,
):
    directory, classes = inputs
    first = predictions(300, seed=1)
    # other predictions, as many right: a wrong row is predicted as another wrong class
    row = np.flatnonzero(first.predicted != first.actual)[0]
    changed = first.predicted.copy()
    changed[row] = next(c for c in range(10) if c not in (first.actual[row], changed[row]))
    second = Predictions(first.sample, first.actual, changed, first.proba, first.classes)
    baseline = predictions(300, seed=1, flip=0.1)  # the same samples, other predictions
    for name, p in (("first.csv", first), ("second.csv", second), ("base.csv", baseline)):
        (directory / name).write_text(to_csv(p))

    def run(*args):
        return digitwise(*args, capsys=capsys)

    e1, e2 = directory / "e1", directory / "e2"

    assert run("evaluate", directory / "first.csv", "--classes", classes, "--out", e1)[0] == 0
    compared = ("compare", directory / "first.csv", directory / "base.csv", "--classes", classes)
    assert run(*compared, "--out", directory / "c")[0] == 0
    # the comparison of the first predictions is taken: the gate judges them (and refuses
    # an 85% model against its 0.95 minimum), where a stale one would be an error
    code, _, err = run("gate", e1, "--comparison", directory / "c")
    assert (code, err.count("error:")) == (1, 0) and "below the minimum" in err
    # the evaluation is of the second predictions; the comparison still of the first
    assert run("evaluate", directory / "second.csv", "--classes", classes, "--out", e2)[0] == 0
    metrics1, metrics2 = (json.loads((e / "metrics.json").read_text()) for e in (e1, e2))
    assert (metrics1["accuracy"], metrics1["n_samples"]) == (
        metrics2["accuracy"],
        metrics2["n_samples"],
    )
    for command in (
        ("gate", e2, "--comparison", directory / "c"),
        ("report", e2, "--comparison", directory / "c"),
    ):
        code, out, err = run(*command)
        assert (code, out) == (2, "")
        assert err.count("\n") == 1
        assert f"a comparison of other predictions than those {e2 / 'confusion.json'}" in err
    assert not (e2 / "report.html").exists()
