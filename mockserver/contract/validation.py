"""Request validation and the response self-check: compiled checks first, openapi-core as the oracle.

openapi-core costs milliseconds a call, far more than the rest of a request, so the verdicts come
from :mod:`mockserver.contract.compiled` wherever it covers the operation's shapes; openapi-core judges
the rest, and words every finding a user reads (a request or body the compiled checks find wanting
is judged again by it). A request's verdict depends only on the method, path, query string and the
Authorization header's shape (for operations without header/cookie parameters or bodies), so
verdicts are also cached (a bounded cache) keyed on exactly those; body checks are cached by the
body's bytes: a body that validated once is valid again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from flask import Request, Response

from crosmos_contract.exchange import Exchange
from crosmos_contract.rules import Violation
from mockserver.contract import params
from mockserver.contract.compiled import UNPARSED, CompiledContract
from mockserver.contract.operations import Operation
from mockserver.store.caches import BoundedCache

if TYPE_CHECKING:
    from openapi_core import OpenAPI

log = logging.getLogger("mockserver.validation")  # the name its log lines have always carried
# openapi-core is imported where the oracle is first needed, never at start: its import alone
# takes most of a cold start (``python -X importtime``), and the compiled checks often suffice.


@dataclass(frozen=True)
class RequestVerdict:
    """What the contract says of a request, before authentication is judged."""

    security_failed: bool = False
    errors: tuple[Mapping[str, Any], ...] = ()  # FastAPI-shaped 422 details
    values: Mapping[str, Any] = field(default_factory=dict)  # query parameters as the reference parses them

    @property
    def valid(self) -> bool:
        return not self.security_failed and not self.errors


class Reply(NamedTuple):
    """A reply as the body check reads it; ``view`` builds the werkzeug Response openapi-core needs,
    only when the compiled checks leave the verdict to it."""

    status: int
    mimetype: str  # lower case, without parameters
    body: bytes
    view: Callable[[], Response]


class ContractValidator:
    def __init__(self, resolved: Mapping[str, Any], cache_size: int = 4096, *, spec_checked: bool = False) -> None:
        """``spec_checked``: ``resolved`` is a document ``load_contract`` just found valid, so openapi-core
        need not run the same openapi-spec-validator check on the same document a second time."""
        self._resolved, self._spec_checked = resolved, spec_checked
        self._oracle: OpenAPI | None = None  # built on first use: the compiled checks often suffice
        self._oracle_lock = threading.Lock()
        self.compiled = CompiledContract(resolved)
        self._requests: BoundedCache[tuple[Any, ...], RequestVerdict] = BoundedCache(cache_size)
        self._bodies: BoundedCache[tuple[str, str, int, bytes], tuple[tuple[str, Violation], ...]] = \
            BoundedCache(cache_size)

    def check_request(self, request: Request, operation: Operation) -> RequestVerdict:
        key: tuple[Any, ...] | None = None
        if operation.cacheable_validation:
            environ = request.environ  # read once: every request.<attr> through Flask's proxy is a lookup
            # openapi-core reads "<scheme> <anything>": whether a space follows the scheme decides too
            scheme, space, credentials = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
            key = (operation.method, request.path, environ.get("QUERY_STRING", ""), scheme.lower(), bool(space),
                   bool(credentials.strip()))
            cached = self._requests.get(key)
            if cached is not None:
                return cached
        verdict = self._fast_verdict(request, operation)
        if verdict is None:
            verdict = self._judge(request, operation)
        if key is not None:
            self._requests.put(key, verdict)
        return verdict

    @property
    def oracle(self) -> OpenAPI:
        """openapi-core over the same document, built once, when first needed."""
        if self._oracle is None:
            with self._oracle_lock:
                if self._oracle is None:
                    from openapi_core import Config, OpenAPI

                    config = Config(spec_validator_cls=None) if self._spec_checked else None
                    self._oracle = OpenAPI.from_dict(dict(self._resolved), config=config)
        return self._oracle

    def _fast_verdict(self, request: Request, operation: Operation) -> RequestVerdict | None:
        """The verdict without openapi-core, where its word cannot change the reply (None elsewhere)."""
        if not operation.cacheable_validation:
            return None
        fast = self.compiled.request_verdict(operation, request.environ.get("HTTP_AUTHORIZATION"), request.args)
        if fast is None:
            return None
        security_failed, details, values = fast
        if security_failed:
            return RequestVerdict(security_failed=True)
        return RequestVerdict(errors=tuple(details), values=values)

    def _judge(self, request: Request, operation: Operation) -> RequestVerdict:
        from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest
        from openapi_core.validation.request.exceptions import (
            MissingRequiredParameter,
            ParameterValidationError,
            SecurityValidationError,
        )

        result = self.oracle.unmarshal_request(WerkzeugOpenAPIRequest(request))
        errors = list(result.errors)
        if any(isinstance(e, SecurityValidationError) for e in errors):
            return RequestVerdict(security_failed=True)
        details, values = params.read_query(request.args, self.compiled.operation(operation).query)
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
        """Every way ``response`` breaks the contract (empty when it does not), in openapi-core's words."""
        reply = Reply(response.status_code, response.mimetype or "", response.get_data(), lambda: response)
        return tuple(text for text, _violation in self._response_errors(request, reply, operation))

    def exchange_violations(self, request: Request, operation: Operation, mimetype: str,
                            view: Callable[[], Response], exchange: Exchange) -> list[Violation]:
        """:meth:`schema_violations` of an exchange's reply to ``request``, sent as ``mimetype``: with
        the first four bound, the judge's schema check (``crosmos_contract.judge.SchemaCheck``);
        ``view`` builds the werkzeug Response openapi-core reads, if it must."""
        received = exchange.response
        if received is None:
            return []
        reply = Reply(received.status, mimetype, received.body, view)
        return self.schema_violations(request, reply, operation, received.parsed)

    def schema_violations(self, request: Request, reply: Reply, operation: Operation,
                          parsed: Any = UNPARSED) -> list[Violation]:
        """:meth:`check_response` in the catalogue's ids, for the judge (``SchemaCheck``); ``parsed``:
        the body as ``json.loads`` read it, when the judge already did."""
        return [violation for _text, violation in self._response_errors(request, reply, operation, parsed)]

    def _response_errors(self, request: Request, reply: Reply, operation: Operation,
                         parsed: Any = UNPARSED) -> tuple[tuple[str, Violation], ...]:
        """openapi-core's findings on ``reply``, each as text and as a violation: one call per body."""
        if self.compiled.body_valid(operation, reply.status, reply.mimetype, reply.body, parsed):
            return ()  # a microsecond or two: cheaper than the cache below, which keeps openapi-core's findings
        key = (operation.method, operation.path, reply.status, reply.body)
        found = self._bodies.get(key)
        if found is None:
            from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

            response = reply.view()
            result = self.oracle.unmarshal_response(WerkzeugOpenAPIRequest(request),
                                                      WerkzeugOpenAPIResponse(response))
            found = tuple((_one_line(error), _violation(error, response)) for error in result.errors)
            self._bodies.put(key, found)
        return found

    def clear(self) -> None:
        self._requests.clear()
        self._bodies.clear()


def _schema_of(operation: Operation, name: str) -> Mapping[str, Any]:
    found = next((p.get("schema") for p in operation.parameters if p.get("name") == name), None)
    return found if isinstance(found, Mapping) else {}


def _one_line(error: BaseException) -> str:
    try:
        cause = f": {error.__cause__}" if error.__cause__ else ""
        text = " ".join(f"{error}{cause}".split())
    except UnicodeDecodeError:  # openapi-core words a body it cannot deserialize by decoding it as UTF-8
        text = f"{type(error).__name__}: a body that is not UTF-8, so not JSON"
    return text[:500]


def _violation(error: BaseException, response: Response) -> Violation:
    """An openapi-core finding under the catalogue id it breaks."""
    from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
    from openapi_core.templating.responses.exceptions import ResponseNotFound

    status = response.status_code
    text = _one_line(error)
    if isinstance(error, ResponseNotFound):
        return Violation("STATUS-003", f"{status}, a status the operation does not document", "a documented status")
    if isinstance(error, MediaTypeNotFound):
        return Violation("STATUS-006", f"Content-Type {response.content_type or '(none)'}",
                         "a media type the contract documents")
    model = "SCHEMA-001" if 200 <= status < 300 else "SCHEMA-002"
    return Violation(model, f"a {status} body where {text}", "a body valid against the contract's schema")
