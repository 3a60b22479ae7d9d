"""Strict inputs: every bad input a user can type is refused with one line naming the field, the
value (as written in YAML) and what is allowed; nothing is silently accepted or coerced.

One case per finding of the input review; each case states the exact message.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import pytest
import yaml

from sim.errors import InputError
from sim.parameters import (
    DEFAULT_PARAMETERS_PATH,
    DEFAULT_POSTERIOR_PATH,
    load_parameters,
    read_posterior,
)
from sim.scenario import load_scenario
from tests.conftest import BASE_SCENARIO


def scenario_file(tmp_path: Path, change: Callable[[dict], Any] = lambda d: None) -> Path:
    """The base scenario with ``change`` applied to its YAML data, written to a file."""
    data = yaml.safe_load(BASE_SCENARIO.read_text())
    change(data)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


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


def posterior(frame: pd.DataFrame | None, raw: bytes | None = None) -> Callable[[Path], Any]:
    """Read a posterior file holding ``frame`` (or the bytes ``raw``)."""
    def act(tmp_path: Path) -> Any:
        path = tmp_path / "posterior.parquet"
        if raw is not None:
            path.write_bytes(raw)
        else:
            frame.to_parquet(path, index=False)
        return read_posterior(path)
    return act


def parameters_text(text: str) -> Callable[[Path], Any]:
    def act(tmp_path: Path) -> Any:
        path = tmp_path / "parameters.yaml"
        path.write_text(text)
        return load_parameters(path)
    return act


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
    Case("posterior not parquet", posterior(None, raw=b"draw,crs_any\n0,0.9\n"),
         "posterior file", r"posterior file: got '[^;]*; a parquet file of posterior draws is required \(ArrowInvalid\)"),
    Case("posterior without rows", posterior(GOOD_POSTERIOR.iloc[:0]),
         "posterior file", r"posterior file: got '[^;]*; at least one draw \(row\) is required"),
    # 2. Nonsense accepted silently
    Case("posterior with an unknown column", posterior(GOOD_POSTERIOR.assign(crs_rate=0.5)),
         "posterior.parquet:crs_rate",
         r"posterior\.parquet:crs_rate: got 'crs_rate'; a column must be a parameter or bookkeeping; allowed: draw, source_draw, "
         r"log_likelihood, apheresis_delay_days, .*, \.\.\."),
    Case("posterior probability of 7", posterior(GOOD_POSTERIOR.assign(crs_any=[0.9, 7.0])),
         "posterior.parquet:crs_any row 2", r"posterior\.parquet:crs_any row 2: got 7; a probability must lie between 0 and 1"),
    Case("posterior NaN", posterior(GOOD_POSTERIOR.assign(manufacturing_days=[math.nan, 45.0])),
         "posterior.parquet:manufacturing_days row 1",
         r"posterior\.parquet:manufacturing_days row 1: got \.nan; a value in days must lie between 0 and 36525"),
    Case("posterior with text values", posterior(GOOD_POSTERIOR.assign(crs_any=["high", "low"])),
         "posterior.parquet:crs_any", r"posterior\.parquet:crs_any: got 'high'; numbers are required"),
    Case("posterior without parameters", posterior(GOOD_POSTERIOR[["draw"]]),
         "posterior file", r"posterior file: got '[^;]*; at least one parameter column is required"),
    Case("key twice in a scenario", load_text("seed: 2024\n", "seed: 2024\nseed: 7\n"),
         "scenario file", r"scenario file: got '.*scenario\.yaml'; each key may appear once in a mapping: 'seed' is given at "
         r"line 19 and again at line 20"),
    Case("key twice in a nested mapping", load_text("  prior_hsct: 0.15\n", "  prior_hsct: 0.15\n  prior_hsct: 0.3\n"),
         "scenario file", r"scenario file: got '.*'; each key may appear once in a mapping: 'prior_hsct' is given at line \d+ "
         r"and again at line \d+"),
    Case("key twice in parameters.yaml", parameters_text(f"x:\n  value: 0.2\n  value: 0.3\n{PARAMETER_ENTRY}"),
         "parameters file", r"parameters file: got '.*parameters\.yaml'; each key may appear once in a mapping: 'value' is given at "
         r"line 2 and again at line 3"),
    Case("text as a parameter value in parameters.yaml", parameters_text(f"x:\n  value: '0.2'\n{PARAMETER_ENTRY}"),
         "parameters.yaml:x.value", r"parameters\.yaml:x\.value: got '0\.2'; a number is required"),
    Case("Gompertz slope that overflows", load(lambda d: d["parameters"].update(background_gompertz_slope=1000)),
         "parameters.background_gompertz_slope",
         r"parameters\.background_gompertz_slope: got 1000; a value in per_year must lie between 0 and 10"),
    # 3. Rules
    Case("unknown parameter lists the allowed ones (shortened)", load(lambda d: d["parameters"].update(crs_rate=0.5)),
         "parameters.crs_rate", r"parameters\.crs_rate: got 'crs_rate'; not a parameter of parameters\.yaml; allowed: "
         r"apheresis_delay_days, manufacturing_days, (\w+, ){6}\.\.\."),

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


def test_the_committed_posterior_and_parameters_are_valid(params):
    frame = read_posterior(DEFAULT_POSTERIOR_PATH)
    assert len(frame) >= 1000
    means = params.with_posterior_means()
    assert means["crs_any"] == pytest.approx(frame["crs_any"].mean())
    assert len(load_parameters(DEFAULT_PARAMETERS_PATH)) == len(params)


def test_posterior_means_refuse_a_bad_posterior(params, tmp_path):
    path = tmp_path / "posterior.parquet"
    GOOD_POSTERIOR.assign(crs_any=[0.9, 7.0]).to_parquet(path)
    with pytest.raises(InputError, match=r"^posterior\.parquet:crs_any row 2: got 7; "):
        params.with_posterior_means(path)
    GOOD_POSTERIOR.to_parquet(path, index=False)
    assert params.with_posterior_means(path)["manufacturing_days"] == 42.5
