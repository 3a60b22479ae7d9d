"""The clinical model: per-patient draws, patient attributes, the clinical rules and the course in
steps. Knows nothing of engines, files, pandas or the command line."""
