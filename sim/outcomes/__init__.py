"""Measures read from a run's records: estimators (Kaplan-Meier, Aalen-Johansen, proportions),
every patient endpoint defined once over the patients table, and the resource measures."""
