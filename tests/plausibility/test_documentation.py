"""The README's table of plausibility rules lists every rule, with its kind and bound, in the order the check
reports them."""

from __future__ import annotations

import re

from sim.outcomes.plausibility import IMPOSSIBLE, RULES
from tests.conftest import REPO

ROW = re.compile(r"^\| `(?P<name>[a-z0-9_]+)` \| (?P<kind>impossible|implausible)(?:, ≤ (?P<bound>[\d.]+)%)? \|", re.MULTILINE)


def test_readme_lists_every_rule_with_its_kind_and_bound():
    rows = [match.groupdict() for match in ROW.finditer((REPO / "README.md").read_text(encoding="utf-8"))]
    assert [row["name"] for row in rows] == [rule.name for rule in RULES]
    for row, rule in zip(rows, RULES):
        assert row["kind"] == rule.kind, rule.name
        if rule.kind == IMPOSSIBLE:
            assert row["bound"] is None, rule.name
        else:
            assert float(row["bound"]) == 100 * rule.bound, rule.name
