"""The output check: judge a reply with the one judge before it leaves.

The mock's own bodies are judged as the conformance suite would judge a real server's
(:func:`crosmos_contract.judge.judge`, with openapi-core as its schema tool): a failure is a
defect in the mock, never served (a 500 naming it). A body already judged (a kept usage body)
is not judged again. In proxy mode the upstream's reply is judged the same way; what it breaks
goes to the journal, a warning and ``X-Mock-Violations`` (or a 502 with ``--strict``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from flask import Response

from crosmos_contract.exchange import Exchange, ReceivedResponse, SentRequest
from crosmos_contract.judge import Judgement, JudgeSettings, SchemaCheck, judge, judge_as_written, judge_operation
from mockserver.context import Check, Context, Mode, ResponseOutcome
from mockserver.contract import replies
from mockserver.contract.replies import SelfCheckError
from mockserver.model.auth import credential_of, mask_credentials

log = logging.getLogger("mockserver.access")
VIOLATIONS_HEADER = "X-Mock-Violations"  # proxy mode: how many ways the upstream's reply breaks the contract
# Neither the mock nor its proxy knows which tokens are valid, and latency is no verdict here.
UNCHECKED = JudgeSettings(token=None, max_response_time=None)


def check_output(ctx: Context) -> Response | None:
    reply = ctx.reply
    assert reply is not None  # produce replies itself or leaves one here
    if ctx.mode is Mode.PROXY:
        return _judge_upstream(ctx, reply)
    if ctx.check is not None:
        violations = _judgement(ctx, reply).violations
        if violations:
            raise SelfCheckError("; ".join(map(str, violations)))
        if ctx.keep is not None:
            ctx.moment.runtime.responses.put(*ctx.keep)
    if ctx.response_outcome is None:
        ctx.response_outcome = ResponseOutcome.VALID
    return None


def _judgement(ctx: Context, reply: Response) -> Judgement:
    operation = ctx.operation
    assert operation is not None
    exchange = _exchange(ctx, reply)
    schema = _schema_check(ctx, reply)
    if not operation.is_usage:
        # The mock serves a documented 5xx only when asked (Prefer: code=); an upstream's is judged.
        return judge_operation(exchange, requires_auth=operation.requires_auth, schema=schema,
                               server_errors=ctx.mode is Mode.PROXY)
    if ctx.check is Check.AS_WRITTEN:
        return judge_as_written(exchange, schema=schema)
    todays = [ctx.moment.today] if ctx.mode is Mode.MOCK else None  # the upstream's clock counts
    return judge(exchange, UNCHECKED, schema=schema, todays=todays)


def _judge_upstream(ctx: Context, reply: Response) -> Response:
    if ctx.check is None:  # outside the contract: forwarded unchecked
        return reply
    violations = [str(v) for v in _judgement(ctx, reply).violations]
    ctx.response_outcome = ResponseOutcome.VIOLATIONS if violations else ResponseOutcome.VALID
    if not violations:
        return reply
    ctx.problems = [*ctx.problems, *violations]
    request = ctx.request
    token = credential_of(request.headers.get("Authorization"))
    log.warning("contract violation by the upstream on %s %s (%d): %s", request.method,
                mask_credentials(request.full_path if request.query_string else request.path, token), reply.status_code,
                mask_credentials(" | ".join(violations), token))
    if ctx.mock.proxy is not None and ctx.mock.proxy.strict:
        return violation_reply(violations, reply.status_code)
    reply.headers[VIOLATIONS_HEADER] = str(len(violations))
    return reply


def _exchange(ctx: Context, reply: Response) -> Exchange:
    """The request as received and the reply as it will be sent, in the judge's terms."""
    request = ctx.request
    sent = SentRequest(request.method, _url(request.environ), _headers(request.environ))
    upstream = ctx.upstream
    headers = tuple(upstream.headers) if upstream is not None else tuple(reply.headers.items())
    body = upstream.body if upstream is not None else reply.get_data()
    received = ReceivedResponse(reply.status_code, headers, body, 0.0)
    return Exchange(sent, received, ctx.sent_at, datetime.now(UTC), ctx.mode)


def _url(environ: Mapping[str, Any]) -> str:
    """The request's URL as the client wrote it, for the judge (which reads its query string);
    werkzeug's ``request.url`` also turns it into an IRI, a third of the judge's cost."""
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
    path = quote((environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1"),
                 safe="/:@!$&'()*+,;=~")
    query = environ.get("QUERY_STRING", "")
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}{path}" + (f"?{query}" if query else "")


def _headers(environ: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The request's headers as werkzeug's ``EnvironHeaders`` names them, in one pass."""
    found = []
    for key, value in environ.items():
        if key[:5] == "HTTP_":
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                found.append((key[5:].replace("_", "-").title(), value))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            found.append((key.replace("_", "-").title(), value))
    return tuple(found)


def _schema_check(ctx: Context, reply: Response) -> SchemaCheck:
    """The validator's schema check of the reply as sent: the mock's own, or the upstream's bytes."""
    operation = ctx.operation
    assert operation is not None
    upstream = ctx.upstream
    mimetype = _mimetype(reply.headers.get("Content-Type") if upstream is None else upstream.content_type)
    return functools.partial(ctx.moment.runtime.validator.exchange_violations, ctx.request, operation, mimetype,
                             lambda: _schema_view(ctx, reply))


def _mimetype(content_type: str | None) -> str:
    """A Content-Type's media type as werkzeug's ``mimetype`` reads it: lower case, no parameters."""
    return (content_type or "").partition(";")[0].strip().lower()


def _schema_view(ctx: Context, reply: Response) -> Response:
    """The reply as openapi-core reads it: the upstream's status, Content-Type and bytes."""
    upstream = ctx.upstream
    if upstream is None:
        return reply
    view = Response(upstream.body, status=upstream.status)
    if upstream.content_type:
        view.headers["Content-Type"] = upstream.content_type
    return view


def violation_reply(violations: Sequence[str], upstream_status: int) -> Response:
    return replies.problem("contract-violation", "The upstream broke the contract", 502,
                           f"{len(violations)} violation(s) in the upstream's {upstream_status} reply",
                           upstream_status=upstream_status, violations=list(violations))
