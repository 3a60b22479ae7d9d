"""Decision uncertainty: the decision analysis of a PSA (net benefit, acceptability curves and frontier,
expected loss, EVPI, the incremental table with intervals), EVPPI by nonparametric regression, and Sobol
indices through SALib.

Like the value models, these read only tables: a PSA is one row per draw and strategy (``draw, strategy,
cost, qalys``) with one row of parameter values per draw, from cd7sim or from any other model. Modules:
`decision` (the analysis on the PSA table), `evppi` (regression EVPPI) over `smoothers` (penalised splines
and Gaussian processes), `psa_folder` (reading and checking a PSA folder), `sobol` (Sobol indices of any
function of parameters with inverse-CDF priors).
"""
