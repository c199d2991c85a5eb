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
from werkzeug.datastructures import MultiDict

from crosmos_contract.exchange import NOT_JSON
from mockserver.contract import params
from mockserver.contract.operations import Operation
from mockserver.contract.params import QueryParameter

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
_UNDECIDED: Any = object()  # a status and media type whose check is not worked out yet
PARAM_KINDS = frozenset({"date", "date-time"})
"""Query parameter kinds whose 422 detail is pydantic's alone: openapi-core's verdict on them never
reaches the reply (``ContractValidator._judge`` drops it when pydantic parsed or phrased the value)."""


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
        # (status, media type) → False (undocumented status), None (openapi-core decides) or the validator;
        # bounded: statuses are three digits, and every media type but JSON shares one key.
        self._checks: dict[tuple[int, str], jsonschema_rs.Validator | bool | None] = {}
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
        key = (status, mimetype if mimetype in JSON_TYPES else "")  # the verdict is the same for any other type
        check = self._checks.get(key, _UNDECIDED)
        if check is _UNDECIDED:
            check = self._check(*key)
        if check is None or check is False:
            return check
        if parsed is UNPARSED:
            try:
                parsed = json.loads(body)
            except ValueError:
                return False
        elif parsed is NOT_JSON:
            return False
        return bool(check.is_valid(parsed))

    def _check(self, status: int, mimetype: str) -> jsonschema_rs.Validator | bool | None:
        """What decides a reply of ``status`` and ``mimetype`` ("": another type): False when the
        status is not documented (openapi-core's ResponseNotFound), None when openapi-core must
        decide, else the body's compiled validator. Worked out once per status and media type."""
        with self._lock:
            if (status, mimetype) not in self._checks:
                self._checks[(status, mimetype)] = self._decide(str(status), mimetype)
            return self._checks[(status, mimetype)]

    def _decide(self, status: str, mimetype: str) -> jsonschema_rs.Validator | bool | None:
        key = _response_key(self.operation, status)
        if key is None:
            return False
        response = self.operation.response(key)
        if "headers" in response or not isinstance(response.get("content"), Mapping):
            return None
        content: Mapping[str, Any] = response["content"]
        if mimetype not in content:
            return None  # a range, a parameter, another media type: openapi-core's finder decides
        schema = content[mimetype].get("schema") if isinstance(content[mimetype], Mapping) else None
        if not isinstance(schema, Mapping) or not _fast_schema(schema, self._document):
            return None
        return _compile(self.operation, key, mimetype, self._registry)

    def request_verdict(self, authorization: str | None,
                        args: MultiDict[str, str]) -> tuple[bool, list[Mapping[str, Any]], dict[str, Any]] | None:
        """Whether no security requirement is met, the query's 422 details and the values read, as
        the reference reads them; None where openapi-core must decide."""
        if not self.parameters_fast:
            return None
        failed = self.security_failed(authorization)
        if failed is None:
            return None
        if failed:
            return True, [], {}
        details, values = params.read_query(args, self.query)
        return False, details, values


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

    def request_verdict(self, operation: Operation, authorization: str | None,
                        args: MultiDict[str, str]) -> tuple[bool, list[Mapping[str, Any]], dict[str, Any]] | None:
        """:meth:`CompiledOperation.request_verdict` of ``operation``."""
        return self.operation(operation).request_verdict(authorization, args)

    def body_valid(self, operation: Operation, status: int, mimetype: str, body: bytes,
                   parsed: Any = UNPARSED) -> bool | None:
        """:meth:`CompiledOperation.body_valid` of ``operation``."""
        return self.operation(operation).body_valid(status, mimetype, body, parsed)


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


def _compile(operation: Operation, status: str, mimetype: str,
             registry: jsonschema_rs.Registry) -> jsonschema_rs.Validator | None:
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
