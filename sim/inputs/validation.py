"""Turn pydantic validation errors into the one-line messages users see; read YAML strictly."""

from __future__ import annotations

import math
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from sim.inputs.errors import MISSING, InputError, show_value, unreadable

KEYS_SHOWN = 8
"""Allowed keys listed in a message before it is cut short with ``...``."""

_ALLOWED_BY_TYPE = {
    "extra_forbidden": "this key is not allowed here",
    "missing": "this field is required",
    "finite_number": "a finite number is required",
    "float_type": "a number is required",
    "float_parsing": "a number is required",
    "int_parsing": "a whole number is required",
    "int_type": "a whole number is required",
    "string_type": "text is required",
    "string_pattern_mismatch": "a name of letters, digits, _, . and - is required, not starting with a dot",
    "list_type": "a list is required",
    "dict_type": "a mapping of keys to values is required",
    "model_type": "a mapping of keys to values is required",
    "model_attributes_type": "a mapping of keys to values is required",
}
"""Plain words for pydantic's error types (the rest keep pydantic's message)."""


class StrictModel(BaseModel):
    """Base of every model read from user input: unknown keys refused, no bool read as a number, no
    text read as a number (a YAML integer is still a valid float), only finite numbers (no ``.inf``,
    no ``.nan``); frozen once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class OrderedRange:
    """Mixin for models with ``low`` and ``high`` fields: refuses ``low >= high``."""

    if typing.TYPE_CHECKING:  # the fields of the models it is mixed into (not fields of its own)
        low: float
        high: float

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low < self.high:
            raise ValueError(f"low ({show_value(self.low)}) must be below high ({show_value(self.high)})")
        return self


def key_list(names: typing.Iterable[str]) -> str:
    """``"a, b, c"``: the names, cut to the first :data:`KEYS_SHOWN` and ``...`` when longer.

    Parameters
    ----------
    names : iterable of str
        The keys accepted.
    """
    names = list(names)
    return ", ".join(names[:KEYS_SHOWN] + (["..."] if len(names) > KEYS_SHOWN else []))


def first_error(error: ValidationError, model: type[BaseModel] | None = None) -> tuple[str, Any, str]:
    """Field path, offending value and what is allowed, for the first validation error.

    Parameters
    ----------
    error : pydantic.ValidationError
        The error raised by a model.
    model : type of pydantic.BaseModel, optional
        The model that was validated; with it, an unknown key's message lists the allowed keys.

    Returns
    -------
    tuple
        ``(dotted field path, value given, description of what is allowed)``.
    """
    detail = error.errors(include_url=False)[0]
    location = [str(part) for part in detail["loc"] if not _is_union_tag(part)]
    allowed = _ALLOWED_BY_TYPE.get(detail["type"], detail["msg"])
    if detail["type"] == "union_tag_not_found":
        allowed = f"the key {detail['ctx']['discriminator']} is required"
    given = detail.get("input")
    if detail["type"] == "int_type" and isinstance(given, float) and math.isfinite(given):
        allowed = "a whole number, written without a decimal point, is required"
        if given.is_integer():  # 300.0 or 3e2, shown as 300: say what to write instead
            allowed = f"a whole number, written with digits only ({int(given)}), is required"
    allowed = allowed.removeprefix("Value error, ")
    if location and location[-1] == "[key]":
        location.pop()
        allowed = "each key must be text"
    if detail["type"] == "extra_forbidden" and model is not None:
        container = _model_at(model, list(detail["loc"][:-1]))
        if container is not None:
            allowed = f"{allowed}; allowed: {key_list(container.model_fields)}"
    value = MISSING if detail["type"] == "missing" else detail.get("input")
    return ".".join(location), value, allowed


def _is_union_tag(part: object) -> bool:
    """Pydantic inserts the tag of a discriminated union into the path; users never wrote it."""
    return isinstance(part, str) and part in {"beta", "gamma", "lognormal", "uniform", "fixed", "truncnorm"}


def _model_at(annotation: Any, location: list[Any]) -> type[BaseModel] | None:
    """The model found by following ``location`` (field names, list indices, mapping keys and
    union tags, as in a pydantic error) down from ``annotation``; ``None`` if there is none."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _model_at(arguments[0], location)
    if origin in (typing.Union, types.UnionType):
        members = [m for m in arguments if m is not type(None)]
        if location and _is_union_tag(location[0]):
            tagged = [m for m in members if _has_tag(m, location[0])]
            return _model_at(tagged[0], location[1:]) if tagged else None
        return next((found for m in members if (found := _model_at(m, location)) is not None), None)
    if not location:
        return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    part, rest = location[0], location[1:]
    if origin in (list, tuple) and arguments:
        return _model_at(arguments[0], rest)
    if origin is dict:
        return _model_at(arguments[1], rest)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and part in annotation.model_fields:
        return _model_at(annotation.model_fields[part].annotation, rest)
    return None


def _has_tag(member: Any, tag: str) -> bool:
    """Whether a member of a discriminated union is the one with ``tag``."""
    if not (isinstance(member, type) and issubclass(member, BaseModel)):
        return False
    return any(tag in typing.get_args(field.annotation) for field in member.model_fields.values())


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A key given twice in one YAML mapping (PyYAML keeps the last one silently)."""

    def __init__(self, key: Any, first_line: int, line: int, mark: yaml.Mark) -> None:
        super().__init__(problem=f"duplicate key {show_value(key)}", problem_mark=mark)
        self.key, self.first_line, self.line = key, first_line, line


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (its C parser where libyaml is there), refusing a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, typing.Hashable):
                continue
            line = key_node.start_mark.line + 1
            if key in first_lines:
                raise DuplicateKeyError(key, first_lines[key], line, key_node.start_mark)
            first_lines[key] = line
        return super().construct_mapping(node, deep)


_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))
"""A number in scientific notation without a decimal point (``1e-3``, ``4E1``) is a number, as in YAML 1.2;
PyYAML's YAML 1.1 rules would read it as text, and a user would be told that ``1e-3`` is not a number."""


def load_yaml(text: str) -> Any:
    """Parse YAML text like ``yaml.safe_load``, but refuse a key given twice in one mapping, and read
    ``1e-3`` as a number (YAML 1.2), not as text.

    Raises
    ------
    yaml.YAMLError
        For a syntax error; :class:`DuplicateKeyError` for a repeated key.
    """
    return yaml.load(text, Loader=_UniqueKeyLoader)


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """Read a YAML file whose top level must be a mapping.

    Raises
    ------
    InputError
        When the file is missing, unreadable, not YAML, repeats a key, or is not a mapping.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, PermissionError, UnicodeDecodeError) as error:
        raise InputError(f"{what} file", str(path), f"a readable YAML file is required ({unreadable(error, 'not text')})") from None
    try:
        raw = load_yaml(text)
    except DuplicateKeyError as error:
        raise InputError(f"{what} file", str(path), f"each key may appear once in a mapping: {show_value(error.key)} "
                         f"is given at line {error.first_line} and again at line {error.line}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{what} file", str(path), f"valid YAML is required (syntax error{where})") from None
    if not isinstance(raw, dict):
        raise InputError(f"{what} file", str(path), "a YAML mapping of keys to values is required")
    return raw
