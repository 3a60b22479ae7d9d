"""The parameter registry: evidence, units, sampling (sim.inputs.parameters)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from sim.inputs.errors import InputError
from sim.inputs.parameters import BetaCounts, FixedDist, UniformDist, load_parameters

EVIDENCE = Path(__file__).resolve().parents[3] / "shared" / "EVIDENCE.md"


def test_every_parameter_cites_evidence_or_a_reasoned_assumption(params):
    for name, p in params.registry.items():
        if p.is_assumption:
            assert p.reason and p.range, name
            assert p.range[0] <= p.value <= p.range[1], f"{name}: value outside its stated range"
        else:
            assert all(re.fullmatch(r"[A-Z0-9]+(-[A-Z0-9]+)+", e) for e in p.evidence), name


@pytest.mark.skipif(not EVIDENCE.exists(), reason="shared/EVIDENCE.md is not beside the checkout")
def test_every_cited_evidence_id_exists():
    known = set(re.findall(r"^\| ([A-Z0-9]+(?:-[A-Z0-9]+)+) \|", EVIDENCE.read_text(), flags=re.MULTILINE))
    cited = {e for p in load_parameters().registry.values() for e in p.evidence if e != "assumption"}
    assert cited <= known, sorted(cited - known)


def test_beta_from_counts_takes_the_jeffreys_mean(params):
    crs = params.registry["crs_any"]
    assert isinstance(crs.distribution, BetaCounts)
    assert params["crs_any"] == pytest.approx((62 + 0.5) / (66 + 1))


def test_sample_is_reproducible_and_stays_in_support(params):
    a = params.sample(np.random.default_rng(5))
    b = params.sample(np.random.default_rng(5))
    assert a.as_dict() == b.as_dict()
    assert a.as_dict() != params.as_dict()
    for name, p in params.registry.items():
        if isinstance(p.distribution, FixedDist):
            assert a[name] == params[name]
        if p.unit == "probability":
            assert 0.0 <= a[name] <= 1.0, name
        if isinstance(p.distribution, UniformDist):
            assert p.distribution.low <= a[name] <= p.distribution.high, name


def test_overrides_are_checked(params):
    assert params.with_overrides({"crs_any": 0.5})["crs_any"] == 0.5
    with pytest.raises(InputError, match=r"parameters\.crs_any: got 1\.3; a probability must lie between 0 and 1"):
        params.with_overrides({"crs_any": 1.3})
    with pytest.raises(InputError, match=r"parameters\.manufacturing_days: got -3"):
        params.with_overrides({"manufacturing_days": -3})
    with pytest.raises(InputError, match=r"parameters\.no_such_thing"):
        params.with_overrides({"no_such_thing": 1})


def test_bad_registry_entries_are_refused(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("x:\n  value: 2\n  unit: probability\n  distribution: {type: fixed}\n  evidence: [HU-CR]\n  description: d\n")
    with pytest.raises(InputError, match="probability must lie between 0 and 1"):
        load_parameters(bad)
    bad.write_text("x:\n  value: 0.2\n  unit: probability\n  distribution: {type: fixed}\n  evidence: [assumption]\n  description: d\n")
    with pytest.raises(InputError, match="an assumption needs a reason and a range"):
        load_parameters(bad)


def test_posterior_means_come_from_the_committed_posterior(params):
    from sim.inputs.posterior import Posterior, with_posterior_means

    posterior = Posterior.read()
    means = with_posterior_means(params)
    assert {name: means[name] for name in posterior.names} == posterior.mean()
    assert all(means[name] == params[name] for name in params if name not in posterior.names)
