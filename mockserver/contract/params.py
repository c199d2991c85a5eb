"""Parse request parameters the way the FastAPI reference does (pydantic's lax mode).

openapi-core decides *whether* a request breaks the contract; the reference decides what the
client then sees. Pydantic is what FastAPI uses, so the mock borrows it for the exact error
``type``/``msg``/``ctx`` and for the lax forms production accepts (``2026-11-01T00:00:00``,
a Unix timestamp at midnight).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError
from werkzeug.datastructures import MultiDict

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


@dataclass(frozen=True)
class QueryParameter:
    """A query parameter as the reference reads it: its name, the one scalar kind it takes."""

    name: str
    kind: str
    required: bool


@cache
def _adapter(kind: str) -> TypeAdapter[Any]:
    types: dict[str, Any] = {"date": date, "date-time": datetime, "integer": int, "number": float,
                             "boolean": bool, "string": str}
    return TypeAdapter(types.get(kind, str))


def schema_kind(schema: Mapping[str, Any]) -> str:
    """The one scalar kind a parameter schema asks for (``anyOf [X, null]`` counts as X)."""
    for option in schema.get("anyOf", schema.get("oneOf", [])):
        if isinstance(option, Mapping) and option.get("type") != "null":
            return schema_kind(option)
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "string" and schema.get("format") in ("date", "date-time"):
        return str(schema["format"])
    return str(kind)


def parse_value(kind: str, raw: str, loc: tuple[str, str]) -> tuple[Any, list[dict[str, Any]]]:
    """(value, []) when the reference accepts ``raw``; (None, [FastAPI error detail]) otherwise.

    A date written ``YYYY-MM-DD`` (nearly every request) is read by :meth:`date.fromisoformat`,
    which reads that form exactly as pydantic does, at a tenth of the cost; anything else, and
    any such date that does not exist, is pydantic's to read and to word."""
    if kind == "date" and len(raw) == 10 and _ISO_DATE.fullmatch(raw):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(raw), []
    try:
        return _adapter(kind).validate_python(raw), []
    except ValidationError as exc:
        return None, fastapi_details(exc, loc)


def fastapi_details(error: ValidationError, loc: tuple[str, str]) -> list[dict[str, Any]]:
    """pydantic's errors on one parameter as FastAPI words them in a 422's ``detail``."""
    details = []
    for found in error.errors(include_url=False):
        detail: dict[str, Any] = {"type": found["type"], "loc": list(loc), "msg": found["msg"],
                                  "input": found["input"]}
        if "ctx" in found:
            detail["ctx"] = {key: str(value) for key, value in found["ctx"].items()}
        details.append(detail)
    return details


def read_query(args: MultiDict[str, str],
               query: Sequence[QueryParameter]) -> tuple[list[Mapping[str, Any]], dict[str, Any]]:
    """The query parameters as the reference reads them (pydantic, the last of repeated values):
    its 422 details, and the values it accepted."""
    details: list[Mapping[str, Any]] = []
    values: dict[str, Any] = {}
    for parameter in query:
        name = parameter.name
        raw = args.getlist(name)
        if not raw:
            if parameter.required:
                details.append({"type": "missing", "loc": ["query", name], "msg": "Field required", "input": None})
            continue
        value, problems = parse_value(parameter.kind, raw[-1], ("query", name))
        details.extend(problems)
        values[name] = value
    return details, values


def value_error(loc: tuple[str, str], raw: str, message: str) -> dict[str, Any]:
    """A ``value_error`` detail, as a pydantic validator raising ValueError produces."""
    return {"type": "value_error", "loc": list(loc), "msg": f"Value error, {message}", "input": raw,
            "ctx": {"error": message}}
