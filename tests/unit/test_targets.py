"""Calibration targets and study replays (sim.calibration.studies)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from sim.calibration.studies import (
    METRICS,
    STUDIES_DIR,
    Subgroup,
    Target,
    expected_probability,
    load_cohort,
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


# --- subgroups ---------------------------------------------------------------------------------------------

def test_subgroups_parse_and_select_by_attribute():
    c = {"age": np.array([3.0, 14.99, 15.0, 40.0]), "marrow_blasts": np.array([0.0, 20.0, 20.01, 87.0])}
    assert Subgroup.parse("age < 15").members(c).tolist() == [True, True, False, False]  # "age <= 14": under 15 years
    assert Subgroup.parse("marrow_blasts<=20").members(c).tolist() == [True, True, False, False]
    assert Subgroup.parse(" age >= 15 ").members(c).tolist() == [False, False, True, True]
    for bad in ("age < fifteen", "height < 2", "age == 15", "age < .inf", "age"):
        with pytest.raises(ValueError, match="ATTRIBUTE OP NUMBER"):
            Subgroup.parse(bad)


def test_a_subgroup_target_counts_only_its_patients():
    c = columns(age=np.array([10.0, 12.0, 30.0, 50.0]), marrow_blasts=np.array([10.0, 50.0, 20.0, 90.0]))
    children = Target(study="s", metric="cr", value=1.0, n=2, events=2, origin="infusion", evidence_id="X",
                      likelihood="binomial", subgroup="age < 15")
    assert expected_probability(c, children) == 1.0 and expected_probability(c, target("cr")) == 0.75
    low_blasts = target("pfs", 100.0).model_copy(update={"subgroup": "marrow_blasts <= 20"})
    # patients 1 (no event by day 110) and 3 (no response at day 38): PFS 1/2
    assert expected_probability(c, low_blasts) == 0.5
    assert study_estimate(c, np.full(4, 1000.0), low_blasts, size=4) == 0.5
    adults = Target(study="s", metric="cr", value=1.0, n=2, events=2, origin="infusion", evidence_id="X",
                    likelihood="binomial", subgroup="age >= 60")
    assert np.isnan(expected_probability(c, adults))


def test_the_new_cao_subgroup_targets_are_shipped():
    targets = {t.evidence_id + ":" + t.metric: t for t in load_targets() if t.subgroup}
    child_os, child_lfs = targets["CAO-CHILD:os"], targets["CAO-CHILD:lfs"]
    assert child_os.subgroup == child_lfs.subgroup == "age < 15"
    assert (child_os.value, child_os.n, child_os.time_days, child_os.origin) == (0.875, 8, 730.5, "hsct")
    blasts = targets["CAO-BLASTS:cir"]
    assert (blasts.value, blasts.n, blasts.time_days, blasts.subgroup) == (0.0, 7, 547.875, "marrow_blasts <= 20")
    assert "gap" in blasts.note and "gap" in child_os.note


def test_cao_blasts_n_is_the_expected_number_of_low_blast_patients_in_the_replay(params):
    """CAO-BLASTS's n (a gap) is 34 x the share of the replay's reported patients with blasts <= 20%."""
    from sim.calibration.studies import StudyCohort

    scenario = load_studies(["cao2024"])["cao2024"]
    cohort = StudyCohort.draw(scenario, patients=6000)
    reported = cohort.simulate(params)["selected"]
    share = np.mean(cohort.attributes.marrow_blasts[reported] <= 20.0)
    assert round(34 * share) == 7


# --- a researcher's own targets and studies ----------------------------------------------------------------

HEADER = "study,metric,value,lower,upper,n,events,time_days,origin,evidence_id,likelihood,note,subgroup"
ROW = "hu2024,cr,1.0,,,10,10,28,infusion,HU-CR,binomial,,"


def refused(tmp_path, text: str, studies: list[str] | None = None) -> str:
    path = tmp_path / "mine.csv"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_targets(path, studies)
    return str(caught.value)


@pytest.mark.parametrize("row,message", [
    ("hu2024,cr,nan,,,10,10,28,infusion,HU-CR,binomial,,", "mine.csv line 2: value: got .nan; a finite number is required"),
    ("hu2024,cr,1.0,,,10,inf,28,infusion,HU-CR,binomial,,", "mine.csv line 2: events: got .inf; a finite number is required"),
    ("hu2024,cr,1.0,,,ten,10,28,infusion,HU-CR,binomial,,", "mine.csv line 2: n: got 'ten'; a whole number is required"),
    ("hu2024,cr,.9,,,10,9.x,28,infusion,HU-CR,binomial,,", "mine.csv line 2: events: got '9.x'; a number is required"),
    ("hu2024,survival,1.0,,,10,10,28,infusion,HU-CR,binomial,,", "mine.csv line 2: metric: got 'survival'; one of cr, "),
    ("hu2024,cr,1.3,,,10,10,28,infusion,HU-CR,binomial,,", "mine.csv line 2: value: got 1.3; a proportion between 0 and 1"),
    ("hu2024,cr,1.0,,,10,12,28,infusion,HU-CR,binomial,,", "mine.csv line 2: events: got 12; between 0 and n (10)"),
    ("hu2024,cr,1.0,,,10,,28,infusion,HU-CR,binomial,,", "mine.csv line 2: events: got nothing;"),
    ("hu2024,os,0.5,,,10,,,infusion,HU-OS1Y,km,,", "mine.csv line 2: time_days: got nothing; days from infusion"),
    ("hu2024,os,0.5,,,10,,365,infusion,HU-OS1Y,binomial,,", "mine.csv line 2: likelihood: got 'binomial'; km for the metric os"),
    ("hu2024,os,0.5,0.3,,10,,365,infusion,HU-OS1Y,km,,", "mine.csv line 2: upper: got nothing; lower and upper both empty"),
    ("hu2024,os,0.5,0.6,0.7,10,,365,infusion,HU-OS1Y,km,,", "mine.csv line 2: lower: got 0.6; lower and upper both empty"),
    ("hu2024,cr,1.0,,,10,10,28,transplant,HU-CR,binomial,,", "mine.csv line 2: origin: got 'transplant'; infusion or hsct"),
    ("hu2024,cr,1.0,,,10,10,28,infusion,HU-CR,binomial,,age < fifteen",
     "mine.csv line 2: subgroup: got 'age < fifteen'; ATTRIBUTE OP NUMBER is required"),
])
def test_every_bad_target_value_is_one_line(tmp_path, row, message):
    assert refused(tmp_path, f"{HEADER}\n{row}\n").startswith(message)


def test_bad_target_files_are_refused(tmp_path):
    assert refused(tmp_path, f"{HEADER},colour\n{ROW},red\n").startswith("mine.csv: column: got 'colour'; one of study, metric")
    assert refused(tmp_path, HEADER.replace(",n,", ",size,") + f"\n{ROW}\n").startswith("mine.csv: column: got 'size';")
    assert refused(tmp_path, HEADER.replace("likelihood,", "") + "\nhu2024,cr,1.0,,,10,10,28,infusion,HU-CR,,\n").startswith(
        "mine.csv: column likelihood: got nothing; the columns study, metric, value, n, origin, evidence_id, likelihood are required")
    assert refused(tmp_path, f"{HEADER}\n").startswith("targets file: got '")
    assert refused(tmp_path, f"{HEADER}\n{ROW}\n{ROW}\n").startswith("mine.csv line 3: metric: got 'cr'; a target given once")
    assert refused(tmp_path, f"{HEADER}\n{ROW}\n", studies=["mine"]).startswith(
        "mine.csv line 2: study: got 'hu2024'; the name of a study file (NAME.yaml) is required: mine")
    with pytest.raises(InputError, match=r"^targets file: got '.*none\.csv'; an existing CSV file is required$"):
        load_targets(tmp_path / "none.csv")


def my_cohort(tmp_path, rows: list[str], study: str | None = None):
    folder = tmp_path / "studies"
    folder.mkdir(exist_ok=True)
    text = (STUDIES_DIR / "hu2024.yaml").read_text()
    (folder / "mine.yaml").write_text(study if study is not None else text.replace("name: hu2024", "name: mine"))
    targets = tmp_path / "mine.csv"
    targets.write_text("\n".join([HEADER, *rows]) + "\n")
    return folder, targets


def test_a_researchers_cohort_loads_and_is_checked(tmp_path):
    folder, path = my_cohort(tmp_path, [ROW.replace("hu2024", "mine"), "mine,hsct,0.9,,,10,9,30,infusion,MY-HSCT,binomial,,"])
    studies, targets = load_cohort(folder, path)
    assert list(studies) == ["mine"] and [t.metric for t in targets] == ["cr", "hsct"]
    folder, path = my_cohort(tmp_path, [ROW.replace("hu2024", "mine").replace(",10,10,", ",11,10,")])
    with pytest.raises(InputError, match=r"^mine\.csv line 2: n: got 11; at most the size of the study mine \(10 patients\)"):
        load_cohort(folder, path)
    with pytest.raises(InputError, match=r"^--studies: got '.*absent'; an existing folder of study scenario files"):
        load_cohort(tmp_path / "absent", path)
    text = (STUDIES_DIR / "hu2024.yaml").read_text()
    folder, path = my_cohort(tmp_path, [ROW.replace("hu2024", "mine")], text.replace("primary_refractory: 0.5", "primary_refractory: 1.5"))
    with pytest.raises(InputError, match=r"^mine\.yaml: case_mix\.primary_refractory: got 1\.5;"):
        load_cohort(folder, path)
    folder, path = my_cohort(tmp_path, [ROW.replace("hu2024", "mine")], text.replace("patients: 3000", "patients: 5"))
    with pytest.raises(InputError, match=r"^mine\.yaml: patients: got 5; a closed cohort of at least the study's size \(10\)"):
        load_cohort(folder, path)
