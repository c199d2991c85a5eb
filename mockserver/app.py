"""The mock's Flask app factory and its request pipeline.

route → validate request (openapi-core) → authenticate → generate → self-check → reply.
Every operation of the document is served; ``GET /api/v1/usage`` goes through the semantic
ledger, the rest through documented examples or schema-generated data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from contract import LoadedContract, load_contract, rules
from mockserver import generator, replies
from mockserver.auth import AuthOutcome, Credential, authenticate, redact
from mockserver.ledger import UsageLedger
from mockserver.operations import Operation, OperationIndex
from mockserver.validation import LRU, ContractValidator, RequestVerdict

log = logging.getLogger("mockserver.access")
EXTENSION = "crosmos_mock"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


def utc_today() -> date:
    return datetime.now(UTC).date()


@dataclass
class MockSettings:
    spec: Path | None = None  # None: the embedded contract
    seed: int = 0
    clock: Callable[[], date] = utc_today  # "today" for default periods
    access_log: bool = True


@dataclass
class MockState:
    """Everything the pipeline needs, built once per app (``app.extensions["crosmos_mock"]``)."""

    settings: MockSettings
    contract: LoadedContract
    index: OperationIndex
    validator: ContractValidator
    ledger: UsageLedger
    responses: LRU[tuple[Any, ...], tuple[int, bytes, str]] = field(default_factory=lambda: LRU(8192))
    static_bodies: dict[tuple[str, str, str], Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: MockSettings) -> MockState:
        contract = load_contract(settings.spec)
        return cls(settings, contract, OperationIndex(contract.resolved), ContractValidator(contract.resolved),
                   UsageLedger(settings.seed))


def create_app(settings: MockSettings | None = None, **overrides: Any) -> Flask:
    """Build a mock for ``settings`` (fields may also be passed as keyword overrides).

    Raises contract.ContractError (one readable line) when the document cannot be used.
    """
    settings = settings or MockSettings()
    for name, value in overrides.items():
        setattr(settings, name, value)
    app = Flask(__name__)
    app.extensions[EXTENSION] = MockState.build(settings)
    app.add_url_rule("/", "dispatch", dispatch, defaults={"path": ""}, methods=ALL_METHODS,
                     provide_automatic_options=False)
    app.add_url_rule("/<path:path>", "dispatch", dispatch, methods=ALL_METHODS, provide_automatic_options=False)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal_error)
    app.before_request(_start_timer)
    app.after_request(_log_request)
    return app


def state() -> MockState:
    from flask import current_app

    mock_state: MockState = current_app.extensions[EXTENSION]
    return mock_state


def dispatch(path: str) -> Response:
    mock = state()
    match = mock.index.match(request.method, request.path)
    if match.operation is None:
        return replies.method_not_allowed(match.allowed) if match.allowed else replies.not_found()
    operation = match.operation
    verdict = mock.validator.check_request(request, operation)
    credential = Credential(AuthOutcome.OK, "anonymous")
    if verdict.security_failed:
        return replies.not_authenticated()
    if operation.bearer_auth:
        credential = authenticate(request.headers.get("Authorization"))
        g.credential = credential
        if credential.outcome is AuthOutcome.NOT_AUTHENTICATED:
            return replies.not_authenticated()
        if credential.outcome is AuthOutcome.INVALID_TOKEN:
            return replies.invalid_credentials()
    if verdict.errors:
        return replies.validation_error(verdict.errors)
    if operation.is_usage:
        return serve_usage(mock, operation, verdict, credential)
    return serve_documented(mock, operation)


def serve_usage(mock: MockState, operation: Operation, verdict: RequestVerdict, credential: Credential) -> Response:
    today = mock.settings.clock()
    given_start, given_end = verdict.values.get("start_date"), verdict.values.get("end_date")
    start, end = rules.default_period(today, given_start, given_end)
    if not rules.window_is_valid(start, end):
        name = "start_date" if given_start is not None else "end_date"
        raw = request.args.getlist(name)[-1]
        return replies.validation_error([_inverted_window(name, raw)])
    key = (credential.org_key, start, end, today)
    cached = mock.responses.get(key)
    if cached is None:
        body = mock.ledger.report(credential.org_key, start, end, today).as_body()
        response = replies.json_reply(body)
        _self_check(mock, operation, response, body, today, given_start, given_end)
        cached = (response.status_code, response.get_data(), response.mimetype or "application/json")
        mock.responses.put(key, cached)
    return Response(cached[1], status=cached[0], mimetype=cached[2])


def _inverted_window(name: str, raw: str) -> dict[str, Any]:
    from mockserver.params import value_error

    return value_error(("query", name), raw, "start_date must be on or before end_date")


def _self_check(mock: MockState, operation: Operation, response: Response, body: Mapping[str, Any],
                today: date, start: date | None, end: date | None) -> None:
    """The mock never serves what breaks the contract: a failure here is a bug in the mock."""
    problems = list(mock.validator.check_response(request, response, operation))
    problems += [str(v) for v in rules.check_usage_body(body, today_candidates=[today], start_param=start,
                                                        end_param=end)]
    if problems:
        raise SelfCheckError("; ".join(problems))


class SelfCheckError(RuntimeError):
    """A generated response broke the contract or a rule (a defect in the mock, never served)."""


def serve_documented(mock: MockState, operation: Operation) -> Response:
    status = operation.success_status()
    response_spec = operation.response(status)
    media = generator.media_type(response_spec)
    code = int(status) if status.isdigit() else 200
    if media is None:
        return Response(status=code)
    key = (operation.method, operation.path, media)
    if key not in mock.static_bodies:
        mock.static_bodies[key] = _first_valid_body(mock, operation, response_spec, media, code)
    return _render(mock.static_bodies[key], code, media)


def _render(body: Any, code: int, media: str) -> Response:
    if "json" in media:
        response = replies.json_reply(body, code)
        response.mimetype = media
        return response
    return Response(str(body), code, mimetype=media)


def _first_valid_body(mock: MockState, operation: Operation, response_spec: Mapping[str, Any], media: str,
                      code: int) -> Any:
    """The first documented example that validates, else a body generated from the schema."""
    for name, example in generator.documented_examples(response_spec, media).items():
        problems = mock.validator.check_response(request, _render(example, code, media), operation)
        if not problems:
            return example
        log.warning("%s %s: example %r breaks the document's own schema (%s); not served",
                    operation.method, operation.path, name, "; ".join(problems))
    schema = generator.schema_of(response_spec, media)
    body = generator.generate(schema, seed=mock.settings.seed) if schema is not None else {}
    problems = mock.validator.check_response(request, _render(body, code, media), operation)
    if problems:
        raise SelfCheckError("; ".join(problems))
    return body


def _http_error(error: HTTPException) -> Response:
    """Errors werkzeug raises before dispatch (an unknown method, a body it cannot read): JSON too."""
    if error.code == 405:
        return replies.method_not_allowed(state().index.match(request.method, request.path).allowed)
    return replies.json_reply({"detail": error.name}, error.code or 400)


def _internal_error(error: Exception) -> Response:
    """Never a traceback on the wire: a defect in the mock is logged and named as the mock's own."""
    logging.getLogger(__name__).exception("mock failure on %s %s", request.method, request.path)
    kind = "self-check-failed" if isinstance(error, SelfCheckError) else "mock-failure"
    return replies.problem(kind, "The mock could not build a valid response", 500,
                           f"{type(error).__name__}: {error}"[:500])


def _start_timer() -> None:
    g.started = time.perf_counter()


def _log_request(response: Response) -> Response:
    if state().settings.access_log and log.isEnabledFor(logging.INFO):
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        token = (request.headers.get("Authorization") or "").partition(" ")[2].strip()
        target = request.full_path if request.query_string else request.path
        log.info("%s %s %s %d %.1fms", request.remote_addr, request.method, redact(target, token),
                 response.status_code, elapsed)
    return response
