"""A run against a baseline (McNemar, paired bootstrap, changed confusions) and the
regression gate."""
