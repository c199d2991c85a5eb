"""One API request on its way through the pipeline: what each stage learned, for the next stages,
the journal and the access log.

A plain object handed to every stage: the pipeline runs without Flask's request context
(:mod:`mockserver.app`), and the stages record a dozen facts per request.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum

from flask import Request, Response

from mockserver.contract.operations import Operation
from mockserver.contract.validation import RequestVerdict
from mockserver.model.auth import AuthOutcome, Credential
from mockserver.model.faults import FaultSettings
from mockserver.produce.prefer import Preferences
from mockserver.produce.proxy import UpstreamReply
from mockserver.state import MockState, Moment, UsageKey

ANONYMOUS = Credential(AuthOutcome.OK, "anonymous")
NO_VERDICT = RequestVerdict()  # before validate_request: immutable, so one for every request
MOMENT = "crosmos.moment"  # environ key: the request's Moment, read by mockserver.serving.replay for its key
GIVE_WAY = "crosmos.give_way"  # environ key: a callable a request calls before it waits (mockserver.serving.turns)


class Mode(StrEnum):
    MOCK = "mock"  # the mock answers
    PROXY = "proxy"  # an upstream answers, the mock judges (``--upstream``)


class Check(StrEnum):
    """How ``check_output`` judges the reply ``produce`` made (None on the context: already judged)."""

    FULL = "full"  # every rule the request and the body imply
    AS_WRITTEN = "as-written"  # a documented reply served as written: only what the body means by itself


class RequestOutcome(StrEnum):
    """What the contract says of the request; journaled."""

    VALID = "valid"
    INVALID = "invalid"
    UNAUTHENTICATED = "unauthenticated"
    NOT_IN_CONTRACT = "not-in-contract"
    UNCHECKED = "unchecked"


class ResponseOutcome(StrEnum):
    """What the contract says of the reply; journaled."""

    VALID = "valid"
    VIOLATIONS = "violations"  # proxy mode: the upstream's reply breaks the contract
    FAULT = "fault"  # a fault the user asked for
    MOCK_ERROR = "mock-error"  # a defect of the mock's own, answered 500
    UNCHECKED = "unchecked"


@dataclass(slots=True, eq=False)
class Context:
    """What the stages learned of one request so far; every stage reads and writes it."""

    mock: MockState
    request: Request
    moment: Moment  # the shared state as the request read it on arrival: one contract (``moment.runtime``),
    # one day and one set of control settings for the whole request, even across a reload
    mode: Mode
    started: float = field(default_factory=time.perf_counter)
    sent_at: datetime = field(default_factory=functools.partial(datetime.now, UTC))  # the judge's today (proxy)
    operation: Operation | None = None
    allowed: tuple[str, ...] = ()  # methods the path has, when the request's method is not one
    reply: Response | None = None  # what produce made, before the output check
    check: Check | None = None  # how check_output judges it (None: checked before)
    keep: tuple[UsageKey, tuple[int, bytes, str]] | None = None  # cache it once it passed the check
    upstream: UpstreamReply | None = None  # proxy mode: the upstream's reply as received
    verdict: RequestVerdict = NO_VERDICT
    credential: Credential = ANONYMOUS
    org: str | None = None
    scenario: str | None = None
    preferences: Preferences | None = None
    faults: FaultSettings | None = None  # the fault settings, when any fault is on
    delay: tuple[int, int] | None = None  # ms to wait before the reply: Prefer: delay, or the latency fault
    request_outcome: RequestOutcome = RequestOutcome.UNCHECKED
    response_outcome: ResponseOutcome | None = None
    problems: list[str] = field(default_factory=list)
    usage: bool = False  # the request is the usage operation (set by ``route``)
    window: tuple[date, date] | None = None  # a usage request's start and end, defaults applied, once read
    fault: str | None = None
