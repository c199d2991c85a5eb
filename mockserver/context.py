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
from mockserver.state import ContractRuntime, MockState, UsageKey
from mockserver.store.shared import ControlSnapshot

ANONYMOUS = Credential(AuthOutcome.OK, "anonymous")
POLLED = "crosmos.polled"  # environ key: the contract watcher was polled for this request already
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
        "snapshot",
        "started",
        "upstream",
        "usage",
        "verdict",
        "window",
    )

    def __init__(self, mock: MockState, request: Request) -> None:
        self.started = time.perf_counter()
        self.sent_at = datetime.now(UTC)  # when the request arrived, for the judge's today in proxy mode
        self.mock = mock
        self.request = request
        self.runtime: ContractRuntime = mock.runtime  # one contract for the whole request, even across a reload
        self.snapshot: ControlSnapshot = mock.store.snapshot()
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

    def replayable(self) -> bool:
        """Whether this reply is the same for the same request while nothing else changes, so
        :mod:`mockserver.serving.replay` may answer its twin from memory: no fault, no delay, no
        randomness (``dynamic``), no live usage, no upstream, and not a defect of the mock."""
        preferences = self.preferences
        return (self.mode is Mode.MOCK and self.faults is None and self.delay is None and self.mock.live is None
                and self.fault is None and self.response_outcome is not ResponseOutcome.MOCK_ERROR
                and (preferences is None or not preferences.dynamic)
                and self.request.method == "GET")
