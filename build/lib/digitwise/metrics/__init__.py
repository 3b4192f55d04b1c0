"""Metrics of predictions: confusion, pairwise accuracy and AUC, scores, intervals,
significance. Functions take ``(y_true, y_pred, ...)`` and match scikit-learn's numbers."""
