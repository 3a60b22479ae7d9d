"""Per-patient random draws: common random numbers by construction (DESIGN.md section 4).

Every patient owns a fixed set of named uniform draws. The draw called ``name`` for
patient ``i`` depends only on the run seed, the replication, ``name`` and ``i`` — never on the
strategy, the engine, the number of patients or the order of events — so the same patient
meets the same luck under every strategy and in both engines.

Each name has its own PCG64DXSM stream seeded by ``SeedSequence((seed, replication, crc32(name)))``;
patient ``i`` takes the ``i``-th number of that stream.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, Mapping

import numpy as np
from numba import njit, vectorize
from scipy.special import ndtr, ndtri

DRAW_NAMES: tuple[str, ...] = (
    # patient attributes
    "u_disease", "u_age", "u_status", "u_prior_hsct", "u_blasts", "u_cart_source", "u_donor",
    # before infusion
    "u_manufacturing_time", "u_manufacturing_failure", "u_dropout", "u_background",
    # CAR-T toxicity and response
    "u_crs_grade", "u_icans_grade", "u_infection", "u_infection_death", "u_infection_time",
    "u_response", "u_mrd",
    # transplant
    "u_hsct_fit", "u_hsct_uptake", "u_hsct_interval", "u_chimerism", "u_graft_failure_death",
    "u_cart_gvhd", "u_agvhd_grade", "u_cgvhd",
    # relapse and death
    "u_relapse_pre", "u_relapse_pre_time", "u_relapse_post", "u_relapse_post_time",
    "u_nrm", "u_nrm_time", "u_nrm_cause", "u_post_relapse", "u_refractory",
    # hospital care
    "u_icu_wait_death",
    # late non-relapse deaths: without transplant, and the late effects of transplant
    "u_late_nrm", "u_late_nrm_time", "u_late_effects",
    # salvage of a relapse after HSCT (strategies that offer it)
    "u_salvage",
)


def uniform_stream(seed: int, replication: int, name: str, n_patients: int) -> np.ndarray:
    """The draw ``name`` of the first ``n_patients`` patients: uniforms in (0, 1).

    Parameters
    ----------
    seed, replication : int
        Run seed and replication index.
    name : str
        Draw name (any string; ``DRAW_NAMES`` lists those of the pathway).
    n_patients : int
        Number of patients.
    """
    return _next_uniforms(_stream(seed, replication, name), n_patients)


def _stream(seed: int, replication: int, name: str) -> np.random.Generator:
    """The random stream of the draw ``name``: its ``i``-th number is patient ``i``'s."""
    return np.random.Generator(np.random.PCG64DXSM(np.random.SeedSequence([seed, replication, zlib.crc32(name.encode())])))


def _next_uniforms(stream: np.random.Generator, n_patients: int) -> np.ndarray:
    """The next ``n_patients`` numbers of ``stream``, in (0, 1). Each takes one 64-bit output, so
    consecutive calls give the same numbers as one call for all of them."""
    uniforms = stream.random(n_patients)
    # Generator.random is in [0, 1); exclude an exact 0 so inverse CDFs stay finite.
    return np.maximum(uniforms, np.nextafter(0.0, 1.0), out=uniforms)

WEIBULL_SHAPES_KEPT = 2
"""Shapes whose Weibull scores :meth:`PatientDraws.weibull` keeps per draw (one draw takes two shapes at most)."""


class PatientDraws(Mapping[str, np.ndarray]):
    """Named uniform draws in (0, 1) for ``n`` patients of one replication.

    Parameters
    ----------
    seed : int
        Run seed.
    replication : int
        Replication index (0-based).
    n_patients : int
        Number of patients.
    """

    def __init__(self, seed: int, replication: int, n_patients: int) -> None:
        self.seed = seed
        self.replication = replication
        self.n_patients = n_patients
        self._draws = {name: uniform_stream(seed, replication, name, n_patients) for name in DRAW_NAMES}
        self._scores: dict[str, np.ndarray] = {}
        self._weibull: dict[str, dict[float, np.ndarray]] = {}

    @classmethod
    def in_blocks(cls, seed: int, replication: int, n_patients: int, block_size: int) -> Iterator[tuple[slice, PatientDraws]]:
        """The draws of ``n_patients`` patients, drawn a block of ``block_size`` consecutive patients at a
        time (the same numbers as :class:`PatientDraws` of them all, without holding them all at once); one
        empty block when there are no patients.

        Yields
        ------
        part : slice
            The patients of the block.
        draws : PatientDraws
            Their draws.
        """
        streams = {name: _stream(seed, replication, name) for name in DRAW_NAMES}
        for start in range(0, max(n_patients, 1), block_size):
            size = min(block_size, n_patients - start)
            block = object.__new__(cls)
            block.seed, block.replication, block.n_patients = seed, replication, size
            block._draws = {name: _next_uniforms(stream, size) for name, stream in streams.items()}
            block._scores, block._weibull = {}, {}
            yield slice(start, start + size), block

    def __getitem__(self, name: str) -> np.ndarray:
        return self._draws[name]

    def block(self, part: slice) -> PatientDraws:
        """The draws of the patients in ``part`` (views, not copies)."""
        view = object.__new__(PatientDraws)
        view.seed, view.replication = self.seed, self.replication
        view._draws = {name: values[part] for name, values in self._draws.items()}
        view.n_patients = len(range(*part.indices(self.n_patients)))
        view._scores, view._weibull = {}, {}
        return view

    def normal(self, name: str) -> np.ndarray:
        """Standard-normal scores ``ndtri(u)`` of the draw ``name`` (computed once, then kept)."""
        if name not in self._scores:
            self._scores[name] = ndtri(self._draws[name])
        return self._scores[name]

    def exponential(self, name: str) -> np.ndarray:
        """Standard exponential scores ``-log1p(-u)`` of the draw ``name`` (computed once, then kept)."""
        key = f"{name} exponential"
        if key not in self._scores:
            self._scores[key] = exponential_score(self._draws[name])
        return self._scores[key]

    def rows(self, names: tuple[str, ...], scored: tuple[str, ...] = ()) -> np.ndarray:
        """The draws ``names`` of each patient side by side, then the :meth:`exponential_time_scores` of the draws
        ``scored``: one row a patient, one column a draw (computed once, then kept). A compiled pass that reads many
        draws of each patient reads them from one row instead of one array a draw: the memory reads of one stream,
        not of dozens."""
        key = f"rows {' '.join(names)} | {' '.join(scored)}"
        if key not in self._scores:
            columns = [self._draws[name] for name in names] + [self.exponential_time_scores(name) for name in scored]
            self._scores[key] = np.ascontiguousarray(np.column_stack(columns))
        return self._scores[key]

    def exponential_time_scores(self, name: str) -> np.ndarray:
        """:func:`exponential_time_scores` of the draw ``name`` (computed once, then kept): a rule that turns the same
        draw into exponential times with a new median for every parameter set scales them."""
        key = f"{name} exponential time"
        if key not in self._scores:
            self._scores[key] = exponential_time_scores(self._draws[name])
        return self._scores[key]

    def weibull(self, name: str, shape: float) -> np.ndarray:
        """Standard Weibull scores :func:`weibull_score` of the draw ``name`` for ``shape`` (computed once
        per shape, then kept: several rules turn one draw into times with different medians), from its
        exponential scores (:meth:`exponential`), which do not depend on the shape.

        The scores of the :data:`WEIBULL_SHAPES_KEPT` most recently used shapes of each draw are kept: a calibration
        gives every parameter set new shapes, and the scores of the old ones would pile up.
        """
        kept = self._weibull.setdefault(name, {})
        if shape in kept:
            kept[shape] = kept.pop(shape)  # the most recently used last
        else:
            if len(kept) >= WEIBULL_SHAPES_KEPT:
                del kept[next(iter(kept))]  # the least recently used
            kept[shape] = weibull_from_exponential(self.exponential(name), shape)
        return kept[shape]

    def __iter__(self):
        return iter(self._draws)

    def __len__(self) -> int:
        return len(self._draws)


def categorical(u: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Inverse CDF of a categorical distribution.

    Parameters
    ----------
    u : ndarray
        Uniform draws, shape ``(n,)``.
    probabilities : ndarray
        Category probabilities, shape ``(k,)`` shared by all, or ``(n, k)`` per patient;
        rows need not sum exactly to 1 (the last category takes the remainder).

    Returns
    -------
    ndarray of int
        Category index in ``0 .. k-1`` for each draw: the first category whose cumulative
        probability exceeds ``u``.
    """
    if probabilities.ndim == 1:
        index = np.zeros(u.shape, dtype=np.int64)
        for threshold in np.cumsum(probabilities)[:-1]:
            index += u >= threshold
        return index
    cumulative = np.cumsum(probabilities, axis=-1)
    return (u[:, None] >= cumulative[:, :-1]).sum(axis=1).astype(np.int64)


@njit(cache=True, error_model="numpy")
def category(u: float, probabilities: tuple[float, ...]) -> int:
    """The category of one draw: :func:`categorical` for one patient and probabilities shared by all.

    The cumulative probabilities are summed left to right in float64, as ``numpy.cumsum`` does, and the
    category is the number of them (all but the last) that ``u`` reaches: the same category as
    :func:`categorical`, to the bit.

    Parameters
    ----------
    u : float
        Uniform draw.
    probabilities : tuple of float
        Category probabilities (the last category takes the remainder).

    Returns
    -------
    int
        Category index in ``0 .. len(probabilities) - 1``.
    """
    index, cumulative = 0, 0.0
    for probability in probabilities[:-1]:
        cumulative += probability
        if u >= cumulative:
            index += 1
    return index


@vectorize(cache=True)
def exponential_time(u: float, median: float) -> float:
    """Exponential time with the given median, by inverse CDF (days in, days out; a compiled ufunc, for
    arrays or one patient)."""
    return -math.log1p(-u) * (median / math.log(2.0))


@njit(cache=True, error_model="numpy")
def exponential_time_scores(u: np.ndarray) -> np.ndarray:
    """``-log(1 - u)`` of each draw as :func:`exponential_time` computes it (the C library's ``log1p``, which differs
    from numpy's in the last bit): an exponential time is its score times ``median / log(2)``, to the bit
    (:meth:`PatientDraws.exponential_time_scores` keeps them)."""
    scores = np.empty(u.shape[0])
    for i in range(u.shape[0]):
        scores[i] = -math.log1p(-u[i])
    return scores


def exponential_score(u: np.ndarray) -> np.ndarray:
    """Standard exponential quantiles ``-log(1 - u)`` of uniform draws."""
    return -np.log1p(-u)


def weibull_score(u: np.ndarray, shape: float) -> np.ndarray:
    """Standard Weibull (scale 1) quantiles ``(-log(1 - u)) ** (1 / shape)`` of uniform draws."""
    return weibull_from_exponential(exponential_score(u), shape)


def weibull_from_exponential(e: np.ndarray, shape: float) -> np.ndarray:
    """Standard Weibull scores ``e ** (1 / shape)`` from standard exponential scores ``e`` (:func:`exponential_score`)."""
    return e ** (1.0 / shape)


def weibull_time(w: np.ndarray, median: float, shape: float) -> np.ndarray:
    """Weibull time with the given median and shape, by inverse CDF (days).

    ``w`` is the standard Weibull score of a uniform draw for this shape, :func:`weibull_score` (see
    :meth:`PatientDraws.weibull`), so this is the inverse CDF at ``u``.
    """
    return weibull_scale(median, shape) * w


@njit(cache=True, error_model="numpy")
def weibull_scale(median: float, shape: float) -> float:
    """Scale of the Weibull distribution with the given median and shape (days): the time of a
    standard Weibull score of 1 (:func:`weibull_time` is this times the score)."""
    return median / math.log(2.0) ** (1.0 / shape)


def lognormal_time(z: np.ndarray, median: float, sigma: float) -> np.ndarray:
    """LogNormal time with the given median and log-scale sd (days).

    ``z`` is the standard-normal score of a uniform draw, ``ndtri(u)`` (see
    :meth:`PatientDraws.normal`), so this is the inverse CDF at ``u``.
    """
    return median * np.exp(sigma * z)


def truncated_normal(u: np.ndarray, mean: float, sd: float, low: float, high: float) -> np.ndarray:
    """Normal(mean, sd) truncated to ``[low, high]``, by inverse CDF."""
    lower, upper = ndtr((low - mean) / sd), ndtr((high - mean) / sd)
    return np.clip(mean + sd * ndtri(lower + u * (upper - lower)), low, high)


def gompertz_time(e: np.ndarray, hazard_now: np.ndarray, slope: float) -> np.ndarray:
    """Time to death under a Gompertz hazard ``h(t) = hazard_now * exp(slope * t)``, by inverse CDF.

    Parameters
    ----------
    e : ndarray
        Standard exponential scores ``-log(1 - u)`` of uniform draws ``u`` (:func:`exponential_score`, kept by
        :meth:`PatientDraws.exponential`): the cumulative hazard at death.
    hazard_now : ndarray
        Hazard at time 0, per year.
    slope : float
        Gompertz slope, per year.

    Returns
    -------
    ndarray
        Time to death in years (``inf`` where the hazard is 0; a slope of 0 is a constant hazard).
    """
    hazard_now = np.asarray(hazard_now, dtype=float)
    with np.errstate(divide="ignore"):
        if slope == 0.0:
            return e / hazard_now
        return np.log1p(e * slope / hazard_now) / slope
