"""Save and load models as skops files: byte-reproducible, and loaded only if trusted.

``skops.io.dumps`` names archive entries after ``id()`` of the objects and stamps
them with the current time, so two saves of the same model differ. We rewrite the
archive canonically: ids renumbered in order of first appearance in the schema,
entries in a fixed order with a fixed date. The content skops reads back is the
same, and loading still goes through skops' audit of untrusted types.

Loading then audits the model whole (``digitwise/models/audit.py``) for the data it
is to serve: a file that fails is one line naming it and what is wrong, never a
traceback or a wrong prediction.
"""

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from digitwise.errors import UserError, printable
from digitwise.io.outputs import write_bytes
from digitwise.models.audit import audit, check_fits_data
from digitwise.models.estimators import TRUSTED_TYPES

__all__ = ["audit", "canonical_skops", "check_fits_data", "load_model", "save_model"]

_FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry


def canonical_skops(archive: bytes) -> bytes:
    """The same skops archive with deterministic entry names, order and dates."""
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        schema = json.loads(source.read("schema.json"))
        ids: dict[int, int] = {}
        files: dict[str, str] = {}
        _renumber(schema, ids, files)
        entries = {new: source.read(old) for old, new in files.items()}
    entries["schema.json"] = json.dumps(schema, indent=2).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as target:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_FIXED_DATE)
            info.external_attr = 0o644 << 16
            target.writestr(info, entries[name])
    return buffer.getvalue()


def _renumber(node: Any, ids: dict[int, int], files: dict[str, str]) -> None:
    if isinstance(node, list):
        for item in node:
            _renumber(item, ids, files)
        return
    if not isinstance(node, dict):
        return
    if isinstance(node.get("__id__"), int):
        node["__id__"] = ids.setdefault(node["__id__"], len(ids) + 1)
    if isinstance(node.get("file"), str):
        old = node["file"]
        suffix = Path(old).suffix
        node["file"] = files.setdefault(old, f"{len(files) + 1}{suffix}")
    for value in node.values():
        _renumber(value, ids, files)


def save_model(model: Any, path: str | Path) -> None:
    import skops.io

    write_bytes(path, canonical_skops(skops.io.dumps(model)))


def load_model(path: str | Path, *, n_features: int, n_classes: int) -> Any:
    """Load a model saved by this project for data of ``n_features`` features and
    ``n_classes`` classes, refusing any type it does not expect and any model that does
    not pass ``audit``."""
    import skops.io

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: model file not found") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read it ({error.strerror})") from None
    try:
        untrusted = skops.io.get_untrusted_types(data=data)
    except Exception:  # skops raises several types for a damaged archive
        raise UserError(f"{path}: not a readable skops model file") from None
    refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if refused:
        raise UserError(
            f"{path}: refusing to load untrusted type {refused[0]}; "
            f"this project trusts only: {', '.join(TRUSTED_TYPES)}"
        )
    try:
        model = skops.io.load(io.BytesIO(data), trusted=list(untrusted))
    except Exception:  # an entry that is damaged, or not what its schema says
        raise UserError(f"{path}: not a readable skops model file") from None
    try:
        audit(model, path, n_features=n_features, n_classes=n_classes)
    except UserError:
        raise
    except Exception as error:  # a crafted file: an array where a number belongs, say
        shown = printable(f"{type(error).__name__}: {error}")[:200]
        raise UserError(f"{path}: not a model this project trains ({shown})") from None
    return model
