"""Strict inputs: every bad input a user can type is refused with one line naming the field, the
value (as written in YAML) and what is allowed; nothing is silently accepted or coerced.

One case per finding of the input review; each case states the exact message.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.calibration.studies import load_targets
from sim.capacity.sweep import parse_setting, sweep_grid
from sim.engines.arrivals import cumulative_intensity
from sim.inputs.errors import InputError
from sim.inputs.parameters import (
    DEFAULT_PARAMETERS_PATH,
    DEFAULT_POSTERIOR_PATH,
    load_parameters,
)
from sim.inputs.posterior import Posterior, StalePosteriorWarning, with_posterior_means
from sim.inputs.scenario import Arrivals, load_scenario
from sim.simulation.memory import (
    BYTES_PER_TRAJECTORY,
    check_run_size,
    run_bytes,
    run_trajectories,
)
from tests.conftest import BASE_SCENARIO

BUILTINS = "cart_haplo_no_prophylaxis, cart_bridge_allo, cart_alone, chemo_allo"


def scenario_file(tmp_path: Path, change: Callable[[dict], Any] = lambda d: None) -> Path:
    """The base scenario with ``change`` applied to its YAML data, written to a file."""
    data = yaml.safe_load(BASE_SCENARIO.read_text())
    change(data)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def open_cohort(data: dict, **arrivals: Any) -> None:
    """Turn the base scenario into an open cohort of 40 referrals a year."""
    data.pop("patients")
    data["arrivals"] = {"rate_per_year": 40, "warm_up_days": 0, "run_length_days": 365.25, **arrivals}


def load(change: Callable[[dict], Any]) -> Callable[[Path], Any]:
    return lambda tmp_path: load_scenario(scenario_file(tmp_path, change))


def load_text(replace: str, by: str) -> Callable[[Path], Any]:
    """Load the base scenario's text with one line changed (for what YAML data cannot hold)."""
    def act(tmp_path: Path) -> Any:
        text = BASE_SCENARIO.read_text()
        assert replace in text
        path = tmp_path / "scenario.yaml"
        path.write_text(text.replace(replace, by, 1))
        return load_scenario(path)
    return act


def add_strategy(entry: Any) -> Callable[[dict], Any]:
    return lambda d: d["strategies"].append(entry)


def posterior(frame: pd.DataFrame | None, raw: bytes | None = None) -> Callable[[Path], Any]:
    """Read a posterior file holding ``frame`` (or the bytes ``raw``)."""
    def act(tmp_path: Path) -> Any:
        path = tmp_path / "posterior.parquet"
        if raw is not None:
            path.write_bytes(raw)
        else:
            frame.to_parquet(path, index=False)
        return Posterior.read(path).draws
    return act


def parameters_text(text: str) -> Callable[[Path], Any]:
    def act(tmp_path: Path) -> Any:
        path = tmp_path / "parameters.yaml"
        path.write_text(text)
        return load_parameters(path)
    return act


def sweep(*texts: str) -> Callable[[Path], Any]:
    return lambda tmp_path: sweep_grid(load_scenario(BASE_SCENARIO), [parse_setting(t) for t in texts])


class Case(NamedTuple):
    id: str
    act: Callable[[Path], Any]
    field: str
    message: str
    """Regular expression for the whole message."""


GOOD_POSTERIOR = pd.DataFrame({"draw": [0, 1], "crs_any": [0.9, 0.95], "manufacturing_days": [40.0, 45.0]})
PARAMETER_ENTRY = "  unit: probability\n  distribution: {type: fixed}\n  evidence: [HU-CR]\n  description: d\n"

CASES = [
    # 1. Tracebacks
    Case("list as strategy name", load(add_strategy({"name": ["a"], "base": "cart_alone"})),
         "strategies[4].name", r"strategies\[4\]\.name: got \[a\]; text is required"),
    Case("mapping as strategy name", load(add_strategy({"name": {"a": 1}, "index_therapy": "cart", "hsct_platform": "none"})),
         "strategies[4].name", r"strategies\[4\]\.name: got \{a: 1\}; text is required"),
    Case("list as strategy base", load(add_strategy({"name": "x", "base": ["cart_alone"]})),
         "strategies[4].base", rf"strategies\[4\]\.base: got \[cart_alone\]; base must be one of {BUILTINS}"),
    Case("mapping as strategy base", load(add_strategy({"name": "x", "base": {"a": 1}})),
         "strategies[4].base", rf"strategies\[4\]\.base: got \{{a: 1\}}; base must be one of {BUILTINS}"),
    Case("infinite referral rate", load(lambda d: open_cohort(d, rate_per_year=math.inf)),
         "arrivals.rate_per_year", r"arrivals\.rate_per_year: got \.inf; a finite number is required"),
    Case("infinite horizon", load(lambda d: d.update(horizon_days=math.inf)),
         "horizon_days", r"horizon_days: got \.inf; a finite number is required"),
    Case("infinite monthly weight", load(lambda d: open_cohort(d, monthly_profile=[1] * 11 + [math.inf])),
         "arrivals.monthly_profile.11", r"arrivals\.monthly_profile\.11: got \.inf; a finite number is required"),
    Case("huge patients", load(lambda d: d.update(patients=10**12)),
         "patients", r"patients: got 1000000000000; Input should be less than or equal to 10000000"),
    Case("huge capacity", load(lambda d: d["capacity"].update(manufacturing_slots=10**12)),
         "capacity.manufacturing_slots",
         r"capacity\.manufacturing_slots: got 1000000000000; Input should be less than or equal to 10000"),
    Case("huge horizon", load(lambda d: d.update(horizon_days=10**12)),
         "horizon_days", r"horizon_days: got 1000000000000; Input should be less than or equal to 36525"),
    Case("huge run length", load(lambda d: open_cohort(d, run_length_days=10**9)),
         "arrivals.run_length_days", r"arrivals\.run_length_days: got 1000000000; Input should be less than or equal to 36525000"),
    Case("too many referrals expected", load(lambda d: open_cohort(d, rate_per_year=100_000, run_length_days=36_525, warm_up_days=3000)),
         "arrivals", r"arrivals: got \{.*\}; at most 10,000,000 referrals may be expected over the warm-up and the run length; "
         r"rate_per_year x \(warm_up_days \+ run_length_days\) / 365\.25 is 1\.08214e\+07"),
    Case("huge replications", load(lambda d: d.update(replications=10**9)),
         "replications", r"replications: got 1000000000; Input should be less than or equal to 10000"),
    Case("YAML error in a --set value", sweep("capacity.cart_beds=[2"),
         "--set capacity.cart_beds", r"--set capacity\.cart_beds: got '\[2'; each value must be a number, or none for no limit"),
    Case("empty --set value", sweep("capacity.cart_beds=2,,3"),
         "--set capacity.cart_beds", r"--set capacity\.cart_beds: got ''; each value must be given \(none for no limit\); .*"),
    Case("--set key given twice", sweep("capacity.cart_beds=2,3", "capacity.cart_beds=4"),
         "--set", r"--set: got 'capacity\.cart_beds'; each setting may be given once; list all its values in one --set KEY=V1,V2,\.\.\."),
    Case("--set value given twice", sweep("capacity.cart_beds=2,3,2"),
         "--set capacity.cart_beds", r"--set capacity\.cart_beds: got 2; each value once is required \(a value given twice would "
         r"simulate the same combination twice\)"),
    Case("--set no limit given twice", sweep("capacity.cart_beds=none,2,unlimited"),
         "--set capacity.cart_beds", r"--set capacity\.cart_beds: got 'unlimited'; each value once is required .*"),
    Case("--set key that is not a setting", sweep("patients=10"),
         "--set", r"--set: got 'patients'; one of capacity\.apheresis_slots_per_week, .*, \.\.\. is required"),
    Case("posterior not parquet", posterior(None, raw=b"draw,crs_any\n0,0.9\n"),
         "posterior file", r"posterior file: got '[^;]*; a parquet file of posterior draws is required \(not parquet\)"),
    Case("posterior that is a folder", lambda tmp_path: Posterior.read(tmp_path).draws,
         "posterior file", r"posterior file: got '[^;]*; an existing file is required: run `cd7sim calibrate` first"),
    Case("scenario file missing", lambda tmp_path: load_scenario(tmp_path / "missing.yaml"),
         "scenario file", r"scenario file: got '[^;]*missing\.yaml'; a readable YAML file is required \(no such file\)"),
    Case("scenario file is a folder", lambda tmp_path: load_scenario(tmp_path),
         "scenario file", r"scenario file: got '[^;]*'; a readable YAML file is required \(it is a folder\)"),
    Case("scenario file not UTF-8", lambda tmp_path: (tmp_path / "s.yaml").write_bytes(b"\xff\xfe") and load_scenario(tmp_path / "s.yaml"),
         "scenario file", r"scenario file: got '[^;]*s\.yaml'; a readable YAML file is required \(not UTF-8 text\)"),
    Case("targets file empty", lambda tmp_path: (tmp_path / "t.csv").write_text("") or load_targets(tmp_path / "t.csv"),
         "targets file", r"targets file: got '[^;]*t\.csv'; a readable CSV file is required \(the file is empty\)"),
    Case("posterior without rows", posterior(GOOD_POSTERIOR.iloc[:0]),
         "posterior file", r"posterior file: got '[^;]*; at least one draw \(row\) is required"),
    # 2. Nonsense accepted silently
    Case("age mean NaN", load(lambda d: d["case_mix"]["age"].update(mean=math.nan)),
         "case_mix.age.mean", r"case_mix\.age\.mean: got \.nan; a finite number is required"),
    Case("age sd infinite", load(lambda d: d["case_mix"]["age"].update(sd=math.inf)),
         "case_mix.age.sd", r"case_mix\.age\.sd: got \.inf; a finite number is required"),
    Case("age mean outside ages", load(lambda d: d["case_mix"]["age"].update(mean=10**18)),
         "case_mix.age", r"case_mix\.age: got \{.*\}; the mean of ages \(years\) must lie between 0 and 110"),
    Case("posterior with an unknown column", posterior(GOOD_POSTERIOR.assign(crs_rate=0.5)),
         "posterior.parquet:crs_rate",
         r"posterior\.parquet:crs_rate: got 'crs_rate'; a column must be a parameter, bookkeeping or a hyperparameter; allowed: "
         r"draw, source_draw, log_likelihood, between_study_icc, apheresis_delay_days, .*, \.\.\."),
    Case("posterior intra-class correlation of 1.5", posterior(GOOD_POSTERIOR.assign(between_study_icc=[0.05, 1.5])),
         "posterior.parquet:between_study_icc row 2",
         r"posterior\.parquet:between_study_icc row 2: got 1\.5; a probability must lie between 0 and 1"),
    Case("posterior probability of 7", posterior(GOOD_POSTERIOR.assign(crs_any=[0.9, 7.0])),
         "posterior.parquet:crs_any row 2", r"posterior\.parquet:crs_any row 2: got 7; a probability must lie between 0 and 1"),
    Case("posterior NaN", posterior(GOOD_POSTERIOR.assign(manufacturing_days=[math.nan, 45.0])),
         "posterior.parquet:manufacturing_days row 1",
         r"posterior\.parquet:manufacturing_days row 1: got \.nan; a value in days must lie between 0 and 36525"),
    Case("posterior with text values", posterior(GOOD_POSTERIOR.assign(crs_any=["high", "low"])),
         "posterior.parquet:crs_any", r"posterior\.parquet:crs_any: got 'high'; numbers are required"),
    Case("posterior with true/false values", posterior(GOOD_POSTERIOR.assign(crs_any=[False, True])),
         "posterior.parquet:crs_any", r"posterior\.parquet:crs_any: got false; numbers are required"),
    Case("posterior without parameters", posterior(GOOD_POSTERIOR[["draw"]]),
         "posterior file", r"posterior file: got '[^;]*; at least one parameter column is required"),
    Case("custom strategy without a name", load(add_strategy({"base": "cart_alone", "hsct_uptake": 0.5})),
         "strategies[4].name",
         r"strategies\[4\]\.name: got nothing; a strategy given as a mapping needs a name \(letters, digits, _ \. -\)"),
    Case("key twice in a scenario", load_text("seed: 2024\n", "seed: 2024\nseed: 7\n"),
         "scenario file", r"scenario file: got '[^;]*; each key may appear once in a mapping: 'seed' is given at "
         r"line 19 and again at line 20"),
    Case("key twice in a nested mapping", load_text("  prior_hsct: 0.15\n", "  prior_hsct: 0.15\n  prior_hsct: 0.3\n"),
         "scenario file", r"scenario file: got '[^;]*; each key may appear once in a mapping: 'prior_hsct' is given at line \d+ "
         r"and again at line \d+"),
    Case("key twice in parameters.yaml", parameters_text(f"x:\n  value: 0.2\n  value: 0.3\n{PARAMETER_ENTRY}"),
         "parameters file", r"parameters file: got '[^;]*; each key may appear once in a mapping: 'value' is given at "
         r"line 2 and again at line 3"),
    Case("dot as scenario name", load(lambda d: d.update(name=".")), "name",
         r"name: got '\.'; a name of letters, digits, _, \. and - is required, not starting with a dot"),
    Case("parent as scenario name", load(lambda d: d.update(name="..")), "name",
         r"name: got '\.\.'; a name of letters, digits, _, \. and - is required, not starting with a dot"),
    Case("true as patients", load(lambda d: d.update(patients=True)), "patients", r"patients: got true; a whole number is required"),
    Case("true as a probability", load(lambda d: d["case_mix"].update(prior_hsct=True)),
         "case_mix.prior_hsct", r"case_mix\.prior_hsct: got true; a number is required"),
    Case("true as a capacity", load(lambda d: d["capacity"].update(cart_beds=True)),
         "capacity.cart_beds", r"capacity\.cart_beds: got true; a whole number is required"),
    Case("true as a parameter override", load(lambda d: d["parameters"].update(crs_any=True)),
         "parameters.crs_any", r"parameters\.crs_any: got true; a number is required"),
    Case("text as patients", load(lambda d: d.update(patients="300")), "patients", r"patients: got '300'; a whole number is required"),
    Case("decimal point in patients", load(lambda d: d.update(patients=300.0)),
         "patients", r"patients: got 300; a whole number, written with digits only \(300\), is required"),
    Case("scientific notation as patients", load_text("patients: 2000", "patients: 2e3"),
         "patients", r"patients: got 2000; a whole number, written with digits only \(2000\), is required"),
    Case("fraction as patients", load(lambda d: d.update(patients=2.5)),
         "patients", r"patients: got 2\.5; a whole number, written without a decimal point, is required"),
    Case("infinite slots in a sweep", sweep("capacity.cart_beds=.inf"),
         "--set capacity.cart_beds", r"--set capacity\.cart_beds: got \.inf; a whole number is required"),
    Case("text as a parameter value in parameters.yaml", parameters_text(f"x:\n  value: '0.2'\n{PARAMETER_ENTRY}"),
         "parameters.yaml:x.value", r"parameters\.yaml:x\.value: got '0\.2'; a number is required"),
    Case("infinite transplant interval", load(add_strategy({"name": "x", "base": "cart_bridge_allo", "hsct_interval_days": math.inf})),
         "strategies[4].hsct_interval_days", r"strategies\[4\]\.hsct_interval_days: got \.inf; a finite number is required"),
    Case("infinite donor search", load(lambda d: d["capacity"].update(donor_search_days=math.inf)),
         "capacity.donor_search_days", r"capacity\.donor_search_days: got \.inf; a finite number is required"),
    Case("infinite parameter override", load(lambda d: d["parameters"].update(manufacturing_days=math.inf)),
         "parameters.manufacturing_days", r"parameters\.manufacturing_days: got \.inf; a finite number is required"),
    Case("Gompertz slope that overflows", load(lambda d: d["parameters"].update(background_gompertz_slope=1000)),
         "parameters.background_gompertz_slope",
         r"parameters\.background_gompertz_slope: got 1000; a value in per_year must lie between 0 and 10"),
    Case("horizon of a fraction of a day", load(lambda d: d.update(horizon_days=1e-300)),
         "horizon_days", r"horizon_days: got 1e-300; Input should be greater than or equal to 1"),
    Case("no referral expected", load(lambda d: open_cohort(d, rate_per_year=1e-8)),
         "arrivals", r"arrivals: got \{.*\}; at least one referral must be expected after the warm-up; rate_per_year x "
         r"run_length_days / 365\.25 is 1e-08"),
    # 3. Rules
    Case("built-in listed beside its override", load(add_strategy({"name": "cart_alone", "hsct_uptake": 0.5})),
         "strategies[4]", r"strategies\[4\]: got 'cart_alone'; strategy names must be unique, and strategies\[2\] is also "
         r"'cart_alone' \(to change a built-in strategy, list it once, as a mapping\)"),
    Case("built-in name on another base", load(lambda d: d.update(strategies=[{"name": "cart_alone", "base": "chemo_allo"}])),
         "strategies[0].name", r"strategies\[0\]\.name: got 'cart_alone'; a built-in strategy's name may only override that "
         r"built-in \(without base, or with base 'cart_alone'\); give this strategy a name of its own"),
    Case("two custom strategies of one name",
         load(lambda d: d.update(strategies=[{"name": "x", "base": "cart_alone"}, {"name": "x", "base": "chemo_allo"}])),
         "strategies[1]", r"strategies\[1\]: got 'x'; strategy names must be unique, and strategies\[0\] is also 'x' .*"),
    Case("unknown strategy key lists the allowed ones", load(add_strategy({"name": "x", "base": "cart_alone", "uptake": 1})),
         "strategies[4].uptake", r"strategies\[4\]\.uptake: got 1; this key is not allowed here; allowed: name, description, "
         r"index_therapy, cart_source, hsct_platform, hsct_uptake, hsct_interval_days, cd7_negative_multiplier, \.\.\."),
    Case("unknown case-mix key lists the allowed ones", load(lambda d: d["case_mix"]["age"].update(median=40)),
         "case_mix.age.median", r"case_mix\.age\.median: got 40; this key is not allowed here; allowed: distribution, mean, sd, low, high"),
    Case("unknown parameter lists the allowed ones (shortened)", load(lambda d: d["parameters"].update(crs_rate=0.5)),
         "parameters.crs_rate", r"parameters\.crs_rate: got 'crs_rate'; not a parameter of parameters\.yaml; allowed: "
         r"apheresis_delay_days, manufacturing_days, (\w+, ){6}\.\.\."),
    Case("a distribution without its kind", load(lambda d: d["case_mix"].update(age={"mean": 40, "sd": 18})),
         "case_mix.age", r"case_mix\.age: got \{mean: 40, sd: 18\}; the key 'distribution' is required"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_naming_field_value_and_what_is_allowed(tmp_path, case):
    with pytest.raises(InputError) as caught:
        case.act(tmp_path)
    message = str(caught.value)
    assert caught.value.field == case.field
    assert re.fullmatch(case.message, message), message
    assert "\n" not in message
    assert not re.search(r"\w+='|Strategy\(|<\w+ object", message), "a Python repr in the message"


def test_overriding_a_builtin_alone_is_allowed(tmp_path):
    strategies = ["cart_alone", {"name": "cart_bridge_allo", "hsct_uptake": 1.0},
                  {"name": "chemo_allo", "base": "chemo_allo", "hsct_interval_days": 90}]
    scenario = load_scenario(scenario_file(tmp_path, lambda d: d.update(strategies=strategies)))
    assert [s.name for s in scenario.strategies] == ["cart_alone", "cart_bridge_allo", "chemo_allo"]
    assert scenario.strategies[1].hsct_uptake == 1.0 and scenario.strategies[1].hsct_platform == "conventional"
    assert scenario.strategies[1].description == ""
    assert scenario.strategies[2].index_therapy == "chemo" and scenario.strategies[2].hsct_interval_days == 90


def test_yaml_integers_are_valid_where_numbers_are_expected(tmp_path):
    scenario = load_scenario(scenario_file(tmp_path, lambda d: d.update(horizon_days=1826) or d["case_mix"].update(prior_hsct=0)))
    assert scenario.horizon_days == 1826.0 and isinstance(scenario.horizon_days, float)
    assert scenario.case_mix.prior_hsct == 0.0


def test_the_committed_posterior_and_parameters_are_valid(params):
    frame = Posterior.read(DEFAULT_POSTERIOR_PATH).draws
    assert len(frame) >= 1000
    means = with_posterior_means(params)
    assert means["crs_any"] == pytest.approx(frame["crs_any"].mean())
    assert len(load_parameters(DEFAULT_PARAMETERS_PATH)) == len(params)


def test_posterior_means_refuse_a_bad_posterior(params, tmp_path):
    path = tmp_path / "posterior.parquet"
    GOOD_POSTERIOR.assign(crs_any=[0.9, 7.0]).to_parquet(path)
    with pytest.raises(InputError, match=r"^posterior\.parquet:crs_any row 2: got 7; "):
        with_posterior_means(params, path)
    GOOD_POSTERIOR.to_parquet(path, index=False)
    with pytest.warns(StalePosteriorWarning, match="no provenance stamp"):
        assert with_posterior_means(params, path)["manufacturing_days"] == 42.5


def test_huge_but_finite_monthly_weights_give_the_referral_rate_without_overflow():
    arrivals = Arrivals(rate_per_year=40, run_length_days=365.25, monthly_profile=[1e308] * 11 + [1e-300])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, expected = cumulative_intensity(arrivals, 365.25)
    assert np.isfinite(expected).all()
    assert expected[-1] == pytest.approx(40.0, rel=1e-12)


# 4. Size of a run


def test_a_run_that_fits_in_memory_passes(base_scenario):
    check_run_size(base_scenario, "des")
    check_run_size(base_scenario, "cohort", available=run_bytes(base_scenario, "cohort"))


def test_a_closed_cohort_too_large_for_memory_names_patients(base_scenario):
    big = base_scenario.model_copy(update={"patients": 5_000_000, "replications": 10})
    assert run_trajectories(big) == 5_000_000 * 4 * 10
    assert run_bytes(big, "des") > 2.0e8 * BYTES_PER_TRAJECTORY["des"]
    with pytest.raises(InputError) as caught:
        check_run_size(big, "des", available=16 * 2**30)
    assert caught.value.field == "patients"
    assert re.fullmatch(
        r"patients: got 5000000; this run would hold 200,000,000 patient trajectories \(5000000 patients x 4 strategies x 10 "
        r"replications\), about 381\.\d GiB of memory, but 16\.0 GiB is available; ask for fewer patients, strategies or replications",
        str(caught.value)), str(caught.value)


def test_an_open_cohort_too_large_for_memory_names_the_referral_rate(tmp_path):
    scenario = load_scenario(scenario_file(tmp_path, lambda d: open_cohort(d, rate_per_year=100_000, run_length_days=36525)))
    assert run_trajectories(scenario) == pytest.approx(100_000 * 100 * 4)
    with pytest.raises(InputError, match=r"^arrivals\.rate_per_year: got 100000; this run would hold 40,000,000 patient trajectories "
                                         r"\(10,000,000 referrals expected x 4 strategies x 1 replications\)"):
        check_run_size(scenario, "des", available=2**30)


def test_replications_count_towards_the_size(base_scenario):
    many = base_scenario.model_copy(update={"patients": 50, "replications": 10_000_000})
    with pytest.raises(InputError, match=r"^patients: got 50; .* x 10000000 replications\)"):
        check_run_size(many, "des", available=8 * 2**30)


@pytest.mark.parametrize("options, message", [
    (["--prior-draws", "10000000000"], "--prior-draws: got 10000000000; at most 1,000,000 is allowed"),
    (["--posterior-draws", "100000000000"], "--posterior-draws: got 100000000000; at most 1,000,000 is allowed"),
    (["--prior-draws", "5000", "--stages", "1000", "--stage-draws", "3000"],
     "--prior-draws + --stages x --stage-draws: got 3005000; at most 1,000,000 is allowed (draws simulated in all; each takes "
     "about 10 ms on one core)"),
], ids=["prior draws", "posterior draws", "draws in all"])
def test_a_calibration_too_large_is_refused_before_it_starts(tmp_path, capsys, options, message):
    """Not a memory error after minutes: one line, exit 2, nothing written (calibrate and leave-one-out)."""
    from sim.cli import main

    status = main(["calibrate", *options, "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert status == 2 and captured.err.strip() == f"cd7sim: error: {message}" and captured.out == ""
    status = main(["validate", "--leave-one-out", *options, "--out", str(tmp_path / "out")])
    assert status == 2 and capsys.readouterr().err.strip() == f"cd7sim: error: {message}"
    assert list(tmp_path.iterdir()) == []


def test_scientific_notation_is_a_number_as_in_yaml_1_2(tmp_path):
    """PyYAML reads 1e-3 (no decimal point) as text; cd7sim reads it as the number a user means."""
    path = tmp_path / "scenario.yaml"
    path.write_text(BASE_SCENARIO.read_text().replace("parameters: {}", "parameters: {manufacturing_failure: 5e-2}")
                    .replace("horizon_days: 1826.25", "horizon_days: 1E3"))
    scenario = load_scenario(path)
    assert scenario.horizon_days == 1000.0 and scenario.parameters == {"manufacturing_failure": 0.05}
    assert parse_setting("arrivals.rate_per_year=4e1,1e2").values == (40.0, 100.0)
    assert yaml.safe_load("x: 1e-3") == {"x": "1e-3"}  # PyYAML's own loader is left as it is
