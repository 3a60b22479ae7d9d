"""Fuzzing the scenario files: whatever a user writes, ``cd7sim run`` either succeeds with sensible
numbers or stops with exit status 2 and one line, writing nothing.

Valid scenario files (the closed-cohort base case and the capacity-limited open cohort of a regional
centre) are mutated the ways a user gets a file wrong: a value replaced by another of any type
(``.nan``, ``.inf``, negative, zero, huge, a bool, text, a list, a mapping, ``null``), a key deleted,
an unknown key added, a key written twice. The real command runs in this process on each result.

What "sensible numbers" means for ``summary.csv`` (one row per strategy and metric):

- no estimate is infinite;
- an estimate may be ``NaN`` only where the metric is undefined for the run: a denominator that can
  be empty (infused patients, responders, transplanted patients, relapses), a time point beyond the
  horizon, or a median survival not reached. The metrics whose denominator is every patient
  enrolled and that need no follow-up time (:data:`NEVER_NAN`) are never ``NaN``;
- shares and survival probabilities lie in [0, 1]; counts and medians (days) are at least 0.
"""

from __future__ import annotations

import copy
import math
import re
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.engines.arrivals import referral_days
from sim.inputs.errors import InputError
from sim.inputs.scenario import load_scenario
from tests.conftest import BASE_SCENARIO

REGIONAL_SCENARIO = BASE_SCENARIO.parent / "capacity" / "regional_centre.yaml"
NEVER_NAN = ("n_patients", "infused_rate", "dropout_while_waiting", "relapse_while_waiting", "death_while_waiting")
"""Metrics defined for every run that enrols anyone: their denominator is every patient enrolled."""
NOT_SHARES = ("n_patients", "median_days_infusion_to_hsct", "median_os_days", "median_pfs_days")
"""Metrics that are not shares or probabilities (a count and medians in days)."""
VALUES: list[Any] = [
    math.nan, math.inf, -math.inf, -1, 0, 1, 0.5, 2.5, 5e-324, 1e308, 10**6, 10**9, 2**63, 10**30,
    True, False, "", "abc", "300", "0.5", [], [1, 2], {}, {"a": 1}, None,
]
"""Replacement values: every YAML type, the edges of the number line, and numbers written as text."""
FACTORS = (0.0, 1e-9, 0.1, 0.5, 0.99, 1.01, 2.0, 10.0, 1e9)
"""Multipliers of a number already in the file: plausible and implausible changes of a valid value
(none between 10 and 1e9, which would only make valid runs slow)."""
UNKNOWN_KEYS = ("colour", "notes", "patients_per_year", "Seed", "capacity ")
KEEP_CONTENT = "a user's own file\n"


def small(document: dict[str, Any]) -> dict[str, Any]:
    """A scenario of the same shape that simulates in a fraction of a second: an open cohort over a
    month of warm-up and half a year of referrals (about 23 patients), one replication (a closed
    cohort's size comes from ``--patients``)."""
    document = copy.deepcopy(document)
    if "arrivals" in document:
        document["arrivals"].update(warm_up_days=30, run_length_days=182.5)
        document["replications"] = 1
    return document


TEMPLATES = {
    "base": small(yaml.safe_load(BASE_SCENARIO.read_text())),
    "regional_centre": small(yaml.safe_load(REGIONAL_SCENARIO.read_text())),
}


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path from the root to a value (mapping keys and list indices), the root excluded."""
    found = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, child in items:
        found.append((*prefix, key))
        found += paths(child, (*prefix, key))
    return found


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parent_of(document: Any, path: tuple) -> Any:
    for key in path[:-1]:
        document = document[key]
    return document


MUTATIONS = ("edge", "edge", "replace", "scale", "scale", "delete", "add", "duplicate")
"""Kinds of mutation, drawn with these weights: a number (or a null) set to an edge of the number
line, any value set to any type, a number scaled, a key deleted, an unknown key added, a key
written twice."""


@st.composite
def mutated_scenarios(draw) -> tuple[str, str]:
    """A template name and the YAML text of one or two mutations of it (see :data:`MUTATIONS`)."""
    name = draw(st.sampled_from(sorted(TEMPLATES)))
    document = copy.deepcopy(TEMPLATES[name])
    duplicate = False
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(MUTATIONS))
        if kind == "duplicate":
            duplicate = True
            continue
        every = paths(document)
        value_of = {path: parent_of(document, path)[path[-1]] for path in every}
        numbers = [path for path in every if is_number(value_of[path])]
        choices = {"edge": [path for path in every if is_number(value_of[path]) or value_of[path] is None],
                   "scale": numbers}.get(kind, every)
        path = draw(st.sampled_from(choices))
        parent = parent_of(document, path)
        if kind == "edge":
            parent[path[-1]] = draw(st.sampled_from([v for v in VALUES if is_number(v)]))
        elif kind == "scale":
            scaled = parent[path[-1]] * draw(st.sampled_from(FACTORS))
            parent[path[-1]] = round(scaled) if isinstance(parent[path[-1]], int) else scaled
        elif kind == "replace":
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(VALUES)))
        elif kind == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(UNKNOWN_KEYS))] = copy.deepcopy(draw(st.sampled_from(VALUES)))
    text = yaml.safe_dump(document, default_flow_style=False, sort_keys=False)
    if duplicate:
        text = repeat_a_key(text, draw)
    return name, text


def repeat_a_key(text: str, draw) -> str:
    """``text`` with one ``key: value`` line written again under itself, with another value: the same
    key twice in one mapping."""
    lines = text.splitlines()
    candidates = [i for i, line in enumerate(lines) if re.match(r"^\s*[A-Za-z_][\w-]*:( |$)", line)]
    if not candidates:
        return text
    index = draw(st.sampled_from(candidates))
    key = lines[index].split(":")[0]
    lines.insert(index + 1, f"{key}: {yaml.safe_dump(draw(st.sampled_from(VALUES)), default_flow_style=True).splitlines()[0]}")
    return "\n".join(lines) + "\n"


def check_summary(summary: pd.DataFrame) -> None:
    """The rules of the module docstring."""
    estimate = summary["estimate"].to_numpy(dtype=float)
    assert not (estimate == math.inf).any() and not (estimate == -math.inf).any(), summary[summary["estimate"].abs() == math.inf]
    undefined = summary[summary["estimate"].isna() & summary["metric"].isin(NEVER_NAN)]
    assert undefined.empty, undefined
    shares = summary[~summary["metric"].isin(NOT_SHARES) & summary["estimate"].notna()]
    assert shares["estimate"].between(0.0, 1.0).all(), shares[~shares["estimate"].between(0.0, 1.0)]
    others = summary[summary["metric"].isin(NOT_SHARES) & summary["estimate"].notna()]
    assert (others["estimate"] >= 0.0).all(), others[others["estimate"] < 0.0]
    assert (summary.loc[summary["metric"] == "n_patients", "estimate"] > 0).all()


def every_replication_has_referrals(path: Path) -> bool:
    """Whether each replication of a valid open cohort has a referral after its warm-up (always true
    for a closed cohort or a file that does not load)."""
    try:
        scenario = load_scenario(path)
    except InputError:
        return True
    if scenario.arrivals is None:
        return True
    return all(
        (referral_days(scenario.arrivals, scenario.seed, r) >= scenario.arrivals.warm_up_days).any()
        for r in range(scenario.replications)
    )


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=mutated_scenarios())
def test_a_mutated_scenario_runs_or_stops_with_one_line(tmp_path_factory, capfd, case):
    name, text = case
    folder = tmp_path_factory.mktemp("fuzz")
    scenario, out, keep = folder / "scenario.yaml", folder / "out", folder / "keep"
    scenario.write_text(text)
    assume(every_replication_has_referrals(scenario))  # the case without: test_a_replication_without_referrals
    keep.mkdir()
    (keep / "notes.txt").write_text(KEEP_CONTENT)
    size = ["--patients", "50"] if name == "base" else []
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = main(["run", str(scenario), *size, "--out", str(out), "--workers", "1"])
    err = capfd.readouterr().err
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []
    assert "Traceback" not in err and "Warning" not in err, err
    assert [p.name for p in keep.iterdir()] == ["notes.txt"] and (keep / "notes.txt").read_text() == KEEP_CONTENT
    if status == 2:
        assert len(err.splitlines()) == 1 and err.startswith("cd7sim: error: "), err
        assert not out.exists()
        return
    assert status == 0, err
    check_summary(pd.read_csv(out / "summary.csv"))


def test_a_replication_without_referrals(tmp_path, capfd):
    """2.5 referrals a year over half a year is a valid open cohort, yet at this seed no one is referred.
    The run must end like any other: results (exit 0) or one line (exit 2), never an internal error."""
    document = copy.deepcopy(TEMPLATES["regional_centre"])
    document["arrivals"].update(rate_per_year=2.5, warm_up_days=0)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(document))
    assert not every_replication_has_referrals(path)
    status = main(["run", str(path), "--out", str(tmp_path / "out"), "--workers", "1"])
    err = capfd.readouterr().err
    assert status == 0 or (status == 2 and len(err.splitlines()) == 1), err
