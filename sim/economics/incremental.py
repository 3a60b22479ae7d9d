"""Incremental cost-effectiveness analysis of mutually exclusive strategies from their mean costs and effects.

The algorithm is the standard one (Drummond et al., *Methods for the Economic Evaluation of Health Care
Programmes*; dampack's ``calculate_icers``; hesim's ``icer``):

1. Sort the strategies by cost (ties: higher effect first, then by name, so the order of the input never
   matters).
2. **Dominated** (``D``): a strategy is dominated if another costs no more and gains at least as much,
   which is, in that order, if an earlier strategy has an effect at least as large. This covers strict
   dominance (costs more, gains less), weak dominance (costs more, gains the same; or costs the same, gains
   less) and identical strategies: of strategies with the same cost and effect, the one whose name sorts
   first stays and the others are ``D``.
3. **Extendedly dominated** (``ED``): along the remaining strategies, in order of cost, the ICER of each
   step must increase; a strategy whose ICER is at least that of the next step lies on or above the line
   joining its neighbours, so a mix of them gains as much for no more cost, and it is removed (repeatedly,
   until the ICERs strictly increase). A strategy exactly on that line is ``ED`` too (dampack keeps it as
   ``ND``), so the ICERs along the frontier strictly increase. What is left is the efficient frontier
   (``ND``), the lower-right convex hull of the cost-effectiveness plane.
4. Increments and the ICER of each frontier strategy are against the previous frontier strategy; the
   cheapest frontier strategy and the dominated strategies have none (``NaN``).

Net monetary benefit at a willingness to pay λ (currency per unit of effect, e.g. per QALY) is
``λ·effect − cost``; the strategy with the highest is always on the frontier, and a frontier strategy is the
best exactly for λ between its own ICER and the next one's.

Costs are in one currency, effects in one unit (QALYs, life-years); both are means over patients (and
replications), computed elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

COLUMNS: tuple[str, ...] = ("strategy", "cost", "effect", "inc_cost", "inc_effect", "icer", "status")
"""Columns of `incremental_analysis`'s table, before one ``nmb_<wtp>`` column per willingness to pay."""


def nmb_column(wtp: float) -> str:
    """Name of the net monetary benefit column at willingness to pay ``wtp``: ``nmb_20000``, ``nmb_2500.5``."""
    return f"nmb_{int(wtp)}" if float(wtp).is_integer() else f"nmb_{wtp!r}"


def _validated(
    strategies: Sequence[str], costs: npt.ArrayLike, effects: npt.ArrayLike,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Strategy names (distinct strings) with their costs and effects as finite 1-d floats of the same length."""
    names = list(strategies)
    if not names:
        raise ValueError("strategies: got none; at least one strategy is required")
    for name in names:
        if not isinstance(name, str):
            raise ValueError(f"strategies: got {name!r}; a strategy name (str) is required")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"strategies: got {', '.join(map(repr, duplicates))} more than once; distinct names are required")
    arrays = []
    for label, values in (("cost", costs), ("effect", effects)):
        array = np.asarray(values, dtype=float)
        if array.shape != (len(names),):
            raise ValueError(f"{label}s: got shape {array.shape}; one value per strategy ({len(names)}) is required")
        for name, value in zip(names, array.tolist()):
            if not math.isfinite(value):
                raise ValueError(f"{label} of strategy {name!r}: got {value!r}; a finite number is required")
        arrays.append(array)
    return names, arrays[0], arrays[1]


def _validated_wtp(wtp: float) -> float:
    """A willingness to pay as a finite, non-negative float."""
    value = float(wtp)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"willingness to pay: got {wtp!r}; a finite number >= 0 (currency per unit of effect) is required")
    return value


def _frontier(costs: np.ndarray, effects: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Statuses of strategies already sorted by cost (then effect descending), and the positions of the frontier.

    Parameters
    ----------
    costs, effects : numpy.ndarray
        Sorted by ascending cost, ties by descending effect (and a fixed order beyond).

    Returns
    -------
    status : numpy.ndarray
        ``"ND"``, ``"ED"`` or ``"D"`` per strategy.
    frontier : numpy.ndarray
        Positions of the ``ND`` strategies, ascending (cost and effect strictly increase along them).
    """
    n = costs.size
    status = np.full(n, "D", dtype=object)
    best_before = np.concatenate(([-np.inf], np.maximum.accumulate(effects)[:-1]))
    candidates = np.flatnonzero(effects > best_before)
    # Lower convex hull by a stack: the top is extendedly dominated while its ICER from the one below it
    # is at least the ICER from it to the next candidate (it lies on or above the line joining them).
    hull: list[int] = []
    for j in candidates:
        while len(hull) >= 2:
            i, k = hull[-2], hull[-1]
            if (costs[k] - costs[i]) / (effects[k] - effects[i]) < (costs[j] - costs[k]) / (effects[j] - effects[k]):
                break
            status[hull.pop()] = "ED"
        hull.append(int(j))
    frontier = np.asarray(hull, dtype=int)
    status[frontier] = "ND"
    return status, frontier


def incremental_analysis(
    strategies: Sequence[str], costs: npt.ArrayLike, effects: npt.ArrayLike, wtp: Sequence[float] = (),
) -> pd.DataFrame:
    """Dominance, extended dominance, increments, ICERs and net monetary benefits of strategies.

    Parameters
    ----------
    strategies : sequence of str
        Distinct strategy names.
    costs : array_like
        Mean cost of each strategy (currency), finite.
    effects : array_like
        Mean effect of each strategy (QALYs or another unit of benefit), finite; may be negative.
    wtp : sequence of float, optional
        Willingness-to-pay values λ (currency per unit of effect, e.g. per QALY), finite, >= 0 and distinct;
        each adds a column ``nmb_<λ>`` (see `nmb_column`).

    Returns
    -------
    pandas.DataFrame
        One row per strategy, sorted by cost (ties: higher effect first, then by name), with columns
        ``strategy``, ``cost`` (currency), ``effect`` (unit of effect), ``inc_cost`` (currency) and
        ``inc_effect`` (unit of effect) against the previous frontier strategy, ``icer`` (currency per
        unit of effect) = ``inc_cost / inc_effect``, ``status`` (``ND`` on the frontier, ``ED`` extendedly
        dominated, ``D`` dominated) and ``nmb_<λ>`` = ``λ·effect − cost`` (currency) per willingness to pay.
        Increments and ICERs are ``NaN`` for the cheapest frontier strategy and for ``ED`` and ``D`` rows.

    Raises
    ------
    ValueError
        No strategies, a name repeated or not a string, lengths that differ, a cost or effect that is
        ``NaN`` or infinite (naming the strategy and the value), or a willingness to pay that is negative,
        not finite or repeated.
    """
    names, cost, effect = _validated(strategies, costs, effects)
    lambdas = [_validated_wtp(value) for value in wtp]
    columns = [nmb_column(value) for value in lambdas]
    if len(set(columns)) != len(columns):
        raise ValueError(f"willingness to pay: got {list(wtp)!r}; distinct values are required")
    order = sorted(range(len(names)), key=lambda i: (cost[i], -effect[i], names[i]))
    cost, effect = cost[order], effect[order]
    status, frontier = _frontier(cost, effect)
    inc_cost = np.full(cost.size, np.nan)
    inc_effect = np.full(cost.size, np.nan)
    inc_cost[frontier[1:]] = np.diff(cost[frontier])
    inc_effect[frontier[1:]] = np.diff(effect[frontier])
    values = ([names[i] for i in order], cost, effect, inc_cost, inc_effect, inc_cost / inc_effect, status)
    table = pd.DataFrame(dict(zip(COLUMNS, values)))
    for value, column in zip(lambdas, columns):
        table[column] = net_monetary_benefit(cost, effect, value)
    return table


def net_monetary_benefit(costs: npt.ArrayLike, effects: npt.ArrayLike, wtp: float) -> np.ndarray:
    """Net monetary benefit ``wtp·effect − cost`` (currency).

    Parameters
    ----------
    costs : array_like
        Costs (currency).
    effects : array_like
        Effects (QALYs or another unit of benefit), the same shape as ``costs``.
    wtp : float
        Willingness to pay (currency per unit of effect), finite and >= 0.
    """
    return _validated_wtp(wtp) * np.asarray(effects, dtype=float) - np.asarray(costs, dtype=float)


def optimal_strategy(strategies: Sequence[str], costs: npt.ArrayLike, effects: npt.ArrayLike, wtp: float) -> str:
    """The strategy with the highest net monetary benefit at willingness to pay ``wtp``.

    Parameters
    ----------
    strategies, costs, effects
        As for `incremental_analysis`.
    wtp : float
        Willingness to pay (currency per unit of effect, e.g. per QALY), finite and >= 0.

    Returns
    -------
    str
        A frontier (``ND``) strategy with the highest net monetary benefit; of frontier strategies with
        equal benefit, the cheapest. The maximum over all strategies is always reached on the frontier,
        so a dominated strategy is never returned, even when rounding puts it level with the best.
    """
    table = incremental_analysis(strategies, costs, effects)
    frontier = table[table["status"] == "ND"]
    benefit = net_monetary_benefit(frontier["cost"], frontier["effect"], wtp)
    return str(frontier["strategy"].iloc[int(np.argmax(benefit))])
