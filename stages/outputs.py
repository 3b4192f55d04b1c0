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

FIGURE_DPI = 100


def write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
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
    """A figure as PNG with no software version in its metadata, at a fixed dpi."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI, metadata={"Software": None})
    return buffer.getvalue()
