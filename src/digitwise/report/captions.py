"""What the report says under each figure: a heading and one sentence on how to read it,
for an evaluation with probabilities and, where a figure differs, for one without."""

# Known figures by file stem, in reading order: what went wrong, then why (data, model),
# then how it developed. Each: (heading, one sentence on how to read it).
FIGURES: dict[str, tuple[str, str]] = {
    "confusion_counts": (
        "Confusion matrix, counts",
        "Rows are the true class and columns the prediction: the diagonal counts the correct "
        "predictions, and any other cell (row a, column b) counts the a-samples taken for b.",
    ),
    "confusion_normalized": (
        "Confusion matrix, normalized by true class",
        "Each row splits one true class into shares that sum to 1, with the count beneath "
        "each share, so the diagonal is each class's recall and colours compare classes of "
        "different sizes.",
    ),
    "pairwise_accuracy": (
        "Pairwise accuracy",
        "Cell (a, b) is the share of a- and b-samples for which the model gives the true class "
        "a higher probability than the other one: a low cell is a specific confusion, a low "
        "row a class ranked badly against many others, a blank cell undefined.",
    ),
    "reliability_diagram": (
        "Calibration (reliability diagram)",
        "The samples binned by their largest probability, each bar the bin's accuracy and "
        "its red dot the bin's mean confidence, so a bar above the dashed diagonal is a "
        "model less sure than it should be and one below a model too sure (the grey bars "
        "count the samples per bin), and on the right the same for each class on its own: "
        "the share of the class against the mean probability given to it.",
    ),
    "confusion_examples": (
        "Examples of the most frequent confusions",
        "Each row is one off-diagonal cell of the confusion matrix: a correct sample of the "
        "true class (framed green), then the misclassified samples (red) with the "
        "probability given to the wrong class, then a correct sample of the predicted class; "
        "a mistake marked possible label error is likelier a wrong label than a wrong "
        "prediction (confident learning).",
    ),
    "separability": (
        "One-pixel separability",
        "Cell (a, b) is the held-out accuracy of the best single pixel and threshold at "
        "telling a from b (0.5 is chance), so a low cell marks a pair that is hard to "
        "separate in the data itself, whatever the model.",
    ),
    "separability_maps": (
        "One-pixel separability maps",
        "For each of the most confused pairs, the two classes' mean training images and, "
        "beside them, each pixel's held-out accuracy at telling the two apart, with the best "
        "pixel ringed.",
    ),
    "model_vs_data": (
        "Model vs one pixel",
        "Each dot is a pair of classes, placed across by how well one pixel separates its "
        "data and up by the model's pairwise accuracy: a low dot on the left is a pair hard "
        "in the data, a low dot on the right (shaded: worse than one pixel) the model's fault.",
    ),
    "attribution_class_means": (
        "Mean pixel attribution per class",
        "Each panel averages, over the held-out samples of one true class, how much each "
        "pixel raises (red) or lowers (blue) the model's score for that class, by the method "
        "named in the figure's title.",
    ),
    "attribution_examples": (
        "Attribution of single examples",
        "Each row is one held-out sample, mistakes first: the image, then the pixels that "
        "raise (red) or lower (blue) the score of the true class and of the predicted class.",
    ),
    "steps_confusion": (
        "Confusion during training",
        "Held-out confusion matrices after more and more training, left to right and top to "
        "bottom (epochs of a network, or refits of any other model on a growing share of the "
        "training split), show which confusions more training or more data removes and "
        "which persist.",
    ),
}


# Figures that a label-only evaluation (predictions without probability columns) draws
# differently, by file stem: (heading, caption) in place of FIGURES'.
LABEL_ONLY_FIGURES: dict[str, tuple[str, str]] = {
    "pairwise_accuracy": (
        "Pairwise accuracy, from the predicted labels",
        "Cell (a, b) is the share predicted right among the samples whose true class is a or "
        "b and whose prediction is a or b, and the diagonal each class's recall (there are no "
        "probabilities to rank by): a low cell is a specific confusion, a blank cell undefined.",
    ),
    "reliability_diagram": (
        "Calibration",
        "Calibration compares probabilities with frequencies; the predictions have none, so "
        "the figure only says so.",
    ),
}


GENERIC_CAPTION = (
    "A figure from the figures directory with no description here: its title and axes say "
    "what it shows."
)


COMPARISON_PLOT_CAPTION = (
    "Each cell shows how much more (red) or less (blue) of the true class (row) this run puts "
    "in that prediction (column) than the baseline does, so on the diagonal red is better "
    "and off it red is a mistake made more often."
)


def figure_text(stem: str, *, label_only: bool) -> tuple[str, str]:
    """(heading, caption) of the figure ``stem``.png; ``label_only``: of an evaluation
    from predicted labels alone, which draws some figures from the labels instead."""
    if label_only and stem in LABEL_ONLY_FIGURES:
        return LABEL_ONLY_FIGURES[stem]
    return FIGURES.get(stem, (stem, GENERIC_CAPTION))


# Shown under the headline metrics of a label-only evaluation.
LABEL_ONLY_NOTE = (
    "The predictions have no proba_ columns: log loss, top-2 accuracy, AUC and the "
    "probability-based pairwise accuracy need probabilities and are not computed."
)
