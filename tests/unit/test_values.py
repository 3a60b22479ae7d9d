"""The value inputs: costs, utilities, discounting and willingness to pay (sim.inputs.values)."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.inputs.errors import InputError
from sim.inputs.parameters import LogNormalDist, UniformDist
from sim.inputs.values import (
    COST_ITEMS,
    DEFAULT_VALUES_PATH,
    DISUTILITY_EVENTS,
    MIN_UTILITY,
    UTILITY_STATES,
    BetaMeanSd,
    load_values,
)

EVIDENCE = Path(__file__).resolve().parents[3] / "shared" / "EVIDENCE.md"
CITED_IDS = {
    "COST-CART-US", "COST-CART-CN", "COST-HSCT-US", "COST-HSCT-CN", "COST-ICU", "COST-GVHD", "CEA-REF",
    "UTIL-AML-US", "UTIL-AML-UK", "UTIL-GVHD-JP", "SVC-V2V", "SVC-LD", "SVC-ICU", "SVC-LOS-CART", "SVC-LOS-HSCT",
}
"""EVIDENCE.md identifiers values.yaml may cite or name (sections 6 and 7); EVIDENCE.md itself is outside the
repository, so it is checked against them only where it sits beside the checkout."""


@pytest.fixture(scope="module")
def values():
    return load_values()


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(DEFAULT_VALUES_PATH.read_text(encoding="utf-8"))


def test_the_shipped_file_has_both_settings_and_every_item(values):
    assert values.settings == ("us_payer", "china_payer")
    assert values.utility_sets == ("default",)
    for setting in values.settings:
        costs = values.costs(setting)
        assert tuple(costs) == COST_ITEMS
        assert all(cost > 0 for cost in costs.values())
        assert values.product_charged_on(setting) == "infusion"
    assert (values.currency("us_payer"), values.price_year("us_payer")) == ("USD", 2024)
    assert values.currency("china_payer") == "CNY"
    assert values.costs("us_payer")["cart_product"] == 475_000
    assert values.costs("us_payer")["hsct_episode"] == 331_827
    assert values.costs("china_payer")["cart_product"] == 1_200_000
    assert tuple(values.utilities("default")) == UTILITY_STATES
    assert tuple(values.disutilities("default")) == tuple(values.disutility_days("default")) == DISUTILITY_EVENTS
    assert values.discount_costs == values.discount_outcomes == 0.03
    assert values.wtp("USD") == (100_000, 150_000)
    assert values.wtp("CNY") == (95_749, 3 * 95_749)


def test_every_entry_cites_evidence_or_a_reasoned_assumption(values):
    for name, entry in values.entries.items():
        assert entry.description, name
        if entry.is_assumption:
            assert entry.reason and entry.range, name
            assert entry.range[0] <= entry.value <= entry.range[1], f"{name}: value outside its stated range"
        cited = [e for e in entry.evidence if e != "assumption"]
        assert set(cited) <= CITED_IDS, name
        assert entry.is_assumption or cited, name
    for currency, thresholds in values.spec.willingness_to_pay.items():
        assert thresholds.reason and thresholds.range, currency


@pytest.mark.skipif(not EVIDENCE.exists(), reason="shared/EVIDENCE.md is not beside the checkout")
def test_every_cited_evidence_id_exists():
    known = set(re.findall(r"^\| ([A-Z0-9]+(?:-[A-Z0-9]+)+)(?:, [A-Z0-9-]+)* \|", EVIDENCE.read_text(), flags=re.MULTILINE))
    known |= {"COST-GVHD"}  # shares a row with COST-ICU
    assert CITED_IDS <= known, sorted(CITED_IDS - known)


def test_utilities_and_decrements_are_in_range(values):
    for name, entry in values.entries.items():
        if entry.unit == "utility":
            assert MIN_UTILITY <= values[name] <= 1, name
        if entry.unit == "utility_decrement":
            assert values[name] >= 0, name
    assert values.qaly_losses("default")["severe_infection"] == pytest.approx(0.218 * 14 / 365.25)


def test_lognormal_ranges_are_their_central_95_percent(values):
    """A cost's range is median ×/÷ exp(1.96 sigma), as the file's header says (to rounding)."""
    for name, entry in values.entries.items():
        if isinstance(entry.distribution, LogNormalDist) and entry.range is not None:
            spread = math.exp(1.96 * entry.distribution.sigma)
            assert entry.range[0] == pytest.approx(entry.value / spread, rel=0.02), name
            assert entry.range[1] == pytest.approx(entry.value * spread, rel=0.02), name


def test_draw_is_reproducible_and_within_support(values):
    a = values.draw(np.random.default_rng(7))
    b = values.draw(np.random.default_rng(7))
    assert dict(a) == dict(b)
    assert dict(a) != dict(values)
    for name, entry in values.entries.items():
        if not entry.is_uncertain:
            assert a[name] == values[name], name
        elif isinstance(entry.distribution, UniformDist):
            assert entry.distribution.low <= a[name] <= entry.distribution.high, name
        elif isinstance(entry.distribution, BetaMeanSd):
            assert 0 < a[name] < 1, name
        else:
            assert a[name] > 0, name
    assert "discount_costs" not in values.uncertain


def test_ppf_at_one_half_is_the_median_of_lognormal_costs(values):
    middle = values.ppf(0.5)
    lognormal = [name for name, entry in values.entries.items() if isinstance(entry.distribution, LogNormalDist)]
    assert len(lognormal) >= 2 * len(COST_ITEMS)
    for name in lognormal:
        assert middle[name] == pytest.approx(values[name], rel=1e-12), name
    low = values.ppf({"cost_settings.us_payer.costs.cart_product": 0.025})
    assert low.costs("us_payer")["cart_product"] == pytest.approx(335_876, rel=1e-3)
    assert low.costs("us_payer")["hsct_episode"] == values.costs("us_payer")["hsct_episode"]
    beta = values.entries["utility_sets.default.states.remission"].distribution
    draws = np.random.default_rng(1).beta(*beta._shapes(), 200_000)
    assert draws.mean() == pytest.approx(0.875, abs=1e-3) and draws.std() == pytest.approx(0.07, abs=1e-3)


def test_overrides_are_checked(values):
    changed = values.with_overrides({"cost_settings.china_payer.costs.cart_product": 900_000, "discount_costs": 0})
    assert changed.costs("china_payer")["cart_product"] == 900_000 and changed.discount_costs == 0
    assert values.costs("china_payer")["cart_product"] == 1_200_000
    assert values.with_overrides({"utility_sets.default.states.relapsed_refractory": -0.11}).utilities("default")[
        "relapsed_refractory"] == -0.11
    bad = {
        "cost_settings.us_payer.costs.icu_day": (-1, r"values\.cost_settings\.us_payer\.costs\.icu_day: got -1; "
                                                     r"a value in currency_per_day must lie between 0 and 1e\+09"),
        "utility_sets.default.states.gvhd": (1.5, r"got 1\.5; a value in utility must lie between -0\.594 and 1"),
        "utility_sets.default.disutilities.icans": (-0.1, r"got -0\.1; a value in utility_decrement must lie between 0"),
        "discount_outcomes": (1.0, r"values\.discount_outcomes: got 1; a value in per_year must be at least 0 and below 1"),
        "discount_costs": (math.nan, r"got \.nan"),
        "utility_sets.default.states.aplasia": ("0.2", r"got '0\.2'; a number is required"),
        "no_such_value": (1, r"values\.no_such_value: got 'no_such_value'; not a value of values\.yaml"),
    }
    for name, (value, message) in bad.items():
        with pytest.raises(InputError, match=message) as caught:
            values.with_overrides({name: value})
        assert "\n" not in str(caught.value)


def test_unknown_names_and_quantiles_are_refused(values):
    for call, message in [
        (lambda: values.costs("uk_payer"), r"cost setting: got 'uk_payer'; one of us_payer, china_payer"),
        (lambda: values.utilities("nice"), r"utility set: got 'nice'; one of default"),
        (lambda: values.currency("eu"), r"cost setting: got 'eu'"),
        (lambda: values.wtp("EUR"), r"willingness-to-pay currency: got 'EUR'; one of USD, CNY"),
        (lambda: values.ppf(1.0), r"a quantile strictly between 0 and 1"),
        (lambda: values.ppf({"discount_costs": 0.5}), r"quantiles\.discount_costs: .*an uncertain value is required"),
    ]:
        with pytest.raises(InputError, match=message):
            call()


def _costs(raw: dict) -> dict:
    return raw["cost_settings"]["us_payer"]["costs"]


def _states(raw: dict) -> dict:
    return raw["utility_sets"]["default"]["states"]


BAD_FILES = [
    ("missing entry", lambda r: _costs(r).pop("icu_day"),
     r"v\.yaml:cost_settings\.us_payer\.costs\.icu_day: got nothing; this field is required"),
    ("unknown entry", lambda r: _costs(r).update(icu_night=_costs(r)["icu_day"]),
     r"costs\.icu_night: .*this key is not allowed here; allowed: apheresis"),
    ("non-finite", lambda r: _costs(r)["icu_day"].update(value=math.inf), r"costs\.icu_day\.value: got \.inf; a finite number is required"),
    ("negative cost", lambda r: _costs(r)["apheresis"].update(value=-5),
     r"costs\.apheresis: got -5; a value in currency must lie between 0"),
    ("wrong type", lambda r: _costs(r)["apheresis"].update(value="7420"), r"costs\.apheresis\.value: got '7420'; a number is required"),
    ("wrong unit", lambda r: _costs(r)["icu_day"].update(unit="currency"), r"costs\.icu_day\.unit: got 'currency'"),
    ("gamma for a utility", lambda r: _states(r)["gvhd"].update(distribution={"type": "gamma", "mean": 0.6, "sd": 0.1}),
     r"states\.gvhd\.distribution"),
    ("utility above 1", lambda r: _states(r)["gvhd"].update(value=1.2),
     r"states\.gvhd: got 1\.2; a value in utility must lie between -0\.594 and 1"),
    ("utility below the floor", lambda r: _states(r)["gvhd"].update(value=-0.7, distribution={"type": "fixed"}),
     r"states\.gvhd: got -0\.7"),
    ("negative decrement", lambda r: r["utility_sets"]["default"]["disutilities"]["icans"].update(value=-0.1),
     r"disutilities\.icans: got -0\.1; a value in utility_decrement must lie between 0"),
    ("value not the median", lambda r: _costs(r)["apheresis"].update(value=8000, range=[3000, 15000]),
     r"costs\.apheresis: got 8000; the value \(8000\) must equal the distribution's median"),
    ("value outside the range", lambda r: _states(r)["gvhd"].update(range=[0.7, 0.8]),
     r"states\.gvhd: got 0\.6; the value \(0\.6\) must lie inside"),
    ("assumption without a reason", lambda r: _states(r)["gvhd"].pop("reason"),
     r"states\.gvhd: got 0\.6; an assumption needs a reason and a range"),
    ("infeasible beta", lambda r: _states(r)["gvhd"].update(distribution={"type": "beta", "mean": 0.6, "sd": 0.6}),
     r"states\.gvhd\.distribution: .*must be below sqrt"),
    ("discount rate of 1", lambda r: r["discount_costs"].update(value=1),
     r"v\.yaml:discount_costs: got 1; a value in per_year must be at least 0 and below 1"),
    ("thresholds out of order", lambda r: r["willingness_to_pay"]["USD"].update(value=[150000, 100000]),
     r"willingness_to_pay\.USD: got \[150000, 100000\]; value: distinct positive thresholds, lowest first"),
    ("currency mismatch", lambda r: _costs(r)["icu_day"].update(currency="CNY"),
     r"costs\.icu_day\.currency: got 'CNY'; the setting's currency, USD, is required"),
    ("price year mismatch", lambda r: _costs(r)["icu_day"].update(price_year=2020), r"costs\.icu_day\.price_year: got 2020"),
    ("no thresholds for a currency", lambda r: r["willingness_to_pay"].pop("CNY"),
     r"cost_settings\.china_payer\.currency: got 'CNY'; a currency with willingness_to_pay thresholds"),
    ("charging rule", lambda r: r["cost_settings"]["us_payer"]["product_charged_on"].update(value="never"),
     r"product_charged_on\.value: got 'never'"),
    ("bad setting name", lambda r: r["cost_settings"].update({"US payer": r["cost_settings"]["us_payer"]}), r"cost_settings\.US payer"),
]


@pytest.mark.parametrize(("mutate", "message"), [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES])
def test_bad_files_are_refused_in_one_line(tmp_path, raw, mutate, message):
    changed = copy.deepcopy(raw)
    mutate(changed)
    path = tmp_path / "v.yaml"
    path.write_text(yaml.safe_dump(changed, sort_keys=False), encoding="utf-8")
    with pytest.raises(InputError, match=message) as caught:
        load_values(path)
    assert "\n" not in str(caught.value)


def test_duplicate_keys_and_missing_files_are_refused(tmp_path):
    text = DEFAULT_VALUES_PATH.read_text(encoding="utf-8")
    path = tmp_path / "v.yaml"
    path.write_text(text.replace("discount_outcomes:", "discount_costs:", 1), encoding="utf-8")
    with pytest.raises(InputError, match=r"values file: .*each key may appear once in a mapping: 'discount_costs' is given at line \d+"):
        load_values(path)
    with pytest.raises(InputError, match=r"values file: .*a readable YAML file is required"):
        load_values(tmp_path / "absent.yaml")
    path.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"a YAML mapping of keys to values is required"):
        load_values(path)
