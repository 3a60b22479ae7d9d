"""Calibration and validation: the study replays and targets, Bayesian calibration (AMIS + SIR) and
the posterior predictive check."""

from sim.inputs.limits import DEFAULT_POSTERIOR_DRAWS, DEFAULT_PRIOR_DRAWS, DEFAULT_STAGE_DRAWS, DEFAULT_STAGES

__all__ = ["DEFAULT_POSTERIOR_DRAWS", "DEFAULT_PRIOR_DRAWS", "DEFAULT_STAGES", "DEFAULT_STAGE_DRAWS", "LOO_POSTERIOR_DRAWS",
           "LOO_PRIOR_DRAWS", "LOO_STAGES", "LOO_STAGE_DRAWS"]

LOO_PRIOR_DRAWS, LOO_STAGES, LOO_STAGE_DRAWS, LOO_POSTERIOR_DRAWS = 1000, 3, 500, 1000
"""The default budget of each fold's calibration in leave-one-study-out validation: 2,500 simulated draws
(a small budget: four folds take a few minutes on 2 cores; the command line can raise it)."""
