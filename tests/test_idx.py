"""MNIST-format (IDX) files: read as idx2numpy reads them, and refused with one line for
every way they can be damaged."""

import gzip
import os
import re

import idx2numpy
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from digitwise.data import idx
from digitwise.data.idx import IdxError


def images(n=5, rows=28, columns=28, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, rows, columns), dtype=np.uint8)


@settings(max_examples=60, deadline=None)
@given(
    array=arrays(
        np.uint8,
        st.one_of(
            st.tuples(st.integers(1, 20)),
            st.tuples(st.integers(1, 6), st.integers(1, 9), st.integers(1, 9)),
        ),
    ),
    compress=st.booleans(),
)
def test_reads_what_the_reference_writes_and_writes_what_it_reads(
    tmp_path_factory, array, compress
):
    directory = tmp_path_factory.mktemp("idx")
    reference = idx2numpy.convert_to_string(array)
    assert idx.to_bytes(array) == reference  # our writer against the reference's
    path = directory / "file"
    path.write_bytes(gzip.compress(reference) if compress else reference)
    got = idx.read(path, ndim=array.ndim)
    np.testing.assert_array_equal(got, idx2numpy.convert_from_string(reference))
    assert got.dtype == np.uint8 and got.shape == array.shape


def test_gzip_is_told_by_its_magic_bytes_not_by_the_name(tmp_path):
    array = images()
    (tmp_path / "plain.gz").write_bytes(idx.to_bytes(array))  # .gz name, not compressed
    (tmp_path / "packed").write_bytes(gzip.compress(idx.to_bytes(array)))  # compressed, no .gz
    np.testing.assert_array_equal(idx.read(tmp_path / "plain.gz", ndim=3), array)
    np.testing.assert_array_equal(idx.read(tmp_path / "packed", ndim=3), array)


def test_compressed_writes_are_reproducible(tmp_path):
    idx.write(tmp_path / "a", images(), compress=True)
    idx.write(tmp_path / "b", images(), compress=True)
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


@pytest.mark.parametrize(
    "name",
    [
        "train-images-idx3-ubyte",
        "train-images-idx3-ubyte.gz",
        "train-images.idx3-ubyte",
        "train-images.idx3-ubyte.gz",
    ],
)
def test_every_common_spelling_is_found(tmp_path, name):
    (tmp_path / name).write_bytes(idx.to_bytes(images()))
    assert idx.find(tmp_path, "train-images-idx3-ubyte") == tmp_path / name


def test_two_spellings_of_one_file_are_refused(tmp_path):
    for name in ("t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).write_bytes(idx.to_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(
        IdxError, match=r"both t10k-labels-idx1-ubyte and t10k-labels-idx1-ubyte\.gz"
    ):
        idx.find(tmp_path, "t10k-labels-idx1-ubyte")


def test_a_missing_file_or_directory_says_what_was_looked_for(tmp_path):
    with pytest.raises(IdxError, match=r"no train-labels-idx1-ubyte file \(looked for "):
        idx.find(tmp_path, "train-labels-idx1-ubyte")
    with pytest.raises(IdxError, match=r"nowhere: directory not found; data\.path must name"):
        idx.find(tmp_path / "nowhere", "train-labels-idx1-ubyte")


def header(type_code=0x08, dims=(5, 28, 28)):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


GOOD = idx.to_bytes(images())
PACKED = gzip.compress(GOOD)
CORRUPTIONS = {
    "html page saved as .gz": (
        b"<!DOCTYPE html><html><body>404 Not Found</body></html>",
        r"not an IDX file \(an HTML page\?\): it starts with b'<!DOCTYP'",
    ),
    "gzip stream cut off": (PACKED[: len(PACKED) // 2], r"the gzip stream is cut off"),
    "gzip with a damaged body": (
        PACKED[:10] + bytes(b ^ 0xFF for b in PACKED[10:40]) + PACKED[40:],
        r"not a valid gzip file",
    ),
    "non-zero first bytes": (b"\x01\x02" + GOOD[2:], r"not an IDX file: it starts with"),
    "empty file": (b"", r"not an IDX file: it starts with b''"),
    "signed bytes": (header(0x09) + GOOD[16:], r"IDX type 0x09 \(signed byte\); only 0x08"),
    "floats": (header(0x0D, (5, 28, 28)) + GOOD[16:], r"IDX type 0x0D \(float\)"),
    "labels where images belong": (header(dims=(5,)) + bytes(5), r"1 dimensions; .*images have 3"),
    "header cut off": (GOOD[:9], r"cut off inside its header \(9 bytes\)"),
    "truncated": (GOOD[:-1], r"truncated: dimensions 5 x 28 x 28 need 3920 bytes .* holds 3919"),
    "trailing bytes": (GOOD + b"\x00\x00", r"2 trailing bytes: dimensions 5 x 28 x 28 need 3920"),
    "no images": (header(dims=(0, 28, 28)), r"holds no images"),
    "images without pixels": (header(dims=(5, 0, 0)), r"images of 0 x 0 pixels hold no pixels"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_each_damage_is_one_line_that_names_the_file(tmp_path, case):
    data, message = CORRUPTIONS[case]
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(data)
    with pytest.raises(IdxError, match=rf"^{re.escape(str(path))}: {message}") as caught:
        idx.read(path, ndim=3)
    assert "\n" not in str(caught.value)


def write_part(directory, part, n_images, n_labels, compress=False):
    images_name, labels_name = idx.PARTS[part]
    suffix = ".gz" if compress else ""
    idx.write(directory / f"{images_name}{suffix}", images(n_images), compress=compress)
    labels = np.arange(n_labels, dtype=np.uint8) % 10
    idx.write(directory / f"{labels_name}{suffix}", labels, compress=compress)


def test_a_part_needs_as_many_labels_as_images(tmp_path):
    write_part(tmp_path, "test", n_images=10000, n_labels=9999, compress=True)
    labels_file = tmp_path / "t10k-labels-idx1-ubyte.gz"
    with pytest.raises(
        IdxError,
        match=rf"^{re.escape(str(labels_file))}: 9999 labels, but "
        r"t10k-images-idx3-ubyte\.gz holds 10000 images$",
    ):
        idx.read_part(tmp_path, "test")


def test_a_part_is_the_files_arrays(tmp_path):
    write_part(tmp_path, "train", n_images=7, n_labels=7)
    got_images, got_labels, images_file, labels_file = idx.read_part(tmp_path, "train")
    np.testing.assert_array_equal(
        got_images, idx2numpy.convert_from_file(str(tmp_path / "train-images-idx3-ubyte"))
    )
    np.testing.assert_array_equal(got_labels, np.arange(7) % 10)
    assert images_file.endswith("train-images-idx3-ubyte")
    assert labels_file.endswith("train-labels-idx1-ubyte")


def test_a_file_compressed_twice_says_so(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.compress(idx.to_bytes(np.zeros(3, np.uint8)))))
    with pytest.raises(IdxError, match=r"compressed twice: gunzip it once"):
        idx.read(path, ndim=1)


def test_only_regular_files_are_read(tmp_path):
    fifo = tmp_path / "train-labels-idx1-ubyte"
    os.mkfifo(fifo)  # reading it would block for ever
    with pytest.raises(IdxError, match=r"train-labels-idx1-ubyte: not a regular file$"):
        idx.read(fifo, ndim=1)


def test_a_path_the_file_system_refuses_is_one_line(tmp_path):
    too_long = tmp_path / ("x" * 300)
    with pytest.raises(IdxError, match=r"cannot read it \(File name too long\)$"):
        idx.find(too_long, "train-labels-idx1-ubyte")
    with pytest.raises(IdxError, match=r"cannot read it \(File name too long\)$"):
        idx.read(too_long, ndim=1)
