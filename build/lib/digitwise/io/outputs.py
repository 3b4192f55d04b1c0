"""Writing outputs: atomically, and the same bytes for the same content.

Each file is written beside its destination and renamed into place, so a reader
never sees half a file. Stages compute everything first and write last, so bad
input leaves no outputs behind.
"""

import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from digitwise.errors import UserError

FIGURE_DPI = 100


def check_destinations(*paths: str | Path) -> None:
    """Refuse output paths that cannot all be written, before any work is done.

    Catches the same path given twice, a path that is a directory, and a path
    below an existing file.
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


def write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as error:
        raise UserError(f"{path}: cannot write it ({error.strerror})") from None
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write it ({error.strerror})") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def json_text(payload: Any) -> str:
    """Sorted keys, two-space indent, trailing newline; NaN and infinity become null.

    JSON has no NaN; an undefined value (say, the AUC of a pair with an absent
    class) is written as null, which ``dvc metrics`` skips.
    """
    return json.dumps(_finite(payload), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json(path: str | Path, payload: Any) -> None:
    write_text(path, json_text(payload))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


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
        bbox_inches="tight",
        pad_inches=0.15,
    )
    return buffer.getvalue()
