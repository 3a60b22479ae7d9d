"""Hospital care that CAR-T toxicity needs: the CAR-T bed stay and intensive care.

These rules decide how long a patient holds a bed and whether (and when) the patient needs an
ICU bed. They change no clinical outcome on their own; they matter when beds are scarce, where
the engine makes patients wait for them (DESIGN.md section 5).
"""

from __future__ import annotations

import numpy as np

from sim.disease.draws import exponential_time

SEVERE_GRADE = 3
"""CRS or ICANS grade from which a patient needs intensive care (assumption, SVC-ICU: 87.9% of
ICU admissions after CAR-T were for CRS or ICANS)."""


def cart_stay_days(crs_grade: np.ndarray, icans_grade: np.ndarray, base_days: float, extra_days_per_grade: float) -> np.ndarray:
    """Days a CAR-T bed is held from infusion.

    Parameters
    ----------
    crs_grade, icans_grade : ndarray of int
        Grades 0-5.
    base_days : float
        Stay with grade 0-1 toxicity (days).
    extra_days_per_grade : float
        Extra days per grade of the worse of CRS and ICANS above grade 1.

    Returns
    -------
    ndarray
        Days (before any cut short by death, which the engine applies).
    """
    worst = np.maximum(crs_grade, icans_grade).astype(float)
    return base_days + extra_days_per_grade * np.maximum(worst - 1.0, 0.0)


def icu_wait_death_days(u: np.ndarray, hazard_per_day: float) -> np.ndarray:
    """Latent days from asking for an ICU bed to death if still waiting (assumption: constant hazard).

    Parameters
    ----------
    u : ndarray
        Uniform draws.
    hazard_per_day : float
        Extra hazard of death per day of waiting; 0 means waiting is harmless.

    Returns
    -------
    ndarray
        Days (``inf`` when the hazard is 0).
    """
    if hazard_per_day <= 0.0:
        return np.full(np.shape(u), np.inf)
    return exponential_time(u, np.log(2.0) / hazard_per_day)
