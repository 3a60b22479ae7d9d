"""Inputs: the scenario schema, parameters and posterior, strategies, codes (every category and column
list), bounds, YAML reading and the one-line input errors. Imports nothing else of cd7sim."""
