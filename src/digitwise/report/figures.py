"""The report's figures: every PNG in a directory, checked and read, in reading order."""

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from digitwise.errors import UserError
from digitwise.report.captions import FIGURES

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Figure:
    name: str  # file name, the figure's identity in the page
    png: bytes
    width: int
    height: int

    @property
    def stem(self) -> str:
        return self.name.removesuffix(".png")


def read_png(path: Path) -> Figure:
    """A PNG file with its pixel size, read from the IHDR chunk (the first, by the spec)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UserError(f"{path}: cannot read it ({error.strerror})") from None
    if not (data.startswith(PNG_SIGNATURE) and len(data) >= 24 and data[12:16] == b"IHDR"):
        raise UserError(f"{path}: not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    if width == 0 or height == 0:
        raise UserError(f"{path}: a PNG image of {width} x {height} pixels")
    return Figure(path.name, data, width, height)


def figure_order(names: Iterable[str]) -> list[str]:
    """Known figures in FIGURES' reading order, then any others by name."""
    names = set(names)
    known = [f"{stem}.png" for stem in FIGURES if f"{stem}.png" in names]
    return known + sorted(names - set(known))


def read_figures(directory: str | Path) -> list[Figure]:
    """Every ``*.png`` directly in ``directory``, in ``figure_order``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UserError(f"{directory}: not a directory (expected the figures directory)")
    names = [path.name for path in directory.glob("*.png") if path.is_file()]
    if not names:
        raise UserError(f"{directory}: holds no .png figures")
    return [read_png(directory / name) for name in figure_order(names)]
