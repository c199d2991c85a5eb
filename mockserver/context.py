"""One API request on its way through the pipeline: what each stage learned, for the next stages,
the journal and the access log.

A plain object handed to every stage: the pipeline runs without Flask's request context
(:mod:`mockserver.app`), and the stages record a dozen facts per request.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from enum import StrEnum

from flask import Request, Response

from mockserver.contract.operations import Operation
from mockserver.contract.validation import RequestVerdict
from mockserver.model.auth import AuthOutcome, Credential
from mockserver.model.faults import FaultSettings
from mockserver.produce.prefer import Preferences
from mockserver.produce.proxy import UpstreamReply
from mockserver.state import ContractRuntime, MockState, Moment, UsageKey

ANONYMOUS = Credential(AuthOutcome.OK, "anonymous")
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


class Context:
    __slots__ = (
        "allowed",
        "check",
        "credential",
        "delay",
        "fault",
        "faults",
        "keep",
        "mock",
        "mode",
        "moment",
        "operation",
        "org",
        "preferences",
        "problems",
        "reply",
        "request",
        "request_outcome",
        "response_outcome",
        "runtime",
        "scenario",
        "sent_at",
        "started",
        "upstream",
        "usage",
        "verdict",
        "window",
    )

    def __init__(self, mock: MockState, request: Request, moment: Moment | None = None) -> None:
        """``moment``: the shared state as the request read it on arrival (read now when not given)."""
        self.started = time.perf_counter()
        self.sent_at = datetime.now(UTC)  # when the request arrived, for the judge's today in proxy mode
        self.mock = mock
        self.request = request
        self.moment = moment if moment is not None else mock.moment()
        self.runtime: ContractRuntime = self.moment.runtime  # one contract for the whole request, even across a reload
        self.mode = Mode.MOCK if mock.proxy is None else Mode.PROXY
        self.operation: Operation | None = None
        self.allowed: tuple[str, ...] = ()  # methods the path has, when the request's method is not one
        self.reply: Response | None = None  # what produce made, before the output check
        self.check: Check | None = None  # how check_output judges it (None: checked before)
        self.keep: tuple[UsageKey, tuple[int, bytes, str]] | None = None  # cache it once it passed the check
        self.upstream: UpstreamReply | None = None  # proxy mode: the upstream's reply as received
        self.verdict = RequestVerdict()
        self.credential = ANONYMOUS
        self.org: str | None = None
        self.scenario: str | None = None
        self.preferences: Preferences | None = None
        self.faults: FaultSettings | None = None  # the fault settings, when any fault is on
        self.delay: tuple[int, int] | None = None  # ms to wait before the reply: Prefer: delay, or the latency fault
        self.request_outcome = RequestOutcome.UNCHECKED
        self.response_outcome: ResponseOutcome | None = None
        self.problems: list[str] = []
        self.usage = False  # the request is the usage operation (set by ``route``)
        self.window: tuple[date, date, date] | None = None  # a usage request's today, start and end, once read
        self.fault: str | None = None
