"""The decision analysis of a probabilistic sensitivity analysis (PSA).

A PSA is ``n`` draws of the uncertain parameters, each giving every strategy's mean cost (currency) and
QALYs; at a willingness to pay λ (currency per QALY) each draw gives every strategy a net monetary benefit
``NB = λ·QALYs − cost``. From those:

- **CEAC**: the probability that each strategy has the highest net benefit, over λ (ties share the draw).
- **CEAF** (the cost-effectiveness acceptability frontier; Fenwick, Claxton & Sculpher 2001, *Health Econ*
  10:779): at each λ the strategy with the highest *expected* net benefit — the one to choose now — and
  its probability of being best.
- **Expected loss** of each strategy: ``E[max_s NB_s] − E[NB_strategy]``, the net benefit forgone by choosing
  it rather than what perfect information would choose (Alarid-Escudero et al. 2019, *PharmacoEconomics*
  37:1329); the frontier strategy's expected loss is the EVPI.
- **EVPI** per person: ``E[max_s NB_s] − max_s E[NB_s]`` (currency per person); for a population, times
  the number of people the decision affects.
- The **incremental table** on the mean costs and QALYs (`sim.economics.incremental.incremental_analysis`:
  ND / ED / D, increments and ICERs against the previous frontier strategy), with percentile intervals of
  costs, QALYs and of the increments computed draw by draw.

EVPPI is in `sim.uncertainty.evppi`; `evppi_table` here applies it over groups and λ.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.economics.incremental import incremental_analysis, net_monetary_benefit
from sim.uncertainty.evppi import evppi

INTERVAL = 0.95
"""Coverage of the percentile intervals of the incremental table."""
GRID_STEPS = 50
"""Steps of the default willingness-to-pay grid (``GRID_STEPS + 1`` values from 0)."""
FALLBACK_WTP_MAX = 100_000.0
"""Top of the default grid when no frontier ICER sets it (currency per QALY)."""


@dataclass(frozen=True)
class PSA:
    """The draws of a probabilistic sensitivity analysis, strategies in columns.

    Attributes
    ----------
    strategies : tuple of str
        Strategy names, in order of first appearance in the PSA table.
    draws : numpy.ndarray
        Draw identifiers (``n``), ascending.
    cost : numpy.ndarray
        ``n × S`` mean cost per draw and strategy (currency).
    qalys : numpy.ndarray
        ``n × S`` mean QALYs per draw and strategy.
    parameters : pandas.DataFrame
        One row per draw (in the order of ``draws``), one column per parameter (their own units); may have
        no columns.
    """

    strategies: tuple[str, ...]
    draws: np.ndarray
    cost: np.ndarray
    qalys: np.ndarray
    parameters: pd.DataFrame

    @classmethod
    def from_tables(cls, psa: pd.DataFrame, parameters: pd.DataFrame | None = None) -> PSA:
        """The PSA of a long table ``draw, strategy, cost, qalys`` (and the parameters ``draw, ...``).

        The tables are assumed checked (`sim.uncertainty.psa_folder` checks files): every draw has every
        strategy once and, when given, exactly one row of parameters.
        """
        strategies = tuple(str(name) for name in dict.fromkeys(psa["strategy"]))
        wide = psa.pivot(index="draw", columns="strategy", values=["cost", "qalys"]).sort_index()
        draws = wide.index.to_numpy()
        table = parameters.set_index("draw").loc[draws] if parameters is not None else pd.DataFrame(index=draws)
        return cls(strategies=strategies, draws=draws,
                   cost=wide["cost"][list(strategies)].to_numpy(dtype=float),
                   qalys=wide["qalys"][list(strategies)].to_numpy(dtype=float),
                   parameters=table.reset_index(drop=True))

    def net_benefit(self, wtp: float) -> np.ndarray:
        """``n × S`` net monetary benefit ``wtp·QALYs − cost`` (currency) at ``wtp`` (currency per QALY)."""
        return net_monetary_benefit(self.cost, self.qalys, wtp)


def _best_shares(net_benefit: np.ndarray) -> np.ndarray:
    """Per draw, each strategy's share of being best (1 for the sole maximum; ties share equally)."""
    best = net_benefit == net_benefit.max(axis=1, keepdims=True)
    return best / best.sum(axis=1, keepdims=True)


def acceptability(psa: PSA, wtps: Sequence[float]) -> pd.DataFrame:
    """CEAC, CEAF and expected loss over willingness-to-pay values.

    Parameters
    ----------
    psa : PSA
    wtps : sequence of float
        Willingness-to-pay values (currency per QALY), >= 0.

    Returns
    -------
    pandas.DataFrame
        One row per λ and strategy: ``wtp`` (currency per QALY), ``strategy``, ``probability_best`` (share of
        draws in which it has the highest net benefit), ``on_frontier`` (it has the highest expected net
        benefit: the CEAF; one strategy per λ, the first in the PSA's order on a tie), ``expected_nmb`` and
        ``expected_loss`` (currency per person).
    """
    rows = []
    for wtp in wtps:
        nb = psa.net_benefit(wtp)
        expected = nb.mean(axis=0)
        loss = (nb.max(axis=1, keepdims=True) - nb).mean(axis=0)  # each term >= 0: no negative rounding
        chosen = int(np.argmax(expected))
        shares = _best_shares(nb).mean(axis=0)
        for index, strategy in enumerate(psa.strategies):
            rows.append((float(wtp), strategy, float(shares[index]), index == chosen,
                         float(expected[index]), float(loss[index])))
    return pd.DataFrame(rows, columns=["wtp", "strategy", "probability_best", "on_frontier", "expected_nmb", "expected_loss"])


def expected_value_of_perfect_information(psa: PSA, wtp: float) -> float:
    """EVPI per person, ``E[max_s NB_s] − max_s E[NB_s]`` (currency), at ``wtp`` (currency per QALY)."""
    nb = psa.net_benefit(wtp)
    chosen = int(np.argmax(nb.mean(axis=0)))
    return float(np.mean(nb.max(axis=1) - nb[:, chosen]))  # each term >= 0: no negative rounding


def evpi_table(psa: PSA, wtps: Sequence[float], population: float | None = None) -> pd.DataFrame:
    """EVPI per person and for a population over willingness-to-pay values.

    Parameters
    ----------
    psa : PSA
    wtps : sequence of float
        Willingness-to-pay values (currency per QALY).
    population : float, optional
        People the decision affects (already totalled, or discounted, over the decision's lifetime).

    Returns
    -------
    pandas.DataFrame
        ``wtp`` (currency per QALY), ``evpi`` (currency per person), ``evpi_population`` (currency; ``NaN``
        without a population).
    """
    values = [expected_value_of_perfect_information(psa, wtp) for wtp in wtps]
    scale = math.nan if population is None else float(population)
    return pd.DataFrame({"wtp": [float(w) for w in wtps], "evpi": values, "evpi_population": [v * scale for v in values]})


def _interval(values: np.ndarray) -> tuple[float, float]:
    """The central `INTERVAL` percentile interval of ``values`` (``NaN`` if none)."""
    if values.size == 0:
        return math.nan, math.nan
    tail = 50.0 * (1.0 - INTERVAL)
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def incremental_table(psa: PSA, wtps: Sequence[float] = ()) -> pd.DataFrame:
    """The incremental analysis on the PSA's mean costs and QALYs, with percentile intervals.

    Parameters
    ----------
    psa : PSA
    wtps : sequence of float
        Willingness-to-pay values for ``nmb_<wtp>`` columns (currency per QALY).

    Returns
    -------
    pandas.DataFrame
        The columns of DESIGN.md's ``icers.csv`` — ``strategy, cost, qalys, inc_cost, inc_qalys, icer, status``
        and ``nmb_<wtp>`` — then ``cost_lower, cost_upper, qalys_lower, qalys_upper, inc_cost_lower,
        inc_cost_upper, inc_qalys_lower, inc_qalys_upper``: central `INTERVAL` percentile intervals over the
        draws (currency; QALYs), the increments taken draw by draw against the same previous frontier
        strategy as the means (``NaN`` where there is no increment).
    """
    table = incremental_analysis(psa.strategies, psa.cost.mean(axis=0), psa.qalys.mean(axis=0), wtps)
    table = table.rename(columns={"effect": "qalys", "inc_effect": "inc_qalys"})
    column = {name: index for index, name in enumerate(psa.strategies)}
    previous: dict[str, str] = {}
    frontier = table.loc[table["status"] == "ND", "strategy"].tolist()
    for before, after in zip(frontier, frontier[1:]):
        previous[after] = before
    intervals: dict[str, list[float]] = {name: [] for name in (
        "cost_lower", "cost_upper", "qalys_lower", "qalys_upper",
        "inc_cost_lower", "inc_cost_upper", "inc_qalys_lower", "inc_qalys_upper")}
    for strategy in table["strategy"]:
        j = column[strategy]
        pairs = [("cost", psa.cost[:, j]), ("qalys", psa.qalys[:, j])]
        i = column.get(previous.get(strategy, ""), None)
        empty = np.array([])
        pairs += [("inc_cost", psa.cost[:, j] - psa.cost[:, i] if i is not None else empty),
                  ("inc_qalys", psa.qalys[:, j] - psa.qalys[:, i] if i is not None else empty)]
        for name, values in pairs:
            low, high = _interval(values)
            intervals[f"{name}_lower"].append(low)
            intervals[f"{name}_upper"].append(high)
    return pd.concat([table.reset_index(drop=True), pd.DataFrame(intervals)], axis=1)


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least ``value`` (> 0)."""
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1.0, 2.0, 2.5, 5.0, 10.0) if step * power >= value * (1 - 1e-12))


def frontier_icers(psa: PSA) -> list[float]:
    """The ICERs along the efficient frontier of the mean costs and QALYs (currency per QALY), ascending."""
    table = incremental_analysis(psa.strategies, psa.cost.mean(axis=0), psa.qalys.mean(axis=0))
    return [float(value) for value in table["icer"] if math.isfinite(value) and value > 0]


def default_wtp_grid(psa: PSA, steps: int = GRID_STEPS) -> np.ndarray:
    """``steps + 1`` evenly spaced willingness-to-pay values from 0 (currency per QALY).

    The top is twice the largest ICER on the frontier of the means, rounded up to 1, 2, 2.5 or 5 times a
    power of ten, so every switch of the optimal strategy is inside; `FALLBACK_WTP_MAX` when the frontier
    has no positive ICER (one strategy dominates).
    """
    icers = frontier_icers(psa)
    top = _nice_ceiling(2.0 * max(icers)) if icers else FALLBACK_WTP_MAX
    return np.linspace(0.0, top, steps + 1)


def default_evppi_wtps(psa: PSA) -> list[float]:
    """Willingness-to-pay values for EVPPI when none is given: the frontier's ICERs (where the optimal
    strategy changes and the value of information peaks), rounded to two significant figures; the middle of
    the default grid when the frontier has none."""
    icers = frontier_icers(psa)
    if not icers:
        return [float(default_wtp_grid(psa)[GRID_STEPS // 2])]
    rounded = [float(f"{value:.2g}") for value in icers]
    return list(dict.fromkeys(rounded))


def evppi_table(psa: PSA, groups: Sequence[Sequence[str]], wtps: Sequence[float], population: float | None = None,
                seed: int = 0) -> pd.DataFrame:
    """EVPPI of each group of parameters at each willingness to pay.

    Parameters
    ----------
    psa : PSA
    groups : sequence of sequence of str
        Groups of columns of ``psa.parameters``.
    wtps : sequence of float
        Willingness-to-pay values (currency per QALY).
    population : float, optional
        People the decision affects, for ``evppi_population``.
    seed : int
        Seeds each regression's subsamples and replicates (the same for every group and λ).

    Returns
    -------
    pandas.DataFrame
        One row per group and λ: ``parameters`` (names joined by ``,``), ``wtp`` (currency per QALY),
        ``evppi`` and ``se`` (currency per person), ``evppi_population`` (currency; ``NaN`` without a
        population), ``method`` and ``fit_warning`` (empty when the regression's checks pass).
    """
    rows = []
    scale = math.nan if population is None else float(population)
    for wtp in wtps:
        nb = psa.net_benefit(wtp)
        evpi = expected_value_of_perfect_information(psa, wtp)
        for group in groups:
            names = list(group)
            result = evppi(nb, psa.parameters[names].to_numpy(dtype=float), names, wtp, evpi=evpi, seed=seed)
            rows.append((",".join(names), float(wtp), result.evppi, result.se, result.evppi * scale, result.method,
                         result.fit_warning))
    return pd.DataFrame(rows, columns=["parameters", "wtp", "evppi", "se", "evppi_population", "method", "fit_warning"])



@dataclass(frozen=True)
class DecisionAnalysis:
    """The decision analysis of a PSA: the tables behind ``cd7sim cea``'s files and figures.

    Attributes
    ----------
    psa : PSA
    wtps : list of float
        Willingness-to-pay values of the EVPPI and of the ``nmb_<wtp>`` columns (currency per QALY).
    population : float or None
        People the decision affects.
    icers : pandas.DataFrame
        `incremental_table`.
    ceac : pandas.DataFrame
        `acceptability` over the default grid and ``wtps``.
    evpi : pandas.DataFrame
        `evpi_table` over the same values.
    evppi : pandas.DataFrame
        `evppi_table` of the groups at ``wtps``.
    """

    psa: PSA
    wtps: list[float]
    population: float | None
    icers: pd.DataFrame
    ceac: pd.DataFrame
    evpi: pd.DataFrame
    evppi: pd.DataFrame


def analyse(psa: PSA, wtps: Sequence[float] | None = None, groups: Sequence[Sequence[str]] | None = None,
            population: float | None = None, seed: int = 0) -> DecisionAnalysis:
    """Every table of the decision analysis of ``psa``.

    Parameters
    ----------
    psa : PSA
    wtps : sequence of float, optional
        Willingness-to-pay values for EVPPI (currency per QALY); default `default_evppi_wtps`.
    groups : sequence of sequence of str, optional
        EVPPI parameter groups; default each parameter alone.
    population : float, optional
        People the decision affects, for the population EVPI and EVPPI.
    seed : int
        Seeds the EVPPI regressions.
    """
    chosen = list(wtps) if wtps is not None else default_evppi_wtps(psa)
    grid = sorted(set(default_wtp_grid(psa).tolist()) | set(chosen))
    groups = [(str(name),) for name in psa.parameters.columns] if groups is None else groups
    return DecisionAnalysis(psa=psa, wtps=chosen, population=population, icers=incremental_table(psa, chosen),
                            ceac=acceptability(psa, grid), evpi=evpi_table(psa, grid, population),
                            evppi=evppi_table(psa, groups, chosen, population, seed))
