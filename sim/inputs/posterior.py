"""The calibrated posterior: joint parameter draws with a stamp of the inputs they came from.

``cd7sim calibrate`` writes ``posterior.parquet``: one row per posterior draw, one column per calibrated
parameter, plus the bookkeeping columns :data:`POSTERIOR_BOOKKEEPING` and the calibration's own
hyperparameter :data:`ICC_COLUMN` (the between-study intra-class correlation of
:mod:`sim.calibration.heterogeneity`; not a model parameter, so never applied to a run). The file's parquet key-value
metadata holds a *stamp* under :data:`STAMP_KEY` (JSON): the sha256 of the bytes of the
``parameters.yaml`` and ``targets.csv`` the calibration used, and the cd7sim version. A posterior whose
stamp does not match the current files is *stale*; one without a stamp has unknown provenance. Loading
either for ``parameter_source: posterior`` warns (:class:`StalePosteriorWarning`).

:meth:`Posterior.sample` gives probabilistic-analysis parameter sets: whole posterior draws (the
calibrated parameters keep their joint distribution, correlations included) completed by prior draws
for the uncertain parameters the posterior does not hold.

Re-stamping (when a change to ``parameters.yaml`` or ``targets.csv`` cannot affect the calibration, e.g.
an edited description) rewrites only the stamp, never the draws::

    python -m sim.inputs.posterior [POSTERIOR] [--parameters FILE] [--targets FILE]
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sim import __version__
from sim.inputs.errors import InputError, unreadable
from sim.inputs.parameters import (
    DEFAULT_PARAMETERS_PATH,
    DEFAULT_POSTERIOR_PATH,
    FixedDist,
    Parameter,
    ParameterSet,
    allowed_values,
    load_parameters,
    within_unit,
)
from sim.inputs.paths import ROOT, TARGETS_PATH
from sim.inputs.validation import key_list

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow

POSTERIOR_BOOKKEEPING = ("draw", "source_draw", "log_likelihood")
"""Columns of a posterior file that are not parameters: the draw's number, the row of the calibration's
draws it was resampled from, and that draw's log-likelihood."""
ICC_COLUMN = "between_study_icc"
"""Column of a posterior file holding each draw's between-study intra-class correlation (0-1), a
hyperparameter of the calibration's likelihood (optional: posteriors before it have none)."""
HYPERPARAMETERS = (ICC_COLUMN,)
"""Columns of a posterior file that are the calibration's hyperparameters, not model parameters (each a
probability)."""
STAMP_KEY = b"cd7sim.stamp"
"""Key of the stamp in the parquet file's key-value (schema) metadata."""
RECALIBRATE = "re-run `cd7sim calibrate --write-committed`"
RESTAMP = "python -m sim.io.restamp"
_WARNED: set[tuple[str, str]] = set()
"""(posterior file, reason) already warned about in this process (see :meth:`Posterior.warn_if_stale`)."""


class StalePosteriorWarning(UserWarning):
    """A posterior made from other ``parameters.yaml`` or ``targets.csv`` files than the current ones,
    or of unknown provenance (no stamp)."""


def file_sha256(path: str | Path, what: str) -> str:
    """Hex sha256 of the bytes of a file.

    Raises
    ------
    InputError
        When the file cannot be read.
    """
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as error:
        raise InputError(f"{what} file", str(path), f"a readable file is required ({unreadable(error, 'not readable')})") from None


@dataclass(frozen=True)
class Stamp:
    """Provenance of a posterior: what it was calibrated from.

    Attributes
    ----------
    parameters_sha256 : str
        Hex sha256 of the bytes of the ``parameters.yaml`` used (priors and fixed values).
    targets_sha256 : str
        Hex sha256 of the bytes of the ``targets.csv`` used.
    cd7sim_version : str
        Version of cd7sim that wrote it (informative; not part of staleness).
    """

    parameters_sha256: str
    targets_sha256: str
    cd7sim_version: str

    @classmethod
    def of(cls, parameters_path: str | Path = DEFAULT_PARAMETERS_PATH,
           targets_path: str | Path = TARGETS_PATH) -> Stamp:
        """The stamp of the files as they are now, with this cd7sim's version."""
        return cls(file_sha256(parameters_path, "parameters"), file_sha256(targets_path, "targets"), __version__)

    def to_json(self) -> str:
        """The stamp as stored in the parquet metadata (compact JSON object)."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes, field: str = "posterior stamp") -> Stamp:
        """Read a stored stamp.

        Raises
        ------
        InputError
            When ``text`` is not a JSON object of the three text fields.
        """
        names = list(cls.__dataclass_fields__)
        try:
            raw = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            raw = None
        if not (isinstance(raw, dict) and sorted(raw) == sorted(names) and all(isinstance(v, str) for v in raw.values())):
            shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
            raise InputError(field, shown, f"a JSON object of the texts {', '.join(names)} is required")
        return cls(**raw)


class Posterior:
    """Posterior draws of the calibrated parameters, with their provenance stamp.

    Parameters
    ----------
    draws : pandas.DataFrame
        One row per draw; one column per calibrated parameter (in the parameter's own unit:
        probability, days, years, per_year ...), optionally the bookkeeping columns
        :data:`POSTERIOR_BOOKKEEPING`.
    stamp : Stamp, optional
        What the draws were calibrated from; None for unknown provenance.
    registry : mapping of str to Parameter, optional
        The parameter definitions (default, when needed: the packaged ``parameters.yaml``).
    source : Path, optional
        The file the draws were read from, for messages.
    """

    def __init__(self, draws: pd.DataFrame, stamp: Stamp | None = None,
                 registry: Mapping[str, Parameter] | None = None, source: Path | None = None) -> None:
        self._draws = draws
        self.stamp = stamp
        self._registry = dict(registry) if registry is not None else None
        self.source = source

    def __len__(self) -> int:
        return len(self._draws)

    def __repr__(self) -> str:
        where = f" from {self.source}" if self.source is not None else ""
        return f"Posterior({len(self)} draws of {len(self.names)} parameters{where}, stamp={self.stamp})"

    @property
    def draws(self) -> pd.DataFrame:
        """Every column as read or given, bookkeeping included."""
        return self._draws

    @property
    def names(self) -> list[str]:
        """The parameters the posterior holds (columns other than bookkeeping and hyperparameters), in file order."""
        return [c for c in self._draws.columns if c not in POSTERIOR_BOOKKEEPING and c not in HYPERPARAMETERS]

    @property
    def values(self) -> np.ndarray:
        """The draws as a 2-D float array: rows are draws, columns follow :attr:`names`."""
        return self._draws[self.names].to_numpy(dtype=float)

    @property
    def registry(self) -> Mapping[str, Parameter]:
        """The parameter definitions (the packaged ones when none were given)."""
        if self._registry is None:
            self._registry = dict(load_parameters().registry)
        return self._registry

    # -- reading and writing ------------------------------------------------------------------------

    @classmethod
    def read(cls, path: str | Path = DEFAULT_POSTERIOR_PATH, registry: Mapping[str, Parameter] | None = None) -> Posterior:
        """Read and check a posterior file (``cd7sim calibrate``'s ``posterior.parquet``) and its stamp.

        Parameters
        ----------
        path : str or Path
            Parquet file: one row per draw, one column per calibrated parameter, and optionally the
            bookkeeping columns :data:`POSTERIOR_BOOKKEEPING` and hyperparameters :data:`HYPERPARAMETERS`.
        registry : mapping of str to Parameter, optional
            The parameters the columns must name (default: the packaged ``parameters.yaml``).

        Returns
        -------
        Posterior
            The draws as read; ``stamp`` None when the file has none.

        Raises
        ------
        InputError
            When the file is missing or not readable parquet, has no rows or no parameter column, names
            a column that is neither a parameter nor bookkeeping, holds a value that is not a finite
            number inside its parameter's unit (a probability of 7, a ``NaN``), or has a stamp that is
            not one.
        """
        import pyarrow
        import pyarrow.parquet as pq

        path = Path(path)
        registry = registry if registry is not None else load_parameters().registry
        if not path.is_file():
            raise InputError("posterior file", str(path), "an existing file is required: run `cd7sim calibrate` first")
        try:
            table = pq.read_table(path)
            frame = table.to_pandas()
        except (OSError, ValueError, pyarrow.ArrowException) as error:
            raise InputError("posterior file", str(path),
                             f"a parquet file of posterior draws is required ({unreadable(error, 'not parquet')})") from None
        if frame.empty:
            raise InputError("posterior file", str(path), "at least one draw (row) is required")
        known = [*POSTERIOR_BOOKKEEPING, *HYPERPARAMETERS, *registry]
        for column in frame.columns:
            if column not in known:
                raise InputError(f"{path.name}:{column}", column,
                                 f"a column must be a parameter, bookkeeping or a hyperparameter; allowed: {key_list(known)}")
            _check_column(frame[column], f"{path.name}:{column}", registry.get(column), column in HYPERPARAMETERS)
        if not any(column in registry for column in frame.columns):
            raise InputError("posterior file", str(path), "at least one parameter column is required")
        return cls(frame, _stamp_of(table, path), registry, path)

    def write(self, path: str | Path) -> None:
        """Write the draws to a parquet file, with the stamp in its key-value metadata.

        Parameters
        ----------
        path : str or Path
            Destination (written in place; callers wanting atomicity give a temporary path).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(self._draws, preserve_index=False)
        pq.write_table(_with_stamp(table, self.stamp), path)

    # -- provenance ---------------------------------------------------------------------------------

    def staleness(self, parameters_path: str | Path = DEFAULT_PARAMETERS_PATH,
                  targets_path: str | Path = TARGETS_PATH) -> str | None:
        """Why the posterior may not belong to the given input files, in one sentence; None when its stamp
        matches them.

        Parameters
        ----------
        parameters_path, targets_path : str or Path
            The current ``parameters.yaml`` and ``targets.csv`` (default: the packaged ones).
        """
        name = _shown(self.source) if self.source is not None else "the posterior"
        if self.stamp is None:
            return (f"{name} has no provenance stamp, so the parameters.yaml and targets.csv it was calibrated from "
                    f"are unknown and it may be stale; {RECALIBRATE} to calibrate and stamp it")
        now = Stamp.of(parameters_path, targets_path)
        changed = [Path(p).name for p, old, new in ((parameters_path, self.stamp.parameters_sha256, now.parameters_sha256),
                                                    (targets_path, self.stamp.targets_sha256, now.targets_sha256))
                   if old != new]
        if not changed:
            return None
        return (f"{name} is stale: it was calibrated from a different {' and '.join(changed)} than the current "
                f"{'ones' if len(changed) > 1 else 'one'}; {RECALIBRATE} (or, if the change cannot affect the "
                f"calibration, re-stamp it with `{RESTAMP}`)")

    def is_stale(self, parameters_path: str | Path = DEFAULT_PARAMETERS_PATH,
                 targets_path: str | Path = TARGETS_PATH) -> bool:
        """Whether the stamp does not match the given files (a posterior without a stamp is stale)."""
        return self.staleness(parameters_path, targets_path) is not None

    def warn_if_stale(self, parameters_path: str | Path = DEFAULT_PARAMETERS_PATH,
                      targets_path: str | Path = TARGETS_PATH, stacklevel: int = 1, once: bool = False) -> None:
        """Emit a :class:`StalePosteriorWarning` when :meth:`staleness` finds a reason.

        Parameters
        ----------
        parameters_path, targets_path : str or Path
            The current input files (default: the packaged ones).
        stacklevel : int
            As for :func:`warnings.warn`, seen from the caller: 1 names the line calling this method,
            2 that line's caller.
        once : bool
            Warn only the first time in this process for the same file and reason (a scenario is
            loaded and then run; Python's own once-per-place filter is reset whenever any code
            changes the warning filters).
        """
        reason = self.staleness(parameters_path, targets_path)
        if reason is None:
            return
        key = (str(Path(self.source).resolve()) if self.source is not None else "", reason)
        if once and key in _WARNED:
            return
        _WARNED.add(key)
        warnings.warn(reason, StalePosteriorWarning, stacklevel=stacklevel + 1)

    # -- use ----------------------------------------------------------------------------------------

    def mean(self) -> dict[str, float]:
        """Posterior mean of every parameter column, in the parameter's unit."""
        return {name: float(self._draws[name].mean()) for name in self.names}

    def sample(self, k: int, rng: np.random.Generator, base: ParameterSet | None = None) -> list[ParameterSet]:
        """Draw ``k`` probabilistic-analysis parameter sets.

        Each set takes one whole posterior draw (a row chosen uniformly, with replacement), so the
        calibrated parameters keep their joint distribution and correlations; every other uncertain
        parameter is drawn from its prior (``distribution.draw``), in registry order; fixed parameters
        keep their value in ``base``. Set ``i`` uses the generator after set ``i - 1``, so the same
        generator state gives the same sets, and the first ``j`` sets of ``sample(k)`` are ``sample(j)``.

        Parameters
        ----------
        k : int
            Number of sets (non-negative).
        rng : numpy.random.Generator
            Source of randomness.
        base : ParameterSet, optional
            Registry and fixed values (default: the point values of :attr:`registry`).

        Returns
        -------
        list of ParameterSet

        Raises
        ------
        ValueError
            When ``k`` is negative or the posterior holds a parameter ``base`` does not know.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        base = base if base is not None else ParameterSet(self.registry)
        registry = base.registry
        unknown = [name for name in self.names if name not in registry]
        if unknown:
            raise ValueError(f"posterior parameters missing from the registry: {', '.join(unknown)}")
        joint = [name for name in self.names if not isinstance(registry[name].distribution, FixedDist)]
        priors = [(name, p.distribution) for name, p in registry.items()
                  if name not in self.names and not isinstance(p.distribution, FixedDist)]
        rows = self._draws[joint].to_numpy(dtype=float)
        sets = []
        for _ in range(k):
            drawn = dict(zip(joint, rows[rng.integers(len(rows))].tolist()))
            drawn.update({name: distribution.draw(rng) for name, distribution in priors})
            sets.append(base.with_values(drawn))
        return sets


def with_posterior_means(params: ParameterSet, path: str | Path = DEFAULT_POSTERIOR_PATH) -> ParameterSet:
    """A copy of ``params`` whose calibrated parameters take their posterior means (``cd7sim calibrate``'s output).

    Warns (once per file and reason in a process) with :class:`StalePosteriorWarning` when the posterior's
    stamp does not match the packaged ``parameters.yaml`` and ``targets.csv``, or when it has no stamp.

    Raises
    ------
    InputError
        When the posterior file is not a valid posterior (see :meth:`Posterior.read`).
    """
    posterior = Posterior.read(path, params.registry)
    posterior.warn_if_stale(stacklevel=2, once=True)
    return params.with_overrides(posterior.mean(), field=Path(path).name)


def restamped(path: str | Path = DEFAULT_POSTERIOR_PATH, parameters_path: str | Path = DEFAULT_PARAMETERS_PATH,
              targets_path: str | Path = TARGETS_PATH) -> tuple[pyarrow.Table, Stamp]:
    """A posterior file's table with its stamp replaced by one for the given input files, draws untouched
    (:func:`sim.io.restamp.restamp` writes it back).

    The file is first checked against ``parameters_path`` (see :meth:`Posterior.read`).

    Returns
    -------
    (pyarrow.Table, Stamp)
        The table to write, and the stamp in its metadata.
    """
    import pyarrow.parquet as pq

    Posterior.read(path, load_parameters(parameters_path).registry)
    stamp = Stamp.of(parameters_path, targets_path)
    return _with_stamp(pq.read_table(path), stamp), stamp


def _with_stamp(table: pyarrow.Table, stamp: Stamp | None) -> pyarrow.Table:
    """``table`` with its metadata's stamp replaced by ``stamp`` (removed for None)."""
    metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k != STAMP_KEY}
    if stamp is not None:
        metadata[STAMP_KEY] = stamp.to_json().encode("utf-8")
    return table.replace_schema_metadata(metadata)


def _stamp_of(table: pyarrow.Table, path: Path) -> Stamp | None:
    raw = (table.schema.metadata or {}).get(STAMP_KEY)
    return None if raw is None else Stamp.from_json(raw, f"{path.name}:{STAMP_KEY.decode()}")


def _check_column(column: pd.Series, field: str, parameter: Parameter | None, hyperparameter: bool = False) -> None:
    """Refuse a posterior column that is not numeric, or a value that is not finite or outside the
    parameter's unit (a hyperparameter: a probability; bookkeeping columns, ``parameter`` None, need finite
    numbers only)."""
    import pandas as pd

    if not (pd.api.types.is_float_dtype(column) or pd.api.types.is_integer_dtype(column)):
        raise InputError(field, column.iloc[0], "numbers are required")
    values = column.to_numpy(dtype=float)
    unit = parameter.unit if parameter is not None else "probability" if hyperparameter else None
    allowed = np.isfinite(values) if unit is None else within_unit(unit, values)
    if not np.all(allowed):
        row = int(np.flatnonzero(~allowed)[0])
        what = "a finite number is required" if unit is None else allowed_values(unit)
        raise InputError(f"{field} row {row + 1}", values[row], what)


def _shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (``calibration/posterior.parquet``)."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
