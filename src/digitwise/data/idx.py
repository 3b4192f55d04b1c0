"""MNIST-format (IDX) files: find the standard four in a directory, read and write them.

An IDX file is a 4-byte magic number, two zero bytes, a type byte (0x08: unsigned byte,
the only type read here) and the number of dimensions, then each dimension as a
big-endian uint32, then the data in C order. MNIST's images have 3 dimensions
(n, rows, columns), its labels 1 (n). A file may be gzip-compressed: that is told by
the gzip magic bytes, not by its name.

Reading is strict: every way a file can be wrong (not IDX at all, another type, the
wrong number of dimensions, a truncated body or trailing bytes, a cut-off gzip stream)
is a ``DataError`` naming the file.
"""

import gzip
import stat
import struct
import zlib
from pathlib import Path

import numpy as np

from digitwise.errors import UserError

UNSIGNED_BYTE = 0x08
GZIP_MAGIC = b"\x1f\x8b"
# (images, labels) of each part of the standard file set, as MNIST names them
PARTS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
TYPE_NAMES = {
    0x08: "unsigned byte",
    0x09: "signed byte",
    0x0B: "short",
    0x0C: "int",
    0x0D: "float",
    0x0E: "double",
}


class IdxError(UserError):
    """An IDX file that is missing, unreadable or not what MNIST-format data must be."""


def spellings(name: str) -> tuple[str, ...]:
    """The file names accepted for a standard name: as is, with ``.idx`` for ``-idx``
    (``train-images.idx3-ubyte``, as archive tools often write it), each with ``.gz``."""
    dotted = name.replace("-idx", ".idx")
    return (name, f"{name}.gz", dotted, f"{dotted}.gz")


def find(directory: str | Path, name: str) -> Path:
    """The one file in ``directory`` spelled as one of ``spellings(name)``."""
    directory = Path(directory)
    try:
        is_directory = directory.is_dir()
        exists = is_directory or directory.exists()
        found = [
            directory / spelling for spelling in spellings(name) if (directory / spelling).exists()
        ]
    except OSError as error:  # e.g. a name too long for the file system
        raise IdxError(f"{directory}: cannot read it ({error.strerror})") from None
    if not is_directory:
        what = "not a directory" if exists else "directory not found"
        raise IdxError(f"{directory}: {what}; data.path must name the directory of IDX files")
    if not found:
        raise IdxError(f"{directory}: no {name} file (looked for {', '.join(spellings(name))})")
    if len(found) > 1:
        names = " and ".join(path.name for path in found)
        raise IdxError(f"{directory}: both {names} are there; keep one of them")
    return found[0]


def read(path: str | Path, *, ndim: int) -> np.ndarray:
    """The array in an unsigned-byte IDX file of ``ndim`` dimensions, gzip or not.

    Returns a read-only uint8 array of the file's shape, a view of its bytes.
    """
    path = Path(path)
    try:
        # a FIFO or a device would block or never end: only regular files are read
        if not stat.S_ISREG(path.stat().st_mode):
            raise IdxError(f"{path}: not a regular file")
        data = path.read_bytes()
    except FileNotFoundError:
        raise IdxError(f"{path}: file not found") from None
    except OSError as error:
        raise IdxError(f"{path}: cannot read it ({error.strerror})") from None
    if data[:2] == GZIP_MAGIC:
        data = _gunzip(path, data)
        if data[:2] == GZIP_MAGIC:
            raise IdxError(f"{path}: compressed twice: gunzip it once, then it can be read")
    return parse(data, ndim=ndim, name=str(path))


def _gunzip(path: Path, data: bytes) -> bytes:
    try:
        return gzip.decompress(data)
    except EOFError:
        raise IdxError(f"{path}: the gzip stream is cut off (an incomplete download?)") from None
    except (gzip.BadGzipFile, zlib.error) as error:
        raise IdxError(
            f"{path}: not a valid gzip file, or other bytes follow its end ({error})"
        ) from None


def parse(data: bytes, *, ndim: int, name: str) -> np.ndarray:
    """The array in the bytes of an (uncompressed) IDX file; ``name`` is for messages."""
    kind = "images" if ndim == 3 else "labels" if ndim == 1 else f"{ndim}-D data"
    if len(data) < 4 or data[:2] != b"\x00\x00":
        start = data[:8]
        hint = " (an HTML page?)" if start.lstrip().startswith(b"<") else ""
        raise IdxError(
            f"{name}: not an IDX file{hint}: it starts with {start!r}, "
            "not two zero bytes, a type byte and a dimension count"
        )
    type_code, dims = data[2], data[3]
    if type_code != UNSIGNED_BYTE:
        found = TYPE_NAMES.get(type_code, "an unknown type")
        raise IdxError(
            f"{name}: IDX type 0x{type_code:02X} ({found}); only 0x08 (unsigned byte) is read"
        )
    if dims != ndim:
        raise IdxError(f"{name}: {dims} dimensions; MNIST-format {kind} have {ndim}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError(f"{name}: cut off inside its header ({len(data)} bytes)")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape, dtype=np.int64))  # Python ints: no overflow
    body = len(data) - header
    if body != expected:
        problem = "truncated" if body < expected else f"{body - expected} trailing bytes"
        raise IdxError(
            f"{name}: {problem}: dimensions {' x '.join(map(str, shape))} need "
            f"{expected} bytes of data, the file holds {body}"
        )
    if shape[0] == 0:
        raise IdxError(f"{name}: holds no {kind}")
    if ndim == 3 and 0 in shape[1:]:
        raise IdxError(f"{name}: images of {shape[1]} x {shape[2]} pixels hold no pixels")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def to_bytes(array: np.ndarray) -> bytes:
    """The uncompressed IDX bytes of a uint8 array (at most 255 dimensions)."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"IDX writing supports uint8 arrays; got {array.dtype}")
    header = bytes([0, 0, UNSIGNED_BYTE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def write(path: str | Path, array: np.ndarray, *, compress: bool = False) -> None:
    """Write an IDX file, gzip-compressed (with no time stamp in it) if ``compress``."""
    data = to_bytes(array)
    if compress:
        data = gzip.compress(data, mtime=0)
    Path(path).write_bytes(data)


def read_part(directory: str | Path, part: str) -> tuple[np.ndarray, np.ndarray, str, str]:
    """(images (n, rows, columns), labels (n,), images file, labels file) of one part,
    ``train`` or ``test``, with as many images as labels."""
    images_name, labels_name = PARTS[part]
    images_path, labels_path = find(directory, images_name), find(directory, labels_name)
    images = read(images_path, ndim=3)
    labels = read(labels_path, ndim=1)
    if len(labels) != len(images):
        raise IdxError(
            f"{labels_path}: {len(labels)} labels, but {images_path.name} holds "
            f"{len(images)} images"
        )
    return images, labels, str(images_path), str(labels_path)
