"""The one error type users see: bad input, reported in one line."""

from __future__ import annotations

import math
from typing import Any

MAX_SHOWN = 80
"""Longest list or mapping shown in a message, characters."""
MAX_SHOWN_TEXT = 400
"""Longest text shown in a message, characters (long enough for a file path)."""


class _Missing:
    """The value of a field the user left out."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()
"""Stands for the value of a required field that was not given (shown as ``nothing``)."""


def show_value(value: Any) -> str:
    """A value as the user wrote it, for a one-line message (YAML-like, never a Python repr).

    Strings are quoted, numbers keep their spelling (``.nan``, ``.inf`` as in YAML), lists and
    mappings are written in YAML flow style; long values are cut (texts at :data:`MAX_SHOWN_TEXT`
    characters, lists and mappings at :data:`MAX_SHOWN`).

    Parameters
    ----------
    value : Any
        The value given.
    """
    shown = _flow(value)
    limit = MAX_SHOWN_TEXT if isinstance(value, str) else MAX_SHOWN
    return shown if len(shown) <= limit else shown[:limit - 3] + "..."


def _flow(value: Any, nested: bool = False) -> str:
    if value is MISSING:
        return "nothing"
    if value is None:
        return "null"
    if isinstance(value, bool) or type(value).__name__ in ("bool", "bool_"):  # numpy's bool too (a value read from a table)
        return "true" if value else "false"
    if isinstance(value, str):
        text = value.replace("\n", " ")
        return text if nested and _plain(text) else "'" + text + "'"
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        number = float(value)
        if math.isnan(number):
            return ".nan"
        if math.isinf(number):
            return ".inf" if number > 0 else "-.inf"
        return f"{number:g}"
    if isinstance(value, int) or type(value).__name__.startswith("int"):
        return str(int(value))
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flow(k, nested=True)}: {_flow(v, nested=True)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v, nested=True) for v in value) + "]"
    return str(value)


def _plain(text: str) -> bool:
    """Whether ``text`` reads as itself inside a YAML flow list or mapping, without quotes."""
    import yaml

    if not text or text != text.strip() or any(c in text for c in ",:[]{}#'\"&*!|>%@`"):
        return False
    return isinstance(yaml.safe_load(text), str)


def unreadable(error: BaseException, otherwise: str) -> str:
    """Why a file could not be read, in plain words for a message (never an exception's class name).

    Parameters
    ----------
    error : BaseException
        What reading the file raised.
    otherwise : str
        The reason to give when the error says nothing plainer (e.g. ``"not CSV"``).
    """
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, IsADirectoryError):
        return "it is a folder"
    if isinstance(error, NotADirectoryError):
        return "a part of the path is a file"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    if type(error).__name__ == "EmptyDataError":  # pandas: a file with nothing in it
        return "the file is empty"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror[:1].lower() + error.strerror[1:]
    return otherwise


class InputError(Exception):
    """Bad user input: names the field, the value given and what is allowed.

    It survives pickling, so an input error raised in a worker process (local cores or Dask)
    reaches the user as the same one line.

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
        super().__init__(f"{field}: got {show_value(value)}; {allowed}")

    def __reduce__(self) -> tuple[type[InputError], tuple[str, Any, str]]:
        return InputError, (self.field, self.value, self.allowed)
