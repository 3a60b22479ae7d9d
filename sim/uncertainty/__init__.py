"""Decision uncertainty: probabilistic, one-way and global sensitivity analysis of a scenario, and the decision
analysis of any PSA (net benefit, acceptability curves and frontier, expected loss, EVPI, the incremental table with
intervals, EVPPI by nonparametric regression).

The decision analysis reads only tables: a PSA is one row per draw and strategy (``draw, strategy, cost, qalys``)
with one row of parameter values per draw, from cd7sim or from any other model. Modules: `psa` (the draws of a
scenario's PSA, in resumable blocks), `dsa` (one-way and two-way analysis), `gsa` (Morris and Sobol through SALib),
`decision` (the analysis on the PSA table), `evppi` (regression EVPPI) over `smoothers` (penalised splines and
Gaussian processes), `psa_folder` (reading and checking a PSA folder), `sobol` (Sobol indices of any function of
parameters with inverse-CDF priors).
"""
