"""The one error type users see: bad input, reported in one line."""

from __future__ import annotations

from typing import Any


class InputError(Exception):
    """Bad user input: names the field, the value given and what is allowed.

    Parameters
    ----------
    field : str
        Dotted path of the offending field, or a file path.
    value : Any
        The value that was given.
    allowed : str
        What would have been accepted.
    """

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{field}: got {shown}; {allowed}")
