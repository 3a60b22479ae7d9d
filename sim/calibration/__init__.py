"""Calibration and validation: the study replays and targets, Bayesian calibration (AMIS + SIR) and
the posterior predictive check."""

DEFAULT_PRIOR_DRAWS, DEFAULT_STAGES, DEFAULT_STAGE_DRAWS, DEFAULT_POSTERIOR_DRAWS = 5000, 10, 3000, 1000
"""The committed calibration's budget: 35,000 simulated draws, about 7 minutes on 2 cores (kept here, in
the package's light entry, so that the command line can show them without importing scipy)."""
