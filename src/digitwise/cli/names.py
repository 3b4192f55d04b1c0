"""The standard file names the subcommands write under ``--out`` and read back: in a
module of their own, so reading them does not import the code that writes them."""

# digitwise evaluate (the evaluate stage names the same outputs on its command line)
EVALUATE_OUTPUTS = {
    "metrics": "metrics.json",
    "intervals": "intervals.json",
    "confusion": "confusion.json",
    "top_confusions": "top_confusions.json",
    "pairwise": "pairwise.json",
    "calibration": "calibration.json",
    "per_class": "per_class.json",
    "confusion_plot": "figures/confusion_counts.png",
    "confusion_normalized_plot": "figures/confusion_normalized.png",
    "pairwise_plot": "figures/pairwise_accuracy.png",
    "calibration_plot": "figures/reliability_diagram.png",
}

# digitwise compare
COMPARE_OUTPUTS = {
    "comparison": "comparison.json",
    "delta_plot": "confusion_delta.png",
    "summary": "summary.md",
}

# digitwise sweep collect
SWEEP_OUTPUTS = {"table": "experiments.md", "collected": "experiments.json"}

REPORT_PAGE = "report.html"  # digitwise report, under the evaluation directory
