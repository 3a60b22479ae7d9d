"""Running the model: the runner (engines over strategies and replications), the contract tables,
many parameter sets, executors (local cores, Dask), run results and the benchmark."""
