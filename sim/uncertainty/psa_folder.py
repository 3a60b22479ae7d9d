"""Reading a PSA folder (DESIGN.md section 7), from cd7sim or any other model, with one-line errors.

The folder holds ``psa.parquet`` — one row per draw and strategy: ``draw`` (a whole number), ``strategy``
(a name), ``cost`` (currency) and ``qalys``, finite, then any other outcome columns (ignored here) — and
``parameters.parquet`` — one row per draw: ``draw``, then one numeric column per parameter, whatever the
names. Every draw has every strategy exactly once and exactly one row of parameters. Anything else stops
with an `InputError` naming the file, the column, the row (draw and strategy) and the value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sim.inputs.errors import MISSING, InputError
from sim.uncertainty.decision import PSA

PSA_FILE = "psa.parquet"
PARAMETERS_FILE = "parameters.parquet"
PSA_COLUMNS: tuple[str, ...] = ("draw", "strategy", "cost", "qalys")
"""The columns ``psa.parquet`` must have (others may follow)."""
MIN_DRAWS = 10
"""Fewest draws a decision analysis is run on."""
GROUP_SEPARATOR = ","
"""Separates the parameters of an EVPPI group on the command line and in ``evppi.csv``."""


def _read(path: Path) -> pd.DataFrame:
    """A Parquet file as a table, or an `InputError` naming it."""
    if not path.is_file():
        raise InputError(str(path), MISSING, "a Parquet table is required (a PSA folder holds psa.parquet and parameters.parquet)")
    try:
        return pd.read_parquet(path)
    except Exception as error:  # noqa: BLE001 - any reader failure is the file's fault, reported in one line
        raise InputError(str(path), "an unreadable file", f"a Parquet table is required ({type(error).__name__})") from None


def _row(table: pd.DataFrame, position: int, with_strategy: bool = True) -> str:
    """``draw D, strategy 'S'`` of a row, for messages."""
    draw = table["draw"].iloc[position]
    where = f"draw {draw!r}" if not isinstance(draw, (int, np.integer, float, np.floating)) else f"draw {draw:g}"
    return f"{where}, strategy {str(table['strategy'].iloc[position])!r}" if with_strategy else where


def _check_draws(table: pd.DataFrame, path: Path) -> np.ndarray:
    """The ``draw`` column as whole numbers (int64)."""
    draws = table["draw"]
    if not (pd.api.types.is_numeric_dtype(draws) and not pd.api.types.is_bool_dtype(draws)):
        bad = next(value for value in draws if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool))
        raise InputError(f"{path}, column 'draw'", bad, "a whole number per row is required")
    values = draws.to_numpy(dtype=float)
    wrong = ~np.isfinite(values) | (values != np.round(values))
    if wrong.any():
        raise InputError(f"{path}, column 'draw'", float(values[np.flatnonzero(wrong)[0]]), "a whole number per row is required")
    return values.astype(np.int64)


def _check_numbers(table: pd.DataFrame, column: str, path: Path, where) -> None:
    """Every value of ``column`` a finite number (``where(position)`` names a row)."""
    values = table[column]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        position = next(i for i, value in enumerate(values)
                        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)))
        raise InputError(f"{path}, column {column!r}, {where(position)}", values.iloc[position], "a finite number is required")
    numbers = values.to_numpy(dtype=float)
    bad = ~np.isfinite(numbers)
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise InputError(f"{path}, column {column!r}, {where(position)}", float(numbers[position]), "a finite number is required")


def check_psa_table(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """``psa.parquet``'s table, checked; returns ``draw, strategy, cost, qalys`` (draw as int64, strategy as str).

    Raises
    ------
    InputError
        A required column missing; a draw that is not a whole number; a strategy that is not a non-empty
        text; a cost or QALYs that is not a finite number; a draw and strategy twice; a draw without every
        strategy; fewer than 2 strategies or `MIN_DRAWS` draws.
    """
    missing = [column for column in PSA_COLUMNS if column not in table.columns]
    if missing:
        raise InputError(str(path), [str(c) for c in table.columns],
                         f"the columns draw, strategy, cost and qalys are required (missing: {', '.join(missing)})")
    draws = _check_draws(table, path)
    for position, name in enumerate(table["strategy"]):
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"{path}, column 'strategy', {_row(table, position, False)}", name, "a strategy name (text) is required")
    for column in ("cost", "qalys"):
        _check_numbers(table, column, path, lambda position: _row(table, position))
    checked = pd.DataFrame({"draw": draws, "strategy": table["strategy"].astype(str).to_numpy(),
                            "cost": table["cost"].to_numpy(dtype=float), "qalys": table["qalys"].to_numpy(dtype=float)})
    repeated = checked.duplicated(["draw", "strategy"])
    if repeated.any():
        position = int(np.flatnonzero(repeated.to_numpy())[0])
        raise InputError(f"{path}, {_row(checked, position)}", "a second row", "one row per draw and strategy is required")
    strategies = list(dict.fromkeys(checked["strategy"]))
    if len(strategies) < 2:
        raise InputError(f"{path}, column 'strategy'", strategies, "at least 2 strategies are required")
    counts = checked.groupby("draw", sort=True)["strategy"].nunique()
    short = counts[counts < len(strategies)]
    if not short.empty:
        draw = int(short.index[0])
        present = set(checked.loc[checked["draw"] == draw, "strategy"])
        absent = [name for name in strategies if name not in present]
        raise InputError(f"{path}, draw {draw}", sorted(present),
                         f"a row for every strategy is required (missing: {', '.join(map(repr, absent))})")
    if counts.size < MIN_DRAWS:
        raise InputError(f"{path}, column 'draw'", f"{counts.size} draws", f"at least {MIN_DRAWS} draws are required")
    return checked


def check_parameters_table(table: pd.DataFrame, path: Path, draws: Iterable[int]) -> pd.DataFrame:
    """``parameters.parquet``'s table, checked against the PSA's draws; returns ``draw`` (int64) and the parameters.

    Raises
    ------
    InputError
        No ``draw`` column; a draw that is not a whole number, repeated, absent from the PSA or missing; a
        parameter name that is not text or holds a comma; a value that is not a finite number.
    """
    if "draw" not in table.columns:
        raise InputError(str(path), [str(c) for c in table.columns], "a column 'draw' and one column per parameter are required")
    values = _check_draws(table, path)
    expected = set(int(d) for d in draws)
    seen: set[int] = set()
    for draw in values.tolist():
        if draw in seen:
            raise InputError(f"{path}, column 'draw'", draw, "each draw once is required")
        if draw not in expected:
            raise InputError(f"{path}, column 'draw'", draw, f"a draw of {PSA_FILE} is required")
        seen.add(draw)
    if seen != expected:
        raise InputError(f"{path}, column 'draw'", f"no row for draw {min(expected - seen)}", "one row per draw of psa.parquet is required")
    for column in table.columns:
        if column == "draw":
            continue
        if not isinstance(column, str) or not column.strip() or GROUP_SEPARATOR in column:
            raise InputError(f"{path}, column name", column, "a parameter name (text without commas) is required")
        _check_numbers(table, column, path, lambda position: f"draw {values[position]}")
    checked = table.copy()
    checked["draw"] = values
    return checked


def read_psa_folder(folder: str | Path) -> PSA:
    """The PSA of a PSA folder, every file checked.

    Parameters
    ----------
    folder : str or Path
        Holds ``psa.parquet`` and ``parameters.parquet``.

    Raises
    ------
    InputError
        The folder or a file missing or unreadable, or a table that breaks the contract (see
        `check_psa_table` and `check_parameters_table`).
    """
    path = Path(folder)
    if not path.is_dir():
        raise InputError("DIR", str(folder), f"a PSA folder holding {PSA_FILE} and {PARAMETERS_FILE} is required")
    psa = check_psa_table(_read(path / PSA_FILE), path / PSA_FILE)
    parameters = check_parameters_table(_read(path / PARAMETERS_FILE), path / PARAMETERS_FILE, psa["draw"].unique())
    return PSA.from_tables(psa, parameters)


def check_groups(groups: Sequence[Sequence[str]] | None, psa: PSA) -> list[tuple[str, ...]]:
    """EVPPI groups, each name a parameter of the PSA; by default each parameter alone.

    Raises
    ------
    InputError
        A name that is not a column of ``parameters.parquet``, or a name twice in one group.
    """
    known = [str(name) for name in psa.parameters.columns]
    if groups is None:
        return [(name,) for name in known]
    checked = []
    for group in groups:
        for name in group:
            if name not in known:
                shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
                raise InputError("--evppi", name, f"a parameter of {PARAMETERS_FILE} is required ({shown or 'it has none'})")
        if len(set(group)) != len(group):
            raise InputError("--evppi", GROUP_SEPARATOR.join(group), "each parameter once per group is required")
        checked.append(tuple(group))
    return checked

