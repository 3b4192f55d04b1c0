"""The classifiers and their hyperparameters, model files, and training in steps."""
