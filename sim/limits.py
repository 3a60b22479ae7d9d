"""Upper bounds on what a run may ask for: hard bounds of the scenario schema (used by
:mod:`sim.scenario` and :mod:`sim.parameters`). Values beyond them are absurd for a health service
and would exhaust memory or overflow on their own."""

from __future__ import annotations

from sim.clinical.survival import DAYS_PER_YEAR

MAX_YEARS = 100.0
"""Longest horizon, warm-up, run length, follow-up or duration, years."""
MAX_DAYS = MAX_YEARS * DAYS_PER_YEAR
""":data:`MAX_YEARS` in days (36,525)."""
MIN_HORIZON_DAYS = 1.0
"""Shortest follow-up horizon, days: resources are measured per year over the horizon of a closed
cohort, and a horizon of a fraction of a day measures nothing."""
MAX_SLOTS = 10_000
"""Most servers of one resource (slots, beds, appointments a week); the SimPy engine keeps one
entry per server, and no service has more."""
MAX_PATIENTS = 10_000_000
"""Most patients per strategy and replication (a closed cohort, or a study's size)."""
MAX_REPLICATIONS = 10_000
"""Most replications of a run."""
MAX_RATE_PER_YEAR = 100_000.0
"""Most referrals a year of an open cohort (more than any health service refers)."""
MAX_MULTIPLIER = 1000.0
"""Largest multiplier of a risk (a strategy's or a parameter's): no effect in the model is a
thousandfold."""
MAX_NAME_LENGTH = 100
"""Longest name of a scenario or a strategy, characters (names become folder and column names)."""
