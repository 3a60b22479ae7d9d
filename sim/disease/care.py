"""Hospital care that CAR-T toxicity needs: the CAR-T bed stay and intensive care.

These rules decide how long a patient holds a bed and whether (and when) the patient needs an
ICU bed. They change no clinical outcome on their own; they matter when beds are scarce, where
the engine makes patients wait for them (DESIGN.md section 5).
"""

from __future__ import annotations

import math

from numba import vectorize

from sim.disease.draws import exponential_time

SEVERE_GRADE = 3
"""CRS or ICANS grade from which a patient needs intensive care (assumption, SVC-ICU: 87.9% of
ICU admissions after CAR-T were for CRS or ICANS)."""


@vectorize(cache=True)
def cart_stay_days(crs_grade: int, icans_grade: int, base_days: float, extra_days_per_grade: float) -> float:
    """Days a CAR-T bed is held from infusion (a compiled ufunc).

    Parameters
    ----------
    crs_grade, icans_grade : int
        Grades 0-5.
    base_days : float
        Stay with grade 0-1 toxicity (days).
    extra_days_per_grade : float
        Extra days per grade of the worse of CRS and ICANS above grade 1.

    Returns
    -------
    float
        Days (before any cut short by death, which the engine applies).
    """
    worst = float(max(crs_grade, icans_grade))
    return base_days + extra_days_per_grade * max(worst - 1.0, 0.0)


@vectorize(cache=True)
def icu_wait_death_days(u: float, hazard_per_day: float) -> float:
    """Latent days from asking for an ICU bed to death if still waiting (assumption: constant hazard; a
    compiled ufunc).

    Parameters
    ----------
    u : float
        Uniform draw ``u_icu_wait_death``.
    hazard_per_day : float
        Extra hazard of death per day of waiting; 0 means waiting is harmless.

    Returns
    -------
    float
        Days (``inf`` when the hazard is 0).
    """
    if hazard_per_day <= 0.0:
        return math.inf
    return exponential_time(u, math.log(2.0) / hazard_per_day)
