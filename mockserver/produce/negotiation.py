"""What a request is answered with before any producer runs, decided by the stages that refuse it.

The usage window a request names (and the reference's 422 when it ends before it starts), a
production error it asks for (``Prefer: code=``), a preference the mock cannot honour, and which
errors an operation may be asked for. The stages use these; only the ``produce`` stage reaches
the producers themselves (:mod:`mockserver.produce.dispatch`).
"""

from __future__ import annotations

from flask import Response

from mockserver.context import Context, RequestOutcome, ResponseOutcome
from mockserver.contract import replies
from mockserver.contract.operations import Operation
from mockserver.model import faults
from mockserver.model.scenarios import rate_limit_rpm
from mockserver.produce.prefer import PreferenceError

REQUESTED_ERRORS = ("401", "403", "429", "500", "503")  # what production answers, on request


def servable_errors(operation: Operation) -> tuple[str, ...]:
    """The production errors ``operation`` may be asked for: no 401/403 where there is no security."""
    return tuple(c for c in REQUESTED_ERRORS if c not in ("401", "403") or operation.requires_auth)


def preference_problem(ctx: Context, exc: PreferenceError) -> Response:
    ctx.response_outcome = ResponseOutcome.MOCK_ERROR
    ctx.problems = [*ctx.problems, exc.detail]
    return replies.problem(exc.kind, exc.title, 400, exc.detail, valid=exc.valid)


def inverted_window_refusal(ctx: Context) -> Response:
    """The reference's 422 for a window that, given or defaulted, ends before it starts."""
    from mockserver.contract.params import value_error

    name = "start_date" if ctx.verdict.values.get("start_date") is not None else "end_date"
    raw = ctx.request.args.getlist(name)[-1]
    ctx.request_outcome = RequestOutcome.INVALID
    ctx.problems = [f"query.{name}: start_date must be on or before end_date"]
    return replies.validation_error([value_error(("query", name), raw, "start_date must be on or before end_date")])


def requested_error(ctx: Context, code: str) -> Response:
    """What production answers for ``code``, marked as asked for: a UI's error states on demand.

    Not a contract break (the journal says ``fault``, as for the fault settings).
    """
    if code in ("401", "403"):
        response = replies.not_authenticated() if code == "401" else replies.forbidden()
    elif code == "429":
        rpm = -1
        if ctx.usage and ctx.scenario is not None and ctx.org is not None:
            rpm = rate_limit_rpm(ctx.scenario, ctx.mock.ledger, ctx.org)
        response = faults.rate_limited(rpm if rpm > 0 else 60, faults.REQUESTED_RETRY_AFTER_S)
    else:
        response = faults.error_response(int(code))
    ctx.fault, ctx.response_outcome = faults.REQUESTED, ResponseOutcome.FAULT
    response.headers["Preference-Applied"] = f"code={code}"
    return response
