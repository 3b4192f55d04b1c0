"""Shared fixtures: the project's own params file, and writing variants of it."""

import copy
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DELETE = "<delete>"


@pytest.fixture
def default_params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


@pytest.fixture
def write_params(tmp_path, default_params):
    """Write params.yaml with some keys changed: ``write_params({"train.seed": 3})``.

    A value of ``DELETE`` (the string ``"<delete>"``) removes the key.
    """

    def write(changes: dict | None = None, *, raw: str | None = None) -> Path:
        path = tmp_path / "params.yaml"
        if raw is not None:
            path.write_text(raw)
            return path
        values = copy.deepcopy(default_params)
        for dotted, value in (changes or {}).items():
            *parents, last = dotted.split(".")
            node = values
            for key in parents:
                node = node[key]
            if value == DELETE:
                del node[last]
            else:
                node[last] = value
        path.write_text(yaml.safe_dump(values))
        return path

    return write
