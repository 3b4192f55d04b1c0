"""Regenerate predictions_28.csv and classes_28.json: a held-out 28-class predictions file.

Synthetic but shaped like a real classifier's output: 20 samples per class, most
predicted right, confusions concentrated between neighbouring classes, and class
"27" absent from the split (it must still get a zero row and column). Seeded, so
running this again writes the same bytes: ``python tests/data/make_28_classes.py``.
"""

import json
from pathlib import Path

import numpy as np

N_CLASSES, PER_CLASS, ABSENT = 28, 20, 27


def main() -> None:
    rng = np.random.default_rng(28)
    here = Path(__file__).parent
    classes = [str(i) for i in range(N_CLASSES)]
    actual = np.repeat([c for c in range(N_CLASSES) if c != ABSENT], PER_CLASS)
    logits = rng.normal(0.0, 1.0, size=(len(actual), N_CLASSES))
    logits[np.arange(len(actual)), actual] += 4.0
    neighbour = (actual + 1) % (N_CLASSES - 1)
    logits[np.arange(len(actual)), neighbour] += rng.uniform(0, 5, size=len(actual))
    logits[:, ABSENT] -= 20.0
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    predicted = proba.argmax(axis=1)
    lines = ["sample,actual,predicted," + ",".join(f"proba_{c}" for c in classes)]
    for sample, (a, p, row) in enumerate(zip(actual, predicted, proba, strict=True)):
        lines.append(f"{sample},{a},{p}," + ",".join(f"{v:.8f}" for v in row))
    (here / "predictions_28.csv").write_text("\n".join(lines) + "\n")
    (here / "classes_28.json").write_text(json.dumps(classes) + "\n")


if __name__ == "__main__":
    main()
