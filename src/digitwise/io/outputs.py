"""Writing outputs: atomically, and the same bytes for the same content.

``write_all`` writes a stage's or a command's files together, or none of them: each is
staged beside its destination, flushed to disk and renamed into place, so a reader never
sees half a file. Stages check their destinations first, compute everything, and write
last, so bad input leaves no outputs behind.
"""

import contextlib
import errno
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from digitwise.errors import UserError

FIGURE_DPI = 100
TIGHT_PAD_INCHES = 0.15  # the margin around what is drawn


def check_destinations(*paths: str | Path, inputs: Iterable[str | Path | None] = ()) -> None:
    """Refuse output paths that cannot all be written, before any work is done.

    Catches the same path given twice, a path that is a directory, a path below an
    existing file, and (``check_not_inputs``) a path that is one of ``inputs``.
    """
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        resolved = path.resolve()
        if resolved in seen:
            raise UserError(f"{path}: given as more than one output")
        seen.add(resolved)
        if path.is_dir():
            raise UserError(f"{path}: is a directory; expected a file path to write")
        blocking = next((parent for parent in path.parents if parent.is_file()), None)
        if blocking is not None:
            raise UserError(f"{path}: cannot be created, {blocking} is a file")
    check_not_inputs(paths, inputs)


def check_not_inputs(destinations, inputs) -> None:
    """Refuse an output that is one of the inputs, or inside an input directory (a
    directory of shards would take the outputs for shards the next time)."""
    sources = [(Path(given), Path(given).resolve()) for given in inputs if given is not None]
    for given in destinations:
        resolved = Path(given).resolve()
        for source, source_resolved in sources:
            if resolved == source_resolved:
                raise UserError(f"{given}: is also an input ({source}); write elsewhere")
            if source_resolved.is_dir() and source_resolved in resolved.parents:
                raise UserError(f"{given}: is inside the input directory {source}; write elsewhere")


# A file being written: ``.<name>.digitwise-<pid>-<random>.tmp`` beside its destination.
# A process killed before renaming it leaves it behind; the next write into the same
# directory removes it, once no process of that number runs. (When DVC restores a
# killed stage's outputs from its run-cache instead of running it, nothing is written
# there: the root .gitignore keeps such a file out of ``git status`` until then.)
STAGING_MARK = ".digitwise-"
_STAGED = re.compile(r"\..+\.digitwise-(\d+)-[A-Za-z0-9_]+\.tmp")


def write_all(files: Mapping[str | Path, bytes | str]) -> None:
    """Write every file, or none of them.

    Each file is written beside its destination under a temporary name and flushed to
    disk; only when all are, are they renamed into place, then their directories are
    flushed. A reader never sees half a file, and a failure (a full disk, a read-only
    directory) leaves the destinations as they were, with no temporary file and no
    directory made for them. Only a crash or a failing disk between two renames can leave
    some outputs new and others old; each one is complete, and ``dvc repro`` runs the
    stage again.
    """
    staged: list[tuple[Path, Path]] = []
    made: list[Path] = []
    swept: set[Path] = set()
    path = Path()
    try:
        for given, content in files.items():
            path = Path(given)
            made += _make_directories(path.parent)
            if path.parent not in swept:
                remove_leftovers(path.parent)
                swept.add(path.parent)
            if path.is_dir():  # os.replace would fail there, after other renames
                raise IsADirectoryError(errno.EISDIR, "it is a directory")
            data = content.encode("utf-8") if isinstance(content, str) else content
            staged.append((_stage(path, data), path))
        for temporary, path in staged:
            os.replace(temporary, path)
        for directory in dict.fromkeys(path.parent for _, path in staged):
            _flush_directory(directory)
    except BaseException as error:
        for temporary, _ in staged:
            Path(temporary).unlink(missing_ok=True)
        for directory in reversed(made):
            _remove_if_empty(directory)
        if isinstance(error, OSError):
            raise UserError(f"{path}: cannot write it ({error.strerror or error})") from None
        raise


def write_bytes(path: str | Path, data: bytes) -> None:
    write_all({path: data})


def write_text(path: str | Path, text: str) -> None:
    write_all({path: text})


def remove_leftovers(directory: str | Path) -> None:
    """Remove the temporary files killed writers left in ``directory`` (on POSIX, where a
    process number tells whether its writer still runs)."""
    directory = Path(directory)
    if os.name != "posix" or not directory.is_dir():
        return
    for candidate in directory.iterdir():
        if STAGING_MARK not in candidate.name:
            continue
        match = _STAGED.fullmatch(candidate.name)
        if match and not _running(int(match[1])) and candidate.is_file():
            candidate.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs (this one does: another thread may be writing)."""
    if pid <= 0:  # kill(0) would signal this process group
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _stage(path: Path, data: bytes) -> Path:
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}{STAGING_MARK}{os.getpid()}-", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Path(temporary)


def _make_directories(directory: Path) -> list[Path]:
    """Make ``directory`` and its missing parents; the ones made, outermost first."""
    missing = []
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    made = []
    for candidate in reversed(missing):
        try:
            candidate.mkdir()
        except FileExistsError:  # another writer made it meanwhile: it is not ours
            continue
        made.append(candidate)
    return made


def _remove_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):
        directory.rmdir()


def _flush_directory(directory: Path) -> None:
    """Make the renames in ``directory`` durable (POSIX; elsewhere there is nothing to do)."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(handle)
    finally:
        os.close(handle)


def json_text(payload: Any) -> str:
    """Sorted keys, two-space indent, trailing newline; NaN and infinity become null.

    JSON has no NaN; an undefined value (say, the AUC of a pair with an absent
    class) is written as null, which ``dvc metrics`` skips. A list of numbers (a row
    of a matrix) is written on one line: a 1,000-class confusion matrix is then 1,000
    lines, not a million, and is encoded by json's C encoder in a fraction of a second.
    """
    return _encode(payload, "") + "\n"


def write_json(path: str | Path, payload: Any) -> None:
    write_all({path: json_text(payload)})


_NOT_FINITE = re.compile(r"-?Infinity|NaN")


def _encode(value: Any, indent: str) -> str:
    """``json.dumps(value, indent=2, sort_keys=True)``, but numeric lists on one line."""
    inner = indent + "  "
    if (
        isinstance(value, np.ndarray)
        and value.ndim in (1, 2)
        and value.size
        and value.dtype.kind in "iuf"
    ):
        return _encode_array(value, indent)
    if isinstance(value, np.ndarray):
        return _encode(value.tolist(), indent)
    if isinstance(value, dict):
        if not value:
            return "{}"
        if not all(isinstance(key, str) for key in value):
            raise TypeError("JSON object keys must be strings here")
        items = sorted(value.items())
        body = ",\n".join(
            f"{inner}{json.dumps(key)}: {_encode(item, inner)}" for key, item in items
        )
        return "{\n" + body + "\n" + indent + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        if all(type(item) in (int, float) for item in value):  # not bool: a row of numbers
            text = json.dumps(list(value), allow_nan=True, separators=(", ", ": "))
            return _NOT_FINITE.sub("null", text)  # no digit, sign or dot spells these
        body = ",\n".join(inner + _encode(item, inner) for item in value)
        return "[\n" + body + "\n" + indent + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return "null"
    return json.dumps(value, allow_nan=False)


def _encode_array(array: np.ndarray, indent: str) -> str:
    """A numeric array: one line, or one line per row; as its ``tolist()`` would be."""
    if array.dtype.kind not in "iuf":  # booleans, strings: as their lists are
        return _encode(array.tolist(), indent)
    finite = array.dtype.kind != "f" or bool(np.isfinite(array).all())

    def line(row: np.ndarray) -> str:
        text = json.dumps(row.tolist(), allow_nan=True, separators=(", ", ": "))
        return text if finite else _NOT_FINITE.sub("null", text)

    if array.ndim == 1:
        return line(array)
    inner = indent + "  "
    return "[\n" + ",\n".join(inner + line(row) for row in array) + "\n" + indent + "]"


def png_bytes(figure: Any) -> bytes:
    """A figure as PNG with no software version in its metadata, at a fixed dpi.

    The image is cropped to what is drawn, plus a margin, so long class names and
    titles are never cut off by the figure's edge (a deterministic computation).
    """
    buffer = io.BytesIO()
    figure.savefig(
        buffer,
        format="png",
        dpi=FIGURE_DPI,
        metadata={"Software": None},
        bbox_inches=_tight_box(figure),
    )
    return buffer.getvalue()


def _tight_box(figure: Any) -> Any:
    """The box ``bbox_inches="tight", pad_inches=0.15`` crops to, found without drawing
    the figure: savefig's own "tight" draws everything once more to measure it, and
    resampling a 1,000 x 1,000 image there costs as much as the PNG itself. An image
    lies inside its axes, which count anyway, so the box is the same. Without a layout
    engine, measuring needs no draw either: each text is laid out once, for the PNG
    (a third of a 10-class heatmap's time)."""
    images = [image for ax in figure.axes for image in ax.images if image.get_visible()]
    previous_dpi = figure.dpi
    try:
        figure.set_dpi(FIGURE_DPI)
        for image in images:
            image.set_visible(False)
        if figure.get_layout_engine() is not None:
            figure.draw_without_rendering()  # a layout engine places the axes as it draws
        box = figure.get_tightbbox(figure.canvas.get_renderer())
    finally:
        for image in images:
            image.set_visible(True)
        figure.set_dpi(previous_dpi)
    return box.padded(TIGHT_PAD_INCHES)
