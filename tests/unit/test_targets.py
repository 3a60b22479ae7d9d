"""Calibration targets and study replays (sim.calibration.studies)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from sim.calibration.studies import (
    METRICS,
    Target,
    expected_probability,
    load_studies,
    load_targets,
    study_estimate,
)
from sim.inputs.codes import CHIMERISM, RESPONSES
from sim.inputs.errors import InputError

EVIDENCE = Path(__file__).resolve().parents[3] / "shared" / "EVIDENCE.md"
REQUIRED = ("HU-CR HU-MRD HU-CRS HU-HSCT HU-EARLYDEATH HU-CHIMERISM HU-AGVHD HU-CGVHD HU-OS1Y HU-DFS1Y CAO-CRS "
            "CAO-ICANS CAO-MRD CAO-OS2Y CAO-LFS2Y CAO-NRM2Y CAO-CIR2Y AML-CR AML-MRD AML-CRS AML-ICANS XIAO-ORR "
            "XIAO-MOS XIAO-MPFS XIAO-HSCT XIAO-OS6M XIAO-PFS6M XIAO-CRS XIAO-ICANS").split()


def test_every_required_target_is_present_and_every_study_loads():
    targets = load_targets()
    assert set(REQUIRED) <= {t.evidence_id for t in targets}
    assert {"os", "lfs", "nrm", "cir"} <= {t.metric for t in targets if t.study == "cao2024_chemo"}
    studies = load_studies(sorted({t.study for t in targets}))
    for name, scenario in studies.items():
        assert scenario.study.size == max(t.n for t in targets if t.study == name)


@pytest.mark.skipif(not EVIDENCE.exists(), reason="shared/EVIDENCE.md is not beside the checkout")
def test_every_target_cites_an_existing_evidence_id():
    known = set(re.findall(r"^\| ([A-Z0-9]+(?:-[A-Z0-9]+)+) \|", EVIDENCE.read_text(), flags=re.M))
    assert {t.evidence_id for t in load_targets()} <= known


def test_effective_counts_by_likelihood():
    count = Target(study="s", metric="cr", value=0.7, n=10, events=7, origin="infusion", evidence_id="X", likelihood="binomial")
    assert count.effective_counts() == (7.0, 10.0)
    km = Target(study="s", metric="os", value=0.68, n=10, time_days=365.25, origin="infusion", evidence_id="X", likelihood="km")
    assert km.effective_counts() == pytest.approx((6.8, 10.0))
    # with a CI: n_eff = p(1-p)/se^2, se = (0.781-0.441)/(2*1.959964) = 0.086736
    with_ci = Target(study="s", metric="os", value=0.619, lower=0.441, upper=0.781, n=34, time_days=730.5,
                     origin="hsct", evidence_id="X", likelihood="km")
    events, trials = with_ci.effective_counts()
    assert trials == pytest.approx(0.619 * 0.381 / 0.086736**2, rel=1e-4)
    assert events == pytest.approx(0.619 * trials)
    median = Target(study="s", metric="median_os", value=134, n=12, time_days=134, origin="infusion", evidence_id="X",
                    likelihood="median")
    assert median.effective_counts() == (6.0, 12.0) and median.modelled_value == 0.5


def test_bad_target_rows_are_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("study,metric,value,n,origin,evidence_id,likelihood\ns,no_such_metric,0.5,10,infusion,X,binomial\n")
    with pytest.raises(InputError, match=r"t\.csv line 2: metric: got 'no_such_metric'"):
        load_targets(path)
    path.write_text("study,metric,value,n,origin,evidence_id,likelihood\ns,cr,0.5,0,infusion,X,binomial\n")
    with pytest.raises(InputError, match=r"t\.csv line 2: n: got 0"):
        load_targets(path)


def columns(**overrides):
    """Four reported patients, infused at day 10, with hand-set courses (three in CR)."""
    nan = math.nan
    cr_mrd_neg, cr_mrd_pos, no_response = (RESPONSES.index(label) for label in ("cr_mrd_neg", "cr_mrd_pos", "no_response"))
    base = {
        "selected": np.array([True, True, True, True]),
        "infused": np.array([True, True, True, True]), "infusion_day": np.full(4, 10.0),
        "response": np.array([cr_mrd_neg, cr_mrd_neg, cr_mrd_pos, no_response]),
        "response_day": np.full(4, 38.0), "crs_grade": np.array([0, 1, 2, 3]), "icans_grade": np.zeros(4, int),
        "hsct": np.array([True, True, False, False]), "hsct_day": np.array([40.0, 50.0, nan, nan]),
        "relapse_day": np.array([nan, 150.0, 90.0, nan]), "death_day": np.array([nan, 250.0, 190.0, 100.0]),
        "death": np.array([False, True, True, True]), "last_day": np.array([800.0, 250.0, 190.0, 100.0]),
        "agvhd_grade": np.array([2, 0, 0, 0]), "cgvhd": np.zeros(4, bool),
        "chimerism": np.array([CHIMERISM.index(label) for label in ("full_donor", "autologous_recovery", "none", "none")]),
    }
    return {**base, **overrides}


def target(metric, time_days=None, origin="infusion"):
    return Target(study="s", metric=metric, value=0.5, n=4, events=2, time_days=time_days, origin=origin,
                  evidence_id="X", likelihood="binomial")


def test_expected_probabilities_by_hand():
    c = columns()
    assert expected_probability(c, target("cr")) == 0.75
    assert expected_probability(c, target("crs_mild")) == 0.5
    assert expected_probability(c, target("hsct_among_cr")) == pytest.approx(2 / 3)
    assert expected_probability(c, target("autologous_recovery")) == 0.5
    # OS at 200 days from infusion (day 210): deaths at 100 and 190 -> 2 of 4 dead
    assert expected_probability(c, target("os", 200.0)) == 0.5
    # PFS at 100 days (day 110): non-response at 38, relapse at 90 -> 2 events
    assert expected_probability(c, target("pfs", 100.0)) == 0.5
    # from HSCT, 2 transplanted: relapse at 150 (100 after HSCT) counts for CIR at 120 days, not NRM
    assert expected_probability(c, target("cir", 120.0, "hsct")) == 0.5
    assert expected_probability(c, target("nrm", 120.0, "hsct")) == 0.0
    # a median: probability of death by day 200 after infusion
    assert expected_probability(c, target("median_os", 200.0)) == 0.5
    assert set(METRICS) >= {"cr", "os", "nrm", "median_pfs"}


def test_study_estimate_censors_at_the_end_of_follow_up():
    c = columns()
    end = np.full(4, 150.0)  # follow-up ends on day 150: the deaths at 190 and 250 are not seen
    # KM from infusion: death at 90 days (1 of 4 at risk); the others are censored at 140 days
    assert study_estimate(c, end, target("os", 120.0), size=4) == pytest.approx(0.75)
    assert np.isnan(study_estimate(c, end, target("os", 200.0), size=4))  # beyond the last follow-up
    assert study_estimate(c, np.full(4, 1000.0), target("os", 200.0), size=4) == 0.5
    assert study_estimate(c, end, target("cr"), size=2) == 1.0  # only the first two reported patients
