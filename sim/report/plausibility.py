"""The plausibility check as text: the table of rules, and examples of each rule that failed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.outcomes.plausibility import IMPOSSIBLE, Report, RuleResult
from sim.report.text import fixed_width

CHECK_HEADER: tuple[str, ...] = ("rule", "kind", "violations", "judged", "share", "bound", "result")
"""Columns of the table `format_check` prints."""


def _share(value: float) -> str:
    """A share as a percentage: ``0.44%``; ``-`` when nobody was judged."""
    return "-" if not np.isfinite(value) else f"{100 * value:.2f}%"


def _bound(result: RuleResult) -> str:
    return "0" if result.rule.kind == IMPOSSIBLE else f"≤ {100 * result.rule.bound:g}%"


def _cell(value: object) -> str:
    """An example's cell: days with one decimal, ``-`` for missing."""
    if isinstance(value, (float, np.floating)):
        return "-" if np.isnan(value) else f"{value:.1f}"
    return str(value)


def format_examples(examples: pd.DataFrame) -> list[str]:
    """Lines of a fixed-width table of example patients (days rounded to 0.1)."""
    rows = [[_cell(value) for value in row] for row in examples.itertuples(index=False)]
    return fixed_width([str(column) for column in examples.columns], rows)


def format_check(report: Report) -> str:
    """The plausibility check for the terminal.

    Parameters
    ----------
    report : Report
        Output of :func:`sim.outcomes.plausibility.check`.

    Returns
    -------
    str
        One line per rule (``rule, kind, violations, judged, share, bound, result``), a note on how rules
        pass, then each failed rule with its clinical statement and example patients, and the verdict.
    """
    rows = [[r.rule.name, r.rule.kind, f"{r.violations:,}", f"{r.judged:,}", _share(r.share), _bound(r),
             "pass" if r.passed else "FAIL"] for r in report.results]
    lines = fixed_width(list(CHECK_HEADER), rows)
    lines.append("Impossible rules pass with no violation; an implausible rule fails when the 95% interval of its share "
                 "lies above the bound. judged: patient rows the rule reads (patients x strategies x replications).")
    for result in report.failed:
        rule = result.rule
        lines += ["", f"FAIL {rule.name} ({rule.kind}, {result.violations:,} of {result.judged:,}): {rule.statement}"]
        if rule.reason:
            lines.append(f"  bound {_bound(result)}: {rule.reason}")
        lines += ["  " + line for line in format_examples(result.examples)]
    failed = [result.rule.name for result in report.failed]
    total = len(report.results)
    lines.append("")
    lines.append(f"All {total} rules pass." if not failed else f"{len(failed)} of {total} rules failed: {', '.join(failed)}.")
    return "\n".join(lines)
