"""Patient attributes drawn from a scenario's case mix (DESIGN.md section 3)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from sim.disease.draws import PatientDraws, categorical, truncated_normal
from sim.inputs.codes import CART_SOURCES, DISEASES
from sim.inputs.scenario import CaseMix, TruncatedNormal, Uniform

AML = DISEASES.index("AML")
AUTOLOGOUS = CART_SOURCES.index("autologous")
DONOR_DERIVED = CART_SOURCES.index("donor_derived")
UNIVERSAL = CART_SOURCES.index("universal")


@dataclass(frozen=True)
class PatientAttributes:
    """Attributes of ``n`` patients (arrays of length ``n``).

    Attributes
    ----------
    disease : ndarray of int8
        Index into ``sim.inputs.codes.DISEASES``.
    age : ndarray of float
        Age at enrolment, years.
    primary_refractory : ndarray of bool
    prior_hsct : ndarray of bool
    marrow_blasts : ndarray of float
        Marrow blast percentage before treatment.
    cart_source : ndarray of int8
        Index into ``sim.inputs.codes.CART_SOURCES`` (as drawn from the case mix).
    donor_available : ndarray of bool
    """

    disease: np.ndarray
    age: np.ndarray
    primary_refractory: np.ndarray
    prior_hsct: np.ndarray
    marrow_blasts: np.ndarray
    cart_source: np.ndarray
    donor_available: np.ndarray

    @property
    def n(self) -> int:
        return int(self.age.shape[0])

    def block(self, part: slice) -> PatientAttributes:
        """The attributes of the patients in ``part`` (views, not copies)."""
        return PatientAttributes(**{f.name: getattr(self, f.name)[part] for f in fields(self)})


def _continuous(u: np.ndarray, spec: TruncatedNormal | Uniform) -> np.ndarray:
    if isinstance(spec, Uniform):
        return spec.low + u * (spec.high - spec.low)
    return truncated_normal(u, spec.mean, spec.sd, spec.low, spec.high)


def build_cohort(case_mix: CaseMix, draws: PatientDraws) -> PatientAttributes:
    """Draw every patient's attributes from the case mix, by inverse CDF of their own draws.

    Parameters
    ----------
    case_mix : CaseMix
        The scenario's case mix.
    draws : PatientDraws
        The replication's per-patient draws.
    """
    return PatientAttributes(
        disease=categorical(draws["u_disease"], np.array([case_mix.disease[d] for d in DISEASES])).astype(np.int8),
        age=_continuous(draws["u_age"], case_mix.age),
        primary_refractory=draws["u_status"] < case_mix.primary_refractory,
        prior_hsct=draws["u_prior_hsct"] < case_mix.prior_hsct,
        marrow_blasts=_continuous(draws["u_blasts"], case_mix.marrow_blasts),
        cart_source=categorical(draws["u_cart_source"], np.array([case_mix.cart_source[s] for s in CART_SOURCES])).astype(np.int8),
        donor_available=draws["u_donor"] < case_mix.donor_available,
    )
