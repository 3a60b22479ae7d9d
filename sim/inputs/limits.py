"""Hard bounds of the input schema: values beyond them are absurd for a health service and would
exhaust memory or overflow on their own. The memory a whole run would hold is checked against the
machine by :func:`sim.simulation.memory.check_run_size`.
"""

from __future__ import annotations

from sim.inputs.codes import DAYS_PER_YEAR

MAX_YEARS = 100.0
"""Longest horizon, warm-up, follow-up or duration, years."""
MAX_DAYS = MAX_YEARS * DAYS_PER_YEAR
""":data:`MAX_YEARS` in days (36,525)."""
MIN_HORIZON_DAYS = 1.0
"""Shortest follow-up horizon, days: resources are measured per year over the horizon of a closed
cohort, and a horizon of a fraction of a day measures nothing."""
MAX_SLOTS = 10_000
"""Most servers of one resource (slots, beds, appointments a week); the SimPy engine keeps one
entry per server, and no service has more."""
MAX_RUN_LENGTH_DAYS = 1000 * MAX_DAYS
"""Longest run length of an open cohort, days (100,000 years): steady-state checks run long
(``tests/validation/test_queueing.py`` observes 13 million days at a few referrals a year); the
referrals expected over a run are bounded by :data:`MAX_PATIENTS`."""
MAX_PATIENTS = 10_000_000
"""Most patients per strategy and replication (a closed cohort, the referrals expected over an open
cohort's warm-up and run length, or a study's size)."""
MAX_REPLICATIONS = 10_000
"""Most replications of a run."""
MAX_RATE_PER_YEAR = 100_000.0
"""Most referrals a year of an open cohort (more than any health service refers)."""
MAX_MULTIPLIER = 1000.0
"""Largest multiplier of a risk (a strategy's or a parameter's): no effect in the model is a
thousandfold."""
MAX_NAME_LENGTH = 100
"""Longest name of a scenario or a strategy, characters (names become folder and column names)."""
MAX_CALIBRATION_DRAWS = 1_000_000
"""Most parameter draws a calibration simulates (prior draws plus stages x draws per stage) or keeps
(posterior draws): about 2 kB of memory and, on one core, about 10 ms each (measured with the shipped
studies: the default calibration's 35,000 draws took 323 s of processor time), so a million draws is a few
hours of computing on a few cores and about 2 GiB."""
DEFAULT_PRIOR_DRAWS, DEFAULT_STAGES, DEFAULT_STAGE_DRAWS, DEFAULT_POSTERIOR_DRAWS = 5000, 10, 3000, 1000
"""The committed calibration's budget, :data:`DEFAULT_CALIBRATION_DRAWS` simulated draws (kept with the bounds, in a
light module, so that the command line can show them without importing scipy and the benchmark can time them)."""


def simulated_draws(prior_draws: int, stages: int, stage_draws: int) -> int:
    """Parameter draws a calibration simulates: its prior draws, then ``stage_draws`` at each adaptive stage."""
    return prior_draws + stages * stage_draws


DEFAULT_CALIBRATION_DRAWS = simulated_draws(DEFAULT_PRIOR_DRAWS, DEFAULT_STAGES, DEFAULT_STAGE_DRAWS)
"""Parameter draws the default calibration simulates (35,000)."""
