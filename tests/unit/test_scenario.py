"""Scenario schema: valid files load, every kind of bad input gets its one-line message."""

from __future__ import annotations

import pytest
import yaml

from sim.inputs.errors import InputError
from sim.inputs.scenario import load_scenario
from sim.inputs.strategies import BUILTIN_STRATEGIES
from tests.conftest import BASE_SCENARIO


def write(tmp_path, change):
    """Write the base scenario with ``change`` applied to its parsed YAML; return the path."""
    data = yaml.safe_load(BASE_SCENARIO.read_text())
    change(data)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_base_scenario_loads_with_the_four_strategies(base_scenario):
    assert [s.name for s in base_scenario.strategies] == list(BUILTIN_STRATEGIES)
    assert base_scenario.horizon_days == pytest.approx(5 * 365.25)
    assert base_scenario.capacity.manufacturing_slots is None


def test_a_scenario_can_define_its_own_strategy(tmp_path):
    def add(data):
        data["strategies"].append({"name": "allo_day90", "base": "cart_bridge_allo", "hsct_interval_days": 90})
        data["strategies"].append({"name": "dual_target", "base": "cart_alone", "cd7_negative_multiplier": 0.2})
        data["strategies"].append({"name": "cart_bridge_allo_full_uptake", "index_therapy": "cart",
                                   "hsct_platform": "conventional", "hsct_uptake": 1.0})
    scenario = load_scenario(write(tmp_path, add))
    custom = {s.name: s for s in scenario.strategies}
    assert custom["allo_day90"].hsct_interval_days == 90
    assert custom["allo_day90"].hsct_platform == "conventional"
    assert custom["dual_target"].cd7_negative_multiplier == 0.2
    assert custom["cart_bridge_allo_full_uptake"].hsct_uptake == 1.0


def test_overriding_a_builtin_by_name(tmp_path):
    scenario = load_scenario(write(tmp_path, lambda d: d.update(strategies=[{"name": "cart_bridge_allo", "hsct_uptake": 1.0}])))
    assert scenario.strategies[0].hsct_platform == "conventional"
    assert scenario.strategies[0].hsct_uptake == 1.0


def open_cohort(d, **arrivals):
    """Turn the base scenario into an open cohort of referrals."""
    d.pop("patients")
    d["arrivals"] = {"rate_per_year": 40, "warm_up_days": 365, "run_length_days": 730, **arrivals}


CAPACITY_INPUTS = [
    ("zero beds", lambda d: d["capacity"].update(cart_beds=0),
     r"^capacity\.cart_beds: got 0; Input should be greater than or equal to 1$"),
    ("negative ICU beds", lambda d: d["capacity"].update(icu_beds=-2),
     r"^capacity\.icu_beds: got -2; Input should be greater than or equal to 1$"),
    ("fractional slots", lambda d: d["capacity"].update(manufacturing_slots=2.5), r"^capacity\.manufacturing_slots: got 2\.5; "),
    ("negative donor search", lambda d: d["capacity"].update(donor_search_days=-1),
     r"^capacity\.donor_search_days: got -1; Input should be greater than or equal to 0$"),
    ("unknown resource", lambda d: d["capacity"].update(mri_scanners=2),
     (r"^capacity\.mri_scanners: got 2; this key is not allowed here; allowed: apheresis_slots_per_week, manufacturing_slots, "
      r"cart_beds, icu_beds, transplant_beds, donor_search_days$")),
    ("zero referral rate", lambda d: open_cohort(d, rate_per_year=0),
     r"^arrivals\.rate_per_year: got 0; Input should be greater than 0$"),
    ("negative referral rate", lambda d: open_cohort(d, rate_per_year=-40),
     r"^arrivals\.rate_per_year: got -40; Input should be greater than 0$"),
    ("negative warm-up", lambda d: open_cohort(d, warm_up_days=-1), r"^arrivals\.warm_up_days: got -1; "),
    ("profile of 11 months", lambda d: open_cohort(d, monthly_profile=[1] * 11), r"^arrivals\.monthly_profile: .*at least 12"),
    ("zero month in profile", lambda d: open_cohort(d, monthly_profile=[1] * 11 + [0]),
     r"^arrivals\.monthly_profile\.11: got 0; Input should be greater than 0$"),
    ("patients and arrivals", lambda d: d.update(arrivals={"rate_per_year": 40, "run_length_days": 365}),
     r"^arrivals: got .*; give exactly one of patients \(a closed cohort\) and arrivals"),
    ("neither patients nor arrivals", lambda d: d.pop("patients"), r"^patients: got nothing; give exactly one of"),
]


BAD_INPUTS = [
    ("unknown key", lambda d: d.update(colour="blue"),
     (r"^colour: got 'blue'; this key is not allowed here; allowed: name, description, seed, patients, arrivals, replications, "
      r"horizon_days, case_mix, \.\.\.$")),
    ("unknown nested key", lambda d: d["case_mix"].update(sex=0.6), r"^case_mix\.sex: .*not allowed"),
    ("probability above 1", lambda d: d["case_mix"].update(primary_refractory=1.3),
     r"^case_mix\.primary_refractory: got 1\.3; Input should be less than or equal to 1"),
    ("parameter probability above 1", lambda d: d["parameters"].update(crs_any=1.3),
     r"^parameters\.crs_any: got 1\.3; a probability must lie between 0 and 1$"),
    ("negative duration", lambda d: d.update(horizon_days=-5), r"^horizon_days: got -5; Input should be greater than or equal to 1$"),
    ("negative parameter duration", lambda d: d["parameters"].update(manufacturing_days=-3),
     r"^parameters\.manufacturing_days: got -3; a value in days must lie between 0 and 36525$"),
    ("unknown strategy", lambda d: d["strategies"].append("cart_twice"),
     r"^strategies\[4\]: got 'cart_twice'; a strategy must be one of cart_haplo_no_prophylaxis"),
    ("unknown strategy base", lambda d: d["strategies"].append({"name": "x", "base": "nope"}),
     r"^strategies\[4\]\.base: got 'nope'; base must be one of"),
    ("bad strategy field", lambda d: d["strategies"].append({"name": "x", "base": "cart_alone", "hsct_uptake": 2}),
     r"^strategies\[4\]\.hsct_uptake: got 2; Input should be less than or equal to 1$"),
    ("duplicate strategy", lambda d: d["strategies"].append("cart_alone"),
     r"^strategies\[4\]: got 'cart_alone'; strategy names must be unique, and strategies\[2\] is also 'cart_alone' "),
    ("shares not summing to 1", lambda d: d["case_mix"].update(disease={"AML": 0.5, "T-ALL": 0.4}),
     r"^case_mix\.disease: .*shares must sum to 1"),
    ("unknown disease", lambda d: d["case_mix"].update(disease={"AML": 0.5, "CLL": 0.5}),
     r"^case_mix\.disease: .*unknown category 'CLL'"),
    ("range upside down", lambda d: d["case_mix"].update(age={"distribution": "uniform", "low": 70, "high": 20}),
     r"^case_mix\.age: .*low \(70\) must be below high \(20\)$"),
    ("zero patients", lambda d: d.update(patients=0), r"^patients: got 0; Input should be greater than or equal to 1$"),
    ("zero capacity", lambda d: d["capacity"].update(manufacturing_slots=0), r"^capacity\.manufacturing_slots: got 0"),
    ("unknown parameter", lambda d: d["parameters"].update(crs_rate=0.5), r"^parameters\.crs_rate: got 'crs_rate'"),
    ("missing field", lambda d: d.pop("seed"), r"^seed: got nothing; this field is required$"),
    ("haplo without CAR-T", lambda d: d["strategies"].append(
        {"name": "x", "index_therapy": "chemo", "hsct_platform": "haplo_no_prophylaxis"}),
     r"^strategies\[4\]: .*needs index_therapy 'cart'"),
]


@pytest.mark.parametrize("label, change, message", BAD_INPUTS + CAPACITY_INPUTS, ids=[b[0] for b in BAD_INPUTS + CAPACITY_INPUTS])
def test_bad_input_names_field_value_and_what_is_allowed(tmp_path, label, change, message):
    with pytest.raises(InputError, match=message) as caught:
        load_scenario(write(tmp_path, change))
    assert "\n" not in str(caught.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(InputError, match=r"^scenario file: got '.*nope\.yaml'; a readable YAML file is required"):
        load_scenario(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(InputError, match=r"valid YAML is required \(syntax error at line 2\)"):
        load_scenario(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(InputError, match="a YAML mapping"):
        load_scenario(listing)



def test_open_cohort_loads_with_a_monthly_profile_file_beside_it(tmp_path):
    (tmp_path / "profile.csv").write_text("month,weight\n" + "".join(f"{m},{13 - m}\n" for m in (12, *range(1, 12))))
    scenario = load_scenario(write(tmp_path, lambda d: open_cohort(d, monthly_profile="profile.csv")))
    assert scenario.patients is None
    assert scenario.arrivals.monthly_profile == [float(13 - m) for m in range(1, 13)]
    assert scenario.observation_window == (365.0, 1095.0)


@pytest.mark.parametrize("content, message", [
    (None, r"a readable CSV file"),
    ("month,share\n1,1\n", r"columns month, weight are required"),
    ("month,weight\n" + "".join(f"{m},1\n" for m in range(1, 12)), r"one row for each month 1 to 12"),
    ("month,weight\n" + "".join(f"{m},{0 if m == 3 else 1}\n" for m in range(1, 13)),
     r"every weight must be a finite number greater than 0 \(month 3: 0\)$"),
    ("month,weight\n" + "".join(f"{m},{'inf' if m == 5 else 1}\n" for m in range(1, 13)),
     r"every weight must be a finite number greater than 0 \(month 5: \.inf\)$"),
])
def test_bad_monthly_profile_file(tmp_path, content, message):
    if content is not None:
        (tmp_path / "profile.csv").write_text(content)
    with pytest.raises(InputError, match=r"^arrivals\.monthly_profile: got '.*profile\.csv'; " + message):
        load_scenario(write(tmp_path, lambda d: open_cohort(d, monthly_profile="profile.csv")))


def test_capacity_examples_load():
    for path in sorted((BASE_SCENARIO.parent / "capacity").glob("*.yaml")):
        scenario = load_scenario(path)
        assert scenario.arrivals is not None and scenario.capacity.limited(), path.name


def test_this_checkout_reads_its_own_inputs():
    """In a source checkout (as the tests run) the inputs are the repository's, which --write-committed may
    rewrite; an installed wheel reads its packaged copies and refuses --write-committed (tests/functional/test_wheel.py)."""
    from sim.inputs.paths import CALIBRATION_DIR, ROOT, SOURCE_TREE
    from tests.conftest import REPO

    assert SOURCE_TREE and ROOT == REPO and CALIBRATION_DIR == REPO / "calibration"
