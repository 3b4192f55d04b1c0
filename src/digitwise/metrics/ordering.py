"""The order in which heatmaps list the classes: the class list's own (``natural``), or
``clustered``, so that classes confused with each other sit side by side.

Clustered: the confusion matrix normalised by true class (R, each row sums to 1; an
absent class's row is zeros), symmetrised, S = (R + R^T) / 2, so S[a, b] is the mean of
the share of a taken for b and the share of b taken for a. The distance max(S) - S (off
the diagonal) is clustered by average linkage, so each group of classes confused with
each other is a subtree, contiguous in the leaves; up to ``MAX_OPTIMAL_ORDERING``
classes the leaves are then put in the order that minimises the sum of distances
between neighbours (scipy's optimal leaf ordering, 0.3 s at 500 classes and 3 s at
1,000, against 0.05 s for the linkage alone), beyond that in the linkage's order.

Ties: pairs never confused are all at the same distance. A term below a quarter of the
smallest share, growing with how far apart two classes are in the class list, prefers
the class list's order among them, so a model that confuses nothing keeps the natural
order (scipy orders the leaves in 32-bit floats: a term below their precision cannot
break ties there). Classes with no samples that are never predicted have nothing to be
ordered by: they come last, in the class list's order. The same counts give the same
order on every run.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from digitwise.errors import UserError
from digitwise.io import jsonfile

METHODS = ("natural", "clustered")
MAX_OPTIMAL_ORDERING = 500  # classes; more are left in the linkage's leaf order


@dataclass(frozen=True)
class ClassOrder:
    """How the classes are listed: ``positions`` are class indices, first to last."""

    method: str  # one of METHODS
    positions: tuple[int, ...]

    def names(self, classes: Sequence[str]) -> list[str]:
        return [classes[i] for i in self.positions]

    def apply(self, matrix: Any) -> np.ndarray:
        """A (K, K) matrix with its rows and columns in this order."""
        index = np.asarray(self.positions, dtype=np.intp)
        return np.asarray(matrix)[np.ix_(index, index)]

    @property
    def note(self) -> str:
        """What a figure's title says about the order; nothing for the natural one."""
        return "" if self.method == "natural" else f"classes in {self.method} order"


def natural_order(n_classes: int) -> ClassOrder:
    return ClassOrder("natural", tuple(range(n_classes)))


def class_order(counts: np.ndarray, *, method: str) -> ClassOrder:
    """The order ``method`` gives the classes of the (K, K) confusion matrix ``counts``
    (rows: true class, columns: predicted)."""
    if method == "natural":
        return natural_order(len(counts))
    if method == "clustered":
        return ClassOrder("clustered", tuple(int(i) for i in clustered_positions(counts)))
    raise ValueError(f"unknown class order {method!r}")


def confusion_similarity(counts: np.ndarray) -> np.ndarray:
    """S = (R + R^T) / 2 of shape (K, K), R the confusion normalised by true class."""
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals != 0)
    return (shares + shares.T) / 2


def clustered_positions(counts: np.ndarray) -> np.ndarray:
    """Class indices in clustered order, shape (K,): see the module's docstring."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    counts = np.asarray(counts)
    present = np.flatnonzero((counts.sum(axis=0) + counts.sum(axis=1)) > 0)
    absent = np.setdiff1d(np.arange(len(counts)), present)
    if len(present) < 3:  # one way to order two classes up to reversal
        return np.concatenate([present, absent])
    similarity = confusion_similarity(counts[np.ix_(present, present)])
    np.fill_diagonal(similarity, 0.0)
    shares = similarity[similarity > 0]
    tie = shares.min() / 4 if shares.size else 1.0
    index = np.arange(len(present), dtype=np.float64)
    gaps = np.abs(index[:, None] - index[None, :]) / len(present)  # below 1
    distance = similarity.max() - similarity + tie * gaps
    np.fill_diagonal(distance, 0.0)
    tree = linkage(
        squareform(distance, checks=False),
        method="average",
        optimal_ordering=len(present) <= MAX_OPTIMAL_ORDERING,
    )
    leaves = leaves_list(tree)
    if leaves[0] > leaves[-1]:  # an order and its reverse are as good: the one from the
        leaves = leaves[::-1]  # lower class index, so equal inputs give one answer
    return np.concatenate([present[leaves], absent])


def order_report(order: ClassOrder, classes: Sequence[str]) -> dict[str, Any]:
    """The JSON record of an order: its method and the class names in that order."""
    return {"method": order.method, "order": order.names(classes)}


def read_class_order(payload: Any, classes: Sequence[str], *, source: str) -> ClassOrder:
    """The order recorded in the evaluate step's ``confusion.json`` (parsed), for these
    ``classes``; one line naming ``source`` if it is not a permutation of them, or if
    a natural order is not the class list's (its figures would say nothing of it)."""
    record = payload.get("class_order") if isinstance(payload, dict) else None
    names = record.get("order") if isinstance(record, dict) else None
    method = record.get("method") if isinstance(record, dict) else None
    if method not in METHODS or not isinstance(names, list):
        raise UserError(
            f"{source}: must hold 'class_order', an object with 'method' "
            f"({' or '.join(METHODS)}) and 'order' (the class names) (run the evaluate stage)"
        )
    position = {name: i for i, name in enumerate(classes)}
    if (
        not all(isinstance(name, str) for name in names)
        or len(names) != len(classes)
        or set(names) != set(position)
    ):
        raise UserError(
            f"{source}: 'class_order.order' must list each of the {len(classes)} classes "
            "once; evaluate the predictions of a model trained on this data"
        )
    positions = tuple(position[name] for name in names)
    if method == "natural" and positions != tuple(range(len(classes))):
        raise UserError(
            f"{source}: 'class_order' says natural, but its 'order' is not the class "
            "list's; evaluate the predictions of a model trained on this data"
        )
    return ClassOrder(method, positions)


def load_class_order(path: str | None, classes: Sequence[str]) -> ClassOrder | None:
    """The order in the evaluate step's ``confusion.json`` at ``path``; None without one."""
    if path is None:
        return None
    payload = jsonfile.read_json(path, hint="(run the evaluate stage)")
    return read_class_order(payload, classes, source=str(path))
