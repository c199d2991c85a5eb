"""The ``produce`` stage: a reply from the usage ledger, the documented responses, or the upstream.

A producer leaves its reply in ``ctx.reply`` for the output check; a reply that ends the
request at once (a preference it cannot honour, an upstream that cannot be reached) is returned.
"""

from __future__ import annotations

from flask import Response

from mockserver.context import GIVE_WAY, Check, Context, Mode, ResponseOutcome
from mockserver.produce.documented import serve_documented
from mockserver.produce.negotiation import preference_problem
from mockserver.produce.prefer import PreferenceError
from mockserver.produce.proxy import UpstreamError
from mockserver.produce.usage import serve_usage


def produce(ctx: Context) -> Response | None:
    if ctx.mode is Mode.PROXY:
        return forward(ctx)
    operation = ctx.operation
    assert operation is not None  # route ended every request outside the contract
    try:
        ctx.reply = serve_usage(ctx, operation) if operation.is_usage else serve_documented(ctx, operation)
    except PreferenceError as exc:
        return preference_problem(ctx, exc)
    return None


def forward(ctx: Context) -> Response | None:
    """Proxy mode: the upstream's reply, for the output stage to judge; its own failures end here."""
    assert ctx.mock.proxy is not None
    give_way(ctx)
    try:
        reply = ctx.mock.proxy.forward(ctx.request)
    except UpstreamError as exc:
        ctx.response_outcome = ResponseOutcome.VIOLATIONS
        ctx.problems = [*ctx.problems, exc.detail]
        return exc.to_response()
    ctx.upstream = reply
    ctx.reply = reply.to_response()
    ctx.check = Check.FULL if ctx.operation is not None else None
    return None


def give_way(ctx: Context) -> None:
    """Let the worker's other requests run while this one waits (:func:`mockserver.serving.turns.in_turn`)."""
    release = ctx.request.environ.get(GIVE_WAY)
    if release is not None:
        release()
