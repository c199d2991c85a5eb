"""The contract's checks compiled once per load, for the hot path; openapi-core stays the oracle.

openapi-core reads a document faithfully but walks it on every call (about 3 ms a request and
6 ms a response body here). What it decides for the shapes this contract uses is small: whether
the ``Authorization`` header satisfies a security requirement, and whether a response's status,
media type and JSON body fit the document. This module decides exactly that, with the body schemas
compiled by ``jsonschema-rs`` (Rust, one validator per response and media type) into checks of
about a microsecond, and answers ``None`` — "ask openapi-core" — for any shape it does not cover.

Only verdicts come from here. A request or body found wanting is judged again by openapi-core, so
every message a user reads is still openapi-core's; ``tests/mockserver/contract/test_compiled.py`` checks,
on generated requests and bodies, that both reach the same verdict.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

import jsonschema_rs

from crosmos_contract.exchange import NOT_JSON
from mockserver.contract import params
from mockserver.contract.operations import Operation

CONTRACT_URI = "urn:crosmos:contract"
JSON_TYPES = frozenset({"application/json"})
_RE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


def _is_date(value: str) -> bool:
    """jsonschema's ``date`` check, which openapi-core's OAS 3.1 checker uses: ``YYYY-MM-DD`` that
    Python reads as a date (years 1-9999; jsonschema-rs's own check also takes year 0000)."""
    try:
        return bool(_RE_DATE.fullmatch(value) and date.fromisoformat(value))
    except ValueError:
        return False


FORMATS = {"date": _is_date}
"""Formats checked as openapi-core checks them; a schema using any other format (``int32``,
``email`` …) is left to openapi-core."""
UNSUPPORTED = frozenset({"pattern", "patternProperties", "discriminator", "$dynamicRef", "$recursiveRef"})
"""Keywords jsonschema-rs reads otherwise than openapi-core (``pattern`` is ECMA-262 there and
Python's ``re`` here; ``discriminator`` is a schema choice to openapi-core, an annotation to
jsonschema-rs): a schema using one is left to openapi-core (tests/mockserver/contract/test_compiled.py)."""
NOT_SCHEMAS = frozenset({"xml", "externalDocs", "example", "examples", "default", "const", "enum",
                         "deprecated", "readOnly", "writeOnly", "title", "description"})
"""Keywords whose values are data or annotations, not subschemas: a ``format`` key inside is no format."""
UNPARSED: Any = object()
PARAM_KINDS = frozenset({"date", "date-time"})
"""Query parameter kinds whose 422 detail is pydantic's alone: openapi-core's verdict on them never
reaches the reply (``ContractValidator._judge`` drops it when pydantic parsed or phrased the value)."""


@dataclass(frozen=True)
class QueryParameter:
    """A query parameter as the reference reads it: its name, the one scalar kind it takes."""

    name: str
    kind: str
    required: bool


@dataclass(frozen=True)
class _HttpScheme:
    """openapi-core's ``HttpProvider``: ``Authorization: <scheme> <anything>``, the scheme compared as
    it does (the header's lower-cased against the document's as written)."""

    scheme: str

    def satisfied(self, authorization: str | None) -> bool:
        if authorization is None or " " not in authorization:
            return False
        return authorization.split(" ", 1)[0].lower() == self.scheme


class CompiledOperation:
    """One operation's fast checks; each answers None where openapi-core must decide."""

    def __init__(self, operation: Operation, document: Mapping[str, Any], registry: jsonschema_rs.Registry) -> None:
        self.operation = operation
        self.security = _security(operation)
        self.query = tuple(QueryParameter(str(p["name"]), params.schema_kind(p.get("schema") or {}),
                                          bool(p.get("required")))
                           for p in operation.parameters if p.get("in") == "query")
        self.parameters_fast = (all(p.get("in") == "query" and "content" not in p for p in operation.parameters)
                                and all(parameter.kind in PARAM_KINDS for parameter in self.query))
        self._document, self._registry = document, registry
        self._bodies: dict[tuple[str, str], jsonschema_rs.Validator | None] = {}
        self._lock = threading.Lock()

    def security_failed(self, authorization: str | None) -> bool | None:
        """Whether no security requirement is met (openapi-core's ``SecurityValidationError``)."""
        if self.security is None:
            return None
        if not self.security:
            return False
        return not any(all(scheme.satisfied(authorization) for scheme in requirement)
                       for requirement in self.security)

    def body_valid(self, status: int, mimetype: str, body: bytes, parsed: Any = UNPARSED) -> bool | None:
        """Whether a reply fits the document: its status documented, its media type, its JSON body
        (``parsed``: the body as ``json.loads`` read it, when the caller already did)."""
        key = _response_key(self.operation, str(status))
        if key is None:
            return False  # openapi-core's ResponseNotFound
        response = self.operation.response(key)
        if "headers" in response or not isinstance(response.get("content"), Mapping):
            return None
        content: Mapping[str, Any] = response["content"]
        if mimetype not in content or mimetype not in JSON_TYPES:
            return None  # a range, a parameter, another media type: openapi-core's finder decides
        validator = self._validator(key, mimetype, content[mimetype])
        if validator is None:
            return None
        if parsed is UNPARSED:
            try:
                parsed = json.loads(body)
            except ValueError:
                return False
        elif parsed is NOT_JSON:
            return False
        return bool(validator.is_valid(parsed))

    def _validator(self, status: str, mimetype: str, media: Mapping[str, Any]) -> jsonschema_rs.Validator | None:
        key = (status, mimetype)
        if key in self._bodies:
            return self._bodies[key]
        with self._lock:
            if key not in self._bodies:
                self._bodies[key] = _compile(self.operation, status, mimetype, media, self._document,
                                              self._registry)
            return self._bodies[key]


class CompiledContract:
    """Every operation's :class:`CompiledOperation`, built on first use (cold start pays nothing)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self._registry: jsonschema_rs.Registry | None = None
        self._operations: dict[tuple[str, str], CompiledOperation] = {}
        self._lock = threading.Lock()

    def operation(self, operation: Operation) -> CompiledOperation:
        key = (operation.method, operation.path)
        found = self._operations.get(key)
        if found is None:
            with self._lock:
                found = self._operations.get(key)
                if found is None:
                    if self._registry is None:
                        self._registry = jsonschema_rs.Registry([(CONTRACT_URI, dict(self.document))],
                                                                draft=jsonschema_rs.Draft202012)
                    found = self._operations[key] = CompiledOperation(operation, self.document, self._registry)
        return found


def _response_key(operation: Operation, status: str) -> str | None:
    """openapi-core's ``ResponseFinder``: the status, its ``NXX`` range, then ``default``."""
    responses: Mapping[str, Any] = operation.spec.get("responses") or {}
    for key in (status, f"{status[0]}XX", "default"):
        if key in responses:
            return key
    return None


def _security(operation: Operation) -> tuple[tuple[_HttpScheme, ...], ...] | None:
    """The requirements as alternatives of HTTP schemes; None when one needs more than the header."""
    alternatives = []
    for requirement in operation.security:
        if not requirement:
            return ()  # an empty requirement: anonymous requests are allowed
        needed = []
        for scheme in requirement:
            if not isinstance(scheme, Mapping) or scheme.get("type") != "http":
                return None  # API keys, OAuth, unknown names: openapi-core's providers decide
            needed.append(_HttpScheme(str(scheme.get("scheme", ""))))
        alternatives.append(tuple(needed))
    return tuple(alternatives)


def _compile(operation: Operation, status: str, mimetype: str, media: Mapping[str, Any],
             document: Mapping[str, Any], registry: jsonschema_rs.Registry) -> jsonschema_rs.Validator | None:
    schema = media.get("schema")
    if not isinstance(schema, Mapping) or not _fast_schema(schema, document):
        return None
    pointer = "/".join(_escape(part) for part in ("paths", operation.path, operation.method.lower(), "responses",
                                                    status, "content", mimetype, "schema"))
    try:
        return jsonschema_rs.Draft202012Validator({"$ref": f"{CONTRACT_URI}#/{pointer}"}, validate_formats=True,
                                                  formats=FORMATS, registry=registry)
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError):
        return None  # a schema jsonschema-rs cannot compile: openapi-core judges these bodies


def _fast_schema(schema: Any, document: Mapping[str, Any], seen: frozenset[str] = frozenset()) -> bool:
    """Whether every format ``schema`` uses, through its local refs, is one both checkers agree on."""
    if isinstance(schema, Mapping):
        if "format" in schema and schema["format"] not in FORMATS:
            return False
        if any(keyword in schema for keyword in UNSUPPORTED):
            return False
        multiple = schema.get("multipleOf")
        if multiple is not None and not (isinstance(multiple, int) and not isinstance(multiple, bool)):
            return False  # a decimal step: jsonschema divides in floats (0.07 / 0.01 = 7.000000000000001)
        ref = schema.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith("#/"):
                return False  # another document: openapi-core resolves it
            if ref not in seen and not _fast_schema(_pointed(document, ref), document, seen | {ref}):
                return False
        return all(_fast_schema(value, document, seen) for key, value in schema.items()
                   if key not in NOT_SCHEMAS and key != "$ref")
    if isinstance(schema, list):
        return all(_fast_schema(value, document, seen) for value in schema)
    return True


def _pointed(document: Mapping[str, Any], ref: str) -> Any:
    node: Any = document
    for escaped in ref[2:].split("/"):
        part = escaped.replace("~1", "/").replace("~0", "~")
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _escape(part: str) -> str:
    """A JSON pointer token, percent-encoded for a URI fragment (``{id}`` in a path template)."""
    return quote(part.replace("~", "~0").replace("/", "~1"), safe="~")
