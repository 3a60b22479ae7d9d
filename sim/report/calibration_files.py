"""The files ``cd7sim calibrate`` writes, as functions the caller points at a path (the command decides
where they go: ``results/calibration`` or, asked explicitly, the committed ``calibration/``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sim.calibration.calibrate import (
    FIT_FIGURE,
    FIT_FILE,
    IDENTIFIABILITY_FILE,
    POSTERIOR_FILE,
    Calibration,
)
from sim.inputs.posterior import Stamp
from sim.report.plots import plot_fit, save_png


def calibration_writers(calibration: Calibration, stamp: Stamp | None = None) -> dict[str, Callable[[Path], None]]:
    """What ``cd7sim calibrate`` writes: file name → function writing that file to a given path
    (the posterior, stamped with the parameters.yaml and targets.csv it came from, the fit table, the
    identifiability table and the fit figure).

    Parameters
    ----------
    calibration : Calibration
    stamp : Stamp, optional
        The inputs' fingerprint taken when the calibration read them (default: taken now).
    """
    fit = calibration.fit_frame()
    return {
        POSTERIOR_FILE: lambda path: calibration.posterior(stamp).write(path),
        FIT_FILE: lambda path: fit.to_csv(path, index=False, float_format="%.6g"),
        IDENTIFIABILITY_FILE: lambda path: calibration.identifiability_frame().to_csv(path, index=False, float_format="%.6g"),
        FIT_FIGURE: lambda path: save_png(plot_fit(fit), path),
    }
