"""Where an evaluation runs: ``shards`` is what each shard contributes and how the parts
combine (plain functions, no engine); ``dask`` runs them on a Dask cluster."""
