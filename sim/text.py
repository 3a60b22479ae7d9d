"""Plain-text tables for the terminal."""

from __future__ import annotations


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
