"""digitwise: what a handwritten-digit classifier gets wrong, and why.

The library behind the DVC stages in ``stages/``. Where things live:

- ``data``: data sources (scikit-learn's digits, MNIST-format IDX files), splits, the
  prepared files, features;
- ``models``: the classifiers and their hyperparameters, model files, training in steps;
- ``predictions``: the predictions-file schema, its writer and reader;
- ``metrics``: confusion, pairwise accuracy and AUC, scores, intervals, significance;
- ``pixels``: one-pixel separability, attribution, and the explanations built from them;
- ``examples``: which misclassified images to show;
- ``comparison``: a run against a baseline, and the regression gate;
- ``figures``: drawing only, figures returned and never saved;
- ``report``: the offline HTML report;
- ``params``: ``params.yaml`` read into typed values;
- ``io``: writing outputs atomically and reproducibly, reading JSON inputs;
- ``cli``: the command line's edge and the ``compare`` and ``gate`` commands;
- ``errors``: the one exception type for bad input.
"""
