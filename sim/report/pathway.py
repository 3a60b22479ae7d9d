"""The model's structure as a pathway diagram, generated from the strategies' fields (not drawn by hand).

Each strategy is one row of steps, left to right, from referral to the end of follow-up; the step texts come
from the strategy's fields (index therapy, product source, transplant platform, who is transplanted, the
uptake and interval, salvage after a relapse after transplant) and the parameter values the run used. Under
each step, the ways a patient leaves the pathway there. The diagram is inline SVG: text stays selectable
and sharp in print, and the same strategies give the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from sim.inputs.strategies import Strategy

BOX_WIDTH = 176
"""Width of a step's box, px."""
BOX_HEIGHT = 72
"""Height of a step's box, px."""
GAP = 26
"""Horizontal space between boxes (holds the arrow), px."""
ROW_HEIGHT = 160
"""Height of one strategy's row: title, boxes and the exits under them, px."""
LEFT = 10
"""Left margin, px."""
LINE_HEIGHT = 13
"""Distance between lines of text in a box, px."""
CHARS_PER_LINE = 30
"""Characters of box text per line (wrapped at spaces)."""
EXIT_CHARS_PER_LINE = 30
"""Characters of exit text per line."""

PRODUCT_SOURCES: dict[str, str] = {
    "case_mix": "source from the case mix",
    "autologous": "autologous",
    "donor_derived": "donor-derived",
    "universal": "universal (off the shelf)",
}
"""Each CAR-T product source in words."""
PLATFORMS: dict[str, str] = {
    "haplo_no_prophylaxis": "haplo-HSCT, no conditioning or prophylaxis",
    "conventional": "conventional allo-HSCT",
}
"""Each transplant platform in words."""
SALVAGE: dict[str, str] = {"none": "no salvage", "dli": "donor lymphocyte infusion", "second_cart": "a second CD7 CAR-T"}
"""Each treatment of a relapse after transplant in words."""


@dataclass(frozen=True)
class Step:
    """One box of a strategy's row: its title, a line of detail, and how patients may leave the pathway there."""

    title: str
    detail: str
    exits: str


def _days(value: float) -> str:
    return f"{value:.0f} d"


def strategy_steps(strategy: Strategy, parameters: Mapping[str, float]) -> list[Step]:
    """The steps of ``strategy``'s pathway, in order, with the values the run used.

    Parameters
    ----------
    strategy : Strategy
    parameters : mapping of str to float
        Every parameter value used (``run.json``'s ``parameters``).
    """
    steps = [Step("Referral", "decision to treat (enrolment)", "")]
    if strategy.index_therapy == "cart":
        if strategy.cart_source == "universal":
            steps.append(Step("Product allocated", f"universal product in ~{_days(parameters['universal_product_days'])}",
                              "progression or death while waiting"))
        else:
            steps.append(Step("Apheresis, manufacture",
                              f"product: {PRODUCT_SOURCES[strategy.cart_source]}; ~{_days(parameters['manufacturing_days'])}",
                              "manufacturing failure; progression or death while waiting"))
        multiplier = "" if strategy.cd7_negative_multiplier == 1 else f"; CD7-negative escape x{strategy.cd7_negative_multiplier:g}"
        steps.append(Step("CD7 CAR-T infusion", f"after lymphodepletion{multiplier}",
                          "CRS, ICANS, infection during aplasia (deaths)"))
    else:
        steps.append(Step("Salvage chemotherapy", f"starts ~{_days(parameters['chemo_start_days'])} after referral",
                          "infection (deaths)"))
    steps.append(Step("Response assessment", f"day {parameters['response_assessment_days']:.0f}: CR (MRD-negative or positive)",
                      "no response (CD7-negative or positive): progression"))
    if strategy.hsct_platform == "none":
        steps.append(Step("No consolidation", "remission left to last", "relapse (CD7-negative or positive)"))
    else:
        names = strategy.transplant_parameters
        uptake = strategy.hsct_uptake if strategy.hsct_uptake is not None else parameters[names.uptake]
        interval = strategy.hsct_interval_days if strategy.hsct_interval_days is not None else parameters[names.interval_days]
        who = "all in CR" if strategy.hsct_for == "all_in_cr" else "MRD-positive CR only"
        steps.append(Step("Allogeneic HSCT", f"{PLATFORMS[strategy.hsct_platform]}; {who}; {100 * uptake:.0f}% at ~{_days(interval)}",
                          "graft failure; acute and chronic GVHD; non-relapse death"))
        steps.append(Step("After transplant", f"relapse treated with {SALVAGE[strategy.salvage_after_hsct_relapse]}",
                          "relapse (CD7-negative or positive)"))
    steps.append(Step("Death or censoring", "disease, treatment or background mortality", ""))
    return steps


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken at spaces (a longer word stays whole)."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _text(x: float, y: float, lines: Sequence[str], css: str) -> str:
    """An SVG text element of ``lines``, centred on ``x``, the first line's baseline at ``y``."""
    spans = "".join(f'<tspan x="{x:g}" dy="{0 if i == 0 else LINE_HEIGHT}">{escape(line)}</tspan>' for i, line in enumerate(lines))
    return f'<text class="{css}" x="{x:g}" y="{y:g}" text-anchor="middle">{spans}</text>'


def pathway_svg(strategies: Sequence[Strategy], parameters: Mapping[str, float]) -> str:
    """The pathway diagram of ``strategies`` as an inline SVG element (one row per strategy).

    Parameters
    ----------
    strategies : sequence of Strategy
        In the scenario's order.
    parameters : mapping of str to float
        Every parameter value used.

    Returns
    -------
    str
        ``<svg ...>...</svg>``, with a title for screen readers; text escaped.
    """
    rows = [(strategy, strategy_steps(strategy, parameters)) for strategy in strategies]
    columns = max(len(steps) for _, steps in rows)
    width = 2 * LEFT + columns * BOX_WIDTH + (columns - 1) * GAP
    height = ROW_HEIGHT * len(rows) + 10
    parts = [f'<svg class="pathway" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" aria-labelledby="pathway-title">',
             '<title id="pathway-title">Pathway of each strategy, from referral to death or the end of follow-up</title>',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">'
             '<path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>']
    for row, (strategy, steps) in enumerate(rows):
        top = ROW_HEIGHT * row + 8
        parts.append(f'<text class="row-title" x="{LEFT}" y="{top + 12}">{escape(strategy.name)}: '
                     f'{escape(strategy.description)}</text>')
        box_top = top + 22
        for column, step in enumerate(steps):
            x = LEFT + column * (BOX_WIDTH + GAP)
            kind = "end" if column in (0, len(steps) - 1) else "step"
            parts.append(f'<rect class="{kind}" x="{x}" y="{box_top}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="6"/>')
            detail = _wrap(step.detail, CHARS_PER_LINE)[:4]
            parts.append(_text(x + BOX_WIDTH / 2, box_top + 15, [step.title], "box-title"))
            parts.append(_text(x + BOX_WIDTH / 2, box_top + 15 + LINE_HEIGHT, detail, "box-detail"))
            if column:
                middle = box_top + BOX_HEIGHT / 2
                parts.append(f'<line class="flow" x1="{x - GAP + 2}" y1="{middle:g}" x2="{x - 2}" y2="{middle:g}" '
                             'marker-end="url(#arrow)"/>')
            if step.exits:
                parts.append(f'<line class="exit" x1="{x + BOX_WIDTH / 2:g}" y1="{box_top + BOX_HEIGHT}" '
                             f'x2="{x + BOX_WIDTH / 2:g}" y2="{box_top + BOX_HEIGHT + 12}" marker-end="url(#arrow)"/>')
                parts.append(_text(x + BOX_WIDTH / 2, box_top + BOX_HEIGHT + 24, _wrap(step.exits, EXIT_CHARS_PER_LINE)[:3], "exit-text"))
    parts.append("</svg>")
    return "\n".join(parts)
