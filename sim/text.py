"""Plain text for the terminal and for figure labels."""

from __future__ import annotations

import math
from typing import Any


def setting_label(value: Any) -> str:
    """A scenario setting as shown to the user: ``unlimited`` for none (``None`` or NaN), numbers
    without trailing zeros."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unlimited"
    return f"{value:g}" if isinstance(value, float) else str(value)


def fixed_width(header: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of a left-aligned table whose columns are as wide as their widest cell.

    Parameters
    ----------
    header : list of str
        Column titles.
    rows : list of list of str
        Cells, one list per row, as many as the header.
    """
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in (header, *rows)]
