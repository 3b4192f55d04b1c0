"""The prepare stage on MNIST-format files: the files' own split or a stratified one,
class names from params, and one line for whatever does not fit."""

import gzip
import json
import re
import sys
from pathlib import Path

import idx2numpy
import numpy as np
import pytest

from digitwise import cli
from digitwise.data import idx
from digitwise.errors import UserError
from stages import prepare

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import mnist_like

FASHION = mnist_like.WORD_CLASSES


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    return mnist_like.write_set(
        tmp_path_factory.mktemp("raw") / "mnist", n_train=240, n_test=80, compress=True
    )


def run_prepare(write_params, raw, out, **changes):
    params = write_params({"data.source": "idx", "data.path": str(raw), **changes})
    prepare.main(["--params", str(params), "--out", str(out)])
    return out


def load(out, name):
    return np.load(out / f"{name}.npy")


def test_the_source_split_keeps_the_files_train_and_t10k_parts(tmp_path, write_params, raw):
    out = run_prepare(write_params, raw, tmp_path / "prepared", **{"split.method": "source"})
    for part, prefix in (("train", "train"), ("test", "t10k")):
        # read by the reference reader, from the bytes the generator wrote
        images, labels = (
            idx2numpy.convert_from_string(
                gzip.decompress((raw / f"{prefix}-{name}.gz").read_bytes())
            )
            for name in ("images-idx3-ubyte", "labels-idx1-ubyte")
        )
        np.testing.assert_array_equal(load(out, f"{part}_images"), images)
        np.testing.assert_array_equal(load(out, f"{part}_labels"), labels)
    # ids: the train files' rows, then the t10k files' rows after them
    np.testing.assert_array_equal(load(out, "train_ids"), np.arange(240))
    np.testing.assert_array_equal(load(out, "test_ids"), np.arange(240, 320))
    assert json.loads((out / "classes.json").read_text()) == [str(d) for d in range(10)]
    meta = json.loads((out / "meta.json").read_text())
    assert meta == {"image_shape": [28, 28], "pixel_max": 255}


def test_a_stratified_split_draws_from_both_parts(tmp_path, write_params, raw):
    out = run_prepare(
        write_params,
        raw,
        tmp_path / "prepared",
        **{"split.method": "stratified", "split.stratified.test_size": 0.25},
    )
    train_ids, test_ids = load(out, "train_ids"), load(out, "test_ids")
    assert len(test_ids) == 80 and len(train_ids) == 240
    assert sorted(np.concatenate([train_ids, test_ids])) == list(range(320))
    assert (test_ids < 240).any() and (train_ids >= 240).any()
    all_images = np.concatenate(
        [
            idx2numpy.convert_from_string(gzip.decompress((raw / name).read_bytes()))
            for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz")
        ]
    )
    np.testing.assert_array_equal(load(out, "test_images"), all_images[test_ids])


def test_named_classes_are_the_class_list(tmp_path, write_params, raw):
    out = run_prepare(
        write_params,
        raw,
        tmp_path / "prepared",
        **{"split.method": "source", "data.classes": FASHION},
    )
    assert json.loads((out / "classes.json").read_text()) == FASHION


def test_more_names_than_labels_keep_the_extra_classes(tmp_path, write_params, raw):
    names = [*FASHION, "Hat"]
    out = run_prepare(
        write_params,
        raw,
        tmp_path / "prepared",
        **{"split.method": "source", "data.classes": names},
    )
    assert json.loads((out / "classes.json").read_text()) == names


def test_a_label_without_a_name_names_the_labels_file(tmp_path, write_params, raw):
    with pytest.raises(
        UserError,
        match=rf"^{re.escape(str(raw))}/train-labels-idx1-ubyte\.gz: label [5-9] \(item \d+\) "
        r"has no name: data\.classes names labels 0\.\.4$",
    ):
        run_prepare(
            write_params, raw, tmp_path / "prepared", **{"data.classes": ["a", "b", "c", "d", "e"]}
        )
    assert not (tmp_path / "prepared").exists()


def test_digits_take_names_too(tmp_path, write_params):
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    params = write_params({"data.classes": names})
    prepare.main(["--params", str(params), "--out", str(tmp_path / "prepared")])
    assert json.loads((tmp_path / "prepared" / "classes.json").read_text()) == names


def test_the_digits_source_has_no_split_of_its_own(tmp_path, write_params, capsys):
    params = write_params({"split.method": "source"})
    code = cli.run(prepare.main, ["--params", str(params), "--out", str(tmp_path / "prepared")])
    assert code == 2
    error = capsys.readouterr().err
    assert error == (
        f"error: {params}: split.method=source, but the digits source has no split of its own; "
        "use split.method: stratified (with split.stratified.test_size)\n"
    )
    assert not (tmp_path / "prepared").exists()


def test_train_and_test_images_of_other_sizes_are_refused(tmp_path, write_params):
    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(0)
    idx.write(raw / "train-images-idx3-ubyte", rng.integers(0, 255, (6, 28, 28), dtype=np.uint8))
    idx.write(raw / "train-labels-idx1-ubyte", np.arange(6, dtype=np.uint8) % 2)
    idx.write(raw / "t10k-images-idx3-ubyte", rng.integers(0, 255, (4, 32, 32), dtype=np.uint8))
    idx.write(raw / "t10k-labels-idx1-ubyte", np.arange(4, dtype=np.uint8) % 2)
    with pytest.raises(
        UserError,
        match=r"t10k-images-idx3-ubyte: images of 32 x 32 pixels, but train-images-idx3-ubyte "
        r"holds images of 28 x 28$",
    ):
        run_prepare(write_params, raw, tmp_path / "prepared", **{"split.method": "source"})


def test_a_damaged_file_stops_prepare_with_one_line_and_no_output(
    tmp_path, write_params, raw, capsys
):
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for file in raw.iterdir():
        (damaged / file.name).write_bytes(file.read_bytes())
    labels = damaged / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-9])  # cut off: its trailer is gone
    params = write_params(
        {"data.source": "idx", "data.path": str(damaged), "split.method": "source"}
    )
    out = tmp_path / "prepared"
    code = cli.run(prepare.main, ["--params", str(params), "--out", str(out)])
    assert code == 2
    assert capsys.readouterr().err == (
        f"error: {labels}: the gzip stream is cut off (an incomplete download?)\n"
    )
    assert not out.exists()


def write_labels(raw: Path, train: list[int], test: list[int]) -> Path:
    """Blank 28x28 images with these labels, as the four standard files in ``raw``."""
    raw.mkdir()
    for prefix, labels in (("train", train), ("t10k", test)):
        idx.write(raw / f"{prefix}-images-idx3-ubyte", np.zeros((len(labels), 28, 28), np.uint8))
        idx.write(raw / f"{prefix}-labels-idx1-ubyte", np.array(labels, dtype=np.uint8))
    return raw


def test_default_names_refuse_labels_that_leave_most_numbers_unused(tmp_path, write_params):
    raw = write_labels(tmp_path / "raw", [0, 1, 2, 0, 1, 255], [0, 1, 2, 0, 1, 2])
    with pytest.raises(
        UserError,
        match=r"train-labels-idx1-ubyte: labels go up to 255, but only 4 of 0\.\.255 occur; "
        r"if that is right, name the classes in data\.classes$",
    ):
        run_prepare(write_params, raw, tmp_path / "prepared", **{"split.method": "source"})


def test_labels_may_skip_a_few_numbers(tmp_path, write_params):
    """EMNIST letters number their classes 1..26: label 0 is an absent class."""
    raw = write_labels(tmp_path / "raw", [1, 2, 3, 1], [1, 2, 3, 1])
    out = run_prepare(write_params, raw, tmp_path / "prepared", **{"split.method": "source"})
    assert json.loads((out / "classes.json").read_text()) == ["0", "1", "2", "3"]
