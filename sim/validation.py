"""Turn pydantic validation errors into the one-line messages users see."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError, model_validator

from sim.errors import MISSING, InputError

_ALLOWED_BY_TYPE = {
    "extra_forbidden": "this key is not allowed here",
    "missing": "this field is required",
}


class OrderedRange:
    """Mixin for models with ``low`` and ``high`` fields: refuses ``low >= high``."""

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


def first_error(error: ValidationError) -> tuple[str, Any, str]:
    """Field path, offending value and what is allowed, for the first validation error.

    Parameters
    ----------
    error : pydantic.ValidationError
        The error raised by a model.

    Returns
    -------
    tuple
        ``(dotted field path, value given, description of what is allowed)``.
    """
    detail = error.errors(include_url=False)[0]
    location = [str(part) for part in detail["loc"] if not _is_union_tag(part)]
    field = ".".join(location)
    allowed = _ALLOWED_BY_TYPE.get(detail["type"], detail["msg"])
    if allowed.startswith("Value error, "):
        allowed = allowed[len("Value error, "):]
    value = detail.get("input")
    if detail["type"] == "missing":
        value = MISSING
    return field, value, allowed


def _is_union_tag(part: object) -> bool:
    """Pydantic inserts the tag of a discriminated union into the path; users never wrote it."""
    return isinstance(part, str) and part in {"beta", "gamma", "lognormal", "uniform", "fixed", "truncnorm"}


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """Read a YAML file whose top level must be a mapping.

    Raises
    ------
    InputError
        When the file is missing, unreadable, not YAML or not a mapping.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, PermissionError, UnicodeDecodeError) as error:
        raise InputError(f"{what} file", str(path), f"a readable YAML file is required ({type(error).__name__})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{what} file", str(path), f"valid YAML is required (syntax error{where})") from None
    if not isinstance(raw, dict):
        raise InputError(f"{what} file", str(path), "a YAML mapping of keys to values is required")
    return raw
