"""Request validation and the response self-check, both with openapi-core, both cached.

openapi-core costs about a millisecond a call, more than the rest of a request. Its verdict on
a request depends only on the method, path, query string and the Authorization header's shape
(for operations without header/cookie parameters or bodies), so verdicts are cached in a
bounded LRU keyed on exactly those. The self-check of a generated body is cached the same way,
keyed on the body's bytes: a body that validated once is valid again.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from flask import Request, Response
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.validation.request.exceptions import (
    MissingRequiredParameter,
    ParameterValidationError,
    SecurityValidationError,
)

from mockserver import params
from mockserver.operations import Operation

log = logging.getLogger(__name__)
K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A small bounded mapping; the oldest entry goes first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self._size:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


@dataclass(frozen=True)
class RequestVerdict:
    """What the contract says of a request, before authentication is judged."""

    security_failed: bool = False
    errors: tuple[Mapping[str, Any], ...] = ()  # FastAPI-shaped 422 details
    values: Mapping[str, Any] = field(default_factory=dict)  # query parameters as the reference parses them

    @property
    def valid(self) -> bool:
        return not self.security_failed and not self.errors


class ContractValidator:
    def __init__(self, resolved: Mapping[str, Any], cache_size: int = 4096) -> None:
        self._openapi = OpenAPI.from_dict(dict(resolved))
        self._requests: LRU[tuple[Any, ...], RequestVerdict] = LRU(cache_size)
        self._bodies: LRU[tuple[str, str, int, bytes], tuple[str, ...]] = LRU(cache_size)

    def check_request(self, request: Request, operation: Operation) -> RequestVerdict:
        key: tuple[Any, ...] | None = None
        if operation.cacheable_validation:
            environ = request.environ  # read once: every request.<attr> through Flask's proxy is a lookup
            scheme, _, credentials = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
            key = (operation.method, request.path, environ.get("QUERY_STRING", ""), scheme.lower(),
                   bool(credentials.strip()))
            cached = self._requests.get(key)
            if cached is not None:
                return cached
        verdict = self._judge(request, operation)
        if key is not None:
            self._requests.put(key, verdict)
        return verdict

    def _judge(self, request: Request, operation: Operation) -> RequestVerdict:
        result = self._openapi.unmarshal_request(WerkzeugOpenAPIRequest(request))
        errors = list(result.errors)
        if any(isinstance(e, SecurityValidationError) for e in errors):
            return RequestVerdict(security_failed=True)
        details: list[Mapping[str, Any]] = []
        values: dict[str, Any] = {}
        for parameter in operation.parameters:
            if parameter.get("in") != "query":
                continue
            name = str(parameter["name"])
            raw = request.args.getlist(name)
            if not raw:
                if parameter.get("required"):
                    details.append({"type": "missing", "loc": ["query", name], "msg": "Field required",
                                    "input": None})
                continue
            value, problems = params.parse_value(params.schema_kind(parameter.get("schema") or {}), raw[-1],
                                                 ("query", name))
            details.extend(problems)
            values[name] = value
        phrased = {tuple(d["loc"]) for d in details}
        for error in errors:
            if isinstance(error, ParameterValidationError) and error.location == "query":
                loc = ("query", error.name)
                kind = params.schema_kind(_schema_of(operation, error.name))
                if loc in phrased or (kind in ("date", "date-time") and error.name in values):
                    continue  # phrased above as the reference does, or a lax date the reference takes
                raw = request.args.getlist(error.name)
                details.append({"type": "value_error", "loc": list(loc), "msg": _one_line(error),
                                "input": raw[-1] if raw else None})
                continue
            if isinstance(error, MissingRequiredParameter):
                details.append({"type": "missing", "loc": [error.location, error.name],
                                "msg": "Field required", "input": None})
            elif isinstance(error, ParameterValidationError):
                details.append({"type": "value_error", "loc": [error.location, error.name],
                                "msg": str(error.__cause__ or error), "input": None})
            else:
                details.append({"type": "value_error", "loc": ["body"], "msg": _one_line(error),
                                "input": None})
        return RequestVerdict(errors=tuple(details), values=values)

    def check_response(self, request: Request, response: Response, operation: Operation) -> tuple[str, ...]:
        """Every way ``response`` breaks the contract (empty when it does not)."""
        key = (operation.method, operation.path, response.status_code, response.get_data())
        cached = self._bodies.get(key)
        if cached is not None:
            return cached
        result = self._openapi.unmarshal_response(WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(response))
        problems = tuple(_one_line(error) for error in result.errors)
        self._bodies.put(key, problems)
        return problems

    def clear(self) -> None:
        self._requests.clear()
        self._bodies.clear()


def _schema_of(operation: Operation, name: str) -> Mapping[str, Any]:
    found = next((p.get("schema") for p in operation.parameters if p.get("name") == name), None)
    return found if isinstance(found, Mapping) else {}


def _one_line(error: BaseException) -> str:
    cause = f": {error.__cause__}" if error.__cause__ else ""
    text = " ".join(f"{error}{cause}".split())
    return text[:500]
