"""Calibration and validation: the study replays and targets, Bayesian calibration (AMIS + SIR) and
the posterior predictive check."""

DEFAULT_PRIOR_DRAWS, DEFAULT_STAGES, DEFAULT_STAGE_DRAWS, DEFAULT_POSTERIOR_DRAWS = 5000, 10, 3000, 1000
"""The committed calibration's budget: 35,000 simulated draws, about 6 minutes on 2 cores (kept here, in
the package's light entry, so that the command line can show them without importing scipy)."""

LOO_PRIOR_DRAWS, LOO_STAGES, LOO_STAGE_DRAWS, LOO_POSTERIOR_DRAWS = 1000, 3, 500, 1000
"""The default budget of each fold's calibration in leave-one-study-out validation: 2,500 simulated draws
(a small budget: four folds take a few minutes on 2 cores; the command line can raise it)."""
