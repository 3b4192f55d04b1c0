"""``digitwise evaluate --engine dask`` on a real cluster (two worker processes on the
loopback interface) against the in-memory evaluation of the same rows: every output
equal, except the per-pair AUC, binned and within its stated bound of the exact one;
the same whatever the sharding and the order of the shards; the same one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_command import CLASSES, digitwise, inputs, predictions  # noqa: F401  (fixture)

from digitwise.engines import dask as dask_engine
from digitwise.engines.shards import combine, merge_states, summarize_shard
from digitwise.io.outputs import json_text
from digitwise.metrics.evaluation import evaluate as evaluate_in_memory
from digitwise.metrics.evaluation import evaluate_state, summary_lines
from digitwise.metrics.state import score_bins
from digitwise.params import EVALUATE_DEFAULTS
from digitwise.predictions.reading import read_predictions, shard_paths
from digitwise.predictions.schema import Predictions, PredictionsError, content_digest
from digitwise.report.inputs import parse_metrics
from digitwise.report.page import metrics_notes

BINNED = {"metrics.json": {"auc_ovo_m", "auc_ovo_m_error_bound"}}
BINNED["pairwise.json"] = {
    "pairwise_auc",
    "pairwise_auc_error_bound",
    "m_measure",
    "m_measure_error_bound",
    "note",
}


@pytest.fixture(scope="module")
def scheduler():
    """The address of the cluster ``--engine dask`` starts without ``--scheduler``
    (two worker processes on 127.0.0.1), started once by the engine's own code for the
    whole module; closed afterwards, it leaves no process behind."""
    import multiprocessing

    distributed = pytest.importorskip("distributed")
    before = set(multiprocessing.active_children())
    with dask_engine._client(distributed, None) as client:
        info = client.scheduler_info()
        assert len(info["workers"]) == 2
        assert all(address.startswith("tcp://127.0.0.1:") for address in info["workers"])
        yield client.scheduler.address
    assert set(multiprocessing.active_children()) <= before


def write_shards(p: Predictions, directory: Path, rows: list[np.ndarray], names=None) -> Path:
    directory.mkdir()
    for i, part in enumerate(rows):
        table = {
            "sample": p.sample[part],
            "actual": [CLASSES[c] for c in p.actual[part]],
            "predicted": [CLASSES[c] for c in p.predicted[part]],
        }
        if p.proba is not None:
            table |= {f"proba_{c}": p.proba[part, j] for j, c in enumerate(CLASSES)}
        name = names[i] if names else f"part-{i:02d}.parquet"
        pq.write_table(pa.table(table), directory / name)
    return directory


def evaluate(source, classes, out, capsys, *engine):
    code, stdout, err = digitwise(
        "evaluate", source, "--classes", classes, "--out", out, *engine, capsys=capsys
    )
    return code, stdout, err


def without_binned_auc(name: str, text: str):
    payload = json.loads(text)
    return {key: value for key, value in payload.items() if key not in BINNED.get(name, ())}


def test_eight_shards_on_the_cluster_equal_the_in_memory_evaluation(inputs, scheduler, capsys):  # noqa: F811
    directory, classes = inputs
    p = predictions(6000, seed=3, flip=0.05)
    shards = write_shards(p, directory / "shards", np.array_split(np.arange(6000), 8))
    memory, dask = directory / "memory", directory / "dask"
    code, lines, err = evaluate(shards, classes, memory, capsys)
    assert (code, err.startswith("warning:")) == (0, True)
    dask_code, dask_lines, dask_err = evaluate(
        shards, classes, dask, capsys, "--engine", "dask", "--scheduler", scheduler
    )
    assert (dask_code, dask_err) == (0, err)
    memory_files = sorted(path.relative_to(memory) for path in memory.rglob("*.*"))
    assert memory_files == sorted(path.relative_to(dask) for path in dask.rglob("*.*"))
    for relative in memory_files:
        ours, theirs = (dask / relative).read_bytes(), (memory / relative).read_bytes()
        if relative.name in BINNED:  # all else byte-equal, intervals included
            assert without_binned_auc(relative.name, ours.decode()) == without_binned_auc(
                relative.name, theirs.decode()
            )
        else:  # the JSON of counts and the figures drawn from the same matrices
            assert ours == theirs, relative
    binned = json.loads((dask / "pairwise.json").read_text())
    exact = json.loads((memory / "pairwise.json").read_text())
    error = np.abs(np.array(binned["pairwise_auc"], float) - np.array(exact["pairwise_auc"], float))
    bound = np.array(binned["pairwise_auc_error_bound"], float)
    off_diagonal = ~np.eye(10, dtype=bool)
    assert np.all(error[off_diagonal] <= bound[off_diagonal]) and np.nanmax(bound) < 0.01
    assert abs(binned["m_measure"] - exact["m_measure"]) <= binned["m_measure_error_bound"]
    assert "binned" in binned["note"]
    metrics = parse_metrics(json.loads((dask / "metrics.json").read_text()), "metrics.json")
    bound_text = f"{metrics.auc_error_bound:.2g}"
    assert any("binned" in line and bound_text in line for line in metrics_notes(metrics))
    in_memory = parse_metrics(json.loads((memory / "metrics.json").read_text()), "metrics.json")
    assert in_memory.auc_error_bound is None
    assert not any("binned" in line for line in metrics_notes(in_memory))
    assert dask_lines.splitlines()[0] == lines.splitlines()[0]
    assert "(binned: exact within" in dask_lines.splitlines()[1]


def test_resharded_and_reordered_rows_give_the_same_state(tmp_path, scheduler):
    """The outputs are functions of the merged state and the digest: equal ones, equal
    outputs (the test above shows that for one sharding)."""
    p = predictions(3000, seed=4)
    order = np.random.default_rng(0).permutation(3000)
    first = write_shards(p, tmp_path / "a", np.array_split(np.arange(3000), 8))
    cuts = np.split(order, [10, 1500, 1501])  # unequal shards of shuffled rows
    names = ["z.parquet", "y.pq", "x.parquet", "w.pq"]  # read in the other order
    second = write_shards(p, tmp_path / "b", cuts, names=names)
    results = []
    for source in (str(first), f"{second}/*.*"):
        shards = shard_paths(source)
        results.append(
            dask_engine.evaluate_shards(
                shards, source, CLASSES, top_k=2, calibration_bins=15, scheduler=scheduler
            )
        )
    (state, digest), (other, other_digest) = results
    assert digest == other_digest == content_digest(p)
    for name in ("counts", "wins"):
        np.testing.assert_array_equal(getattr(state, name), getattr(other, name))
    for name in ("keys", "counts"):
        np.testing.assert_array_equal(
            getattr(state.histograms, name), getattr(other.histograms, name)
        )
    assert (state.log_loss_sum, state.top_k_hits, state.not_argmax) == (
        other.log_loss_sum,
        other.top_k_hits,
        other.not_argmax,
    )


@pytest.mark.parametrize("with_proba", [True, False])
def test_the_combined_summaries_give_the_in_memory_payloads(tmp_path, with_proba):
    """What the workers run, here in one process: the same JSON as the in-memory path,
    label-only predictions included (which have no AUC, so nothing binned)."""
    p = predictions(2000, seed=7, proba=with_proba)
    source = write_shards(p, tmp_path / "shards", np.array_split(np.arange(2000), 5))
    bins = score_bins(len(CLASSES))
    summaries = [
        summarize_shard(s, CLASSES, top_k=2, bins=bins, calibration_bins=15)
        for s in shard_paths(source)
    ]
    state, digest = combine(str(source), CLASSES, summaries)
    sharded = evaluate_state(state, EVALUATE_DEFAULTS, classes=CLASSES, digest=digest)
    in_memory = evaluate_in_memory(read_predictions(source, CLASSES), EVALUATE_DEFAULTS)
    for name, payload in in_memory.payloads.items():
        ours, theirs = json_text(sharded.payloads[name]), json_text(payload)
        if with_proba and name + ".json" in BINNED:
            ours = json.dumps(without_binned_auc(name + ".json", ours))
            theirs = json.dumps(without_binned_auc(name + ".json", theirs))
        assert ours == theirs, name
    assert summary_lines(sharded)[0] == summary_lines(in_memory)[0]
    assert ("binned" in summary_lines(sharded)[1]) is with_proba


def bad_shards(directory: Path) -> list[tuple[str, Path]]:
    """Predictions sets of four shards, one (or two) of them wrong in one way each."""
    p = predictions(400, seed=5)
    rows = np.array_split(np.arange(400), 4)
    cases = []

    def case(name, change):
        source = write_shards(p, directory / name, rows)
        change(sorted(source.iterdir()))
        cases.append((name, source))

    def rewrite(path, edit):
        table = pq.read_table(path).to_pydict()
        edit(table)
        pq.write_table(pa.table(table), path)

    def nan(paths):
        rewrite(paths[2], lambda t: t["proba_3"].__setitem__(4, float("nan")))

    def unknown_label(paths):
        rewrite(paths[1], lambda t: t["actual"].__setitem__(0, "11"))

    def not_summing(paths):
        rewrite(paths[3], lambda t: t["proba_0"].__setitem__(7, 0.9))

    def missing_column(paths):
        rewrite(paths[1], lambda t: t.pop("predicted"))

    def two_bad(paths):  # the first in shard order is named, as the reader names it
        nan(paths)
        unknown_label(paths)

    def repeated_id(paths):
        rewrite(paths[3], lambda t: t["sample"].__setitem__(5, 17))

    def mixed_columns(paths):
        rewrite(paths[2], lambda t: [t.pop(f"proba_{c}") for c in CLASSES])

    def empty(paths):
        for path in paths:
            pq.write_table(pq.read_table(path).slice(0, 0), path)

    for change in (nan, unknown_label, not_summing, missing_column, two_bad, repeated_id):
        case(change.__name__, change)
    case("mixed_columns", mixed_columns)
    case("empty", empty)
    return cases


def test_bad_shards_are_refused_as_the_in_memory_reader_refuses_them(tmp_path):
    bins = score_bins(len(CLASSES))
    for name, source in bad_shards(tmp_path):
        with pytest.raises(PredictionsError) as expected:
            read_predictions(source, CLASSES)
        summaries = [
            summarize_shard(p, CLASSES, top_k=2, bins=bins, calibration_bins=15)
            for p in shard_paths(source)
        ]
        with pytest.raises(PredictionsError) as sharded:
            combine(str(source), CLASSES, summaries)
        assert str(sharded.value) == str(expected.value), name


def test_states_that_do_not_merge_are_left_to_the_checks_across_shards(tmp_path):
    """The tree of merges on the cluster raises nothing (a worker would log it): label-only
    shards among others merge to None, and ``combine`` names them."""
    source = dict(bad_shards(tmp_path))["mixed_columns"]
    bins = score_bins(len(CLASSES))
    summaries = [
        summarize_shard(s, CLASSES, top_k=2, bins=bins, calibration_bins=15)
        for s in shard_paths(source)
    ]
    assert merge_states([s.state for s in summaries]) is None
    assert merge_states([summaries[0].state, None]) is None
    whole = merge_states([summaries[0].state, summaries[1].state])
    np.testing.assert_array_equal(
        whole.counts, summaries[0].state.counts + summaries[1].state.counts
    )
    with pytest.raises(PredictionsError, match="has no proba_ columns"):
        combine(str(source), CLASSES, summaries)


def test_a_bad_shard_on_the_cluster_is_one_line_and_nothing_is_written(inputs, scheduler, capsys):  # noqa: F811
    directory, classes = inputs
    cases = dict(bad_shards(directory))
    for name in ("two_bad", "repeated_id", "mixed_columns"):
        memory = evaluate(cases[name], classes, directory / "m", capsys)
        code, out, err = evaluate(
            cases[name],
            classes,
            directory / "d",
            capsys,
            "--engine",
            "dask",
            "--scheduler",
            scheduler,
        )
        assert (code, out, err) == memory and code == 2 and err.count("\n") == 1, name
        assert not (directory / "d").exists()


def test_a_cluster_without_digitwise_is_one_line(inputs, scheduler, capsys, monkeypatch):  # noqa: F811
    """Checked before any task: a module the cluster's processes cannot import (here, one
    that does not exist) stands for digitwise missing there."""
    directory, classes = inputs
    (directory / "p.csv").write_text("sample,actual,predicted\n0,1,1\n")
    monkeypatch.setattr(dask_engine, "REQUIRED_MODULE", "digitwise.no_such_module")
    engine = ("--engine", "dask", "--scheduler", scheduler)
    code, out, err = evaluate(directory / "p.csv", classes, directory / "out", capsys, *engine)
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert err == (
        f"error: the Dask cluster at {scheduler} cannot run digitwise (No module named "
        "'digitwise.no_such_module'): install digitwise on the scheduler and every worker\n"
    )
    assert not (directory / "out").exists()


def test_no_scheduler_at_the_address_is_one_line(inputs, capsys, monkeypatch):  # noqa: F811
    directory, classes = inputs
    (directory / "p.csv").write_text("sample,actual,predicted\n0,1,1\n")
    monkeypatch.setattr(dask_engine, "CONNECT_TIMEOUT", "1s")
    code, out, err = evaluate(
        directory / "p.csv",
        classes,
        directory / "out",
        capsys,
        "--engine",
        "dask",
        "--scheduler",
        "tcp://127.0.0.1:9",
    )
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert err.startswith("error: --scheduler tcp://127.0.0.1:9: no Dask scheduler there")
    code, _, err = evaluate(
        directory / "p.csv", classes, directory / "out", capsys, "--scheduler", "x"
    )
    assert code == 2 and "it needs --engine dask" in err


def test_without_the_dask_extra_the_engine_is_a_one_line_error(inputs):  # noqa: F811
    directory, classes = inputs
    (directory / "p.csv").write_text("sample,actual,predicted\n0,1,1\n")
    script = (
        "import sys; sys.modules['dask'] = sys.modules['distributed'] = None\n"
        "from digitwise.cli.main import entry_point; sys.exit(entry_point())"
    )
    args = [directory / "p.csv", "--classes", classes, "--out", directory / "out"]
    result = subprocess.run(
        [sys.executable, "-c", script, "evaluate", *map(str, args), "--engine", "dask"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "error: --engine dask needs Dask's distributed scheduler: pip install 'digitwise[dask]'\n"
    )
    assert not (directory / "out").exists()


def test_a_bad_shard_on_the_local_cluster_is_one_line_on_stderr(inputs, tmp_path):  # noqa: F811
    """The command's own local cluster: its workers write to the command's stderr, where
    only the error line shows, not a worker's traceback (capsys sees none of theirs)."""
    directory, classes = inputs
    source = dict(bad_shards(tmp_path))["repeated_id"]
    with pytest.raises(PredictionsError) as expected:
        read_predictions(source, CLASSES)
    script = "import sys; from digitwise.cli.main import entry_point; sys.exit(entry_point())"
    args = [source, "--classes", classes, "--out", directory / "out", "--engine", "dask"]
    result = subprocess.run(
        [sys.executable, "-c", script, "evaluate", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"error: {expected.value}\n"
    assert not (directory / "out").exists()
