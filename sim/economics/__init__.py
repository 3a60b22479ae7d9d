"""Health economics: value models (costs, QALYs, cost-effectiveness) beside the disease model.

Like the plausibility check, the value models read only the contract tables a run leaves (the patients
and events tables of `sim.simulation.tables`), never the model, the engines or the runner. The modules
here are their pure mathematical core: exact continuous-time discounting over each patient's own
timeline (`discounting`) and the incremental analysis of strategies' mean costs and effects, with
dominance, extended dominance, ICERs and net monetary benefit (`incremental`); the value models
(`value_models`) turn the contract tables into each patient's costs by category, QALYs and life-years, and the
evaluation of a run (`evaluation`) summarises them into ``economics.csv`` and ``icers.csv``.
"""
