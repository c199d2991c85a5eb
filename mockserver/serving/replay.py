"""Replayed replies: a request identical to an earlier one, in every way that can change the
answer, gets that answer's bytes without running the pipeline again, still authenticated by its
key, journaled and access-logged.

The key holds everything a reply depends on: the method, path and query, every request header
(the credential decides the org; ``Prefer`` and ``X-Mock-Scenario`` the reply; ``Origin`` CORS;
a user's contract may read any header, an API key in ``X-API-Key`` say), the control settings'
generation (scenarios, per-token scenarios, faults, a journal clear), the contract's generation
(a reload) and the mock's today. A reply is only kept when the pipeline
says it is replayable (``mockserver.pipeline.passage._replayable``: no fault, delay, live usage,
randomness or upstream), after it passed every stage, its output check included, so a replayed
reply is one the full pipeline already validated, judged and served. The control API and every
method but GET, and any request with a body, always take the full path. This middleware is the
outermost layer of the app (:func:`mockserver.app.guarded`): the size limits, the body read and
the worker's turns behind it decide nothing that the key does not already hold.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from mockserver.context import MOMENT
from mockserver.pipeline.passage import REPLAY_FACTS, ReplyFacts, record
from mockserver.settings import CONTROL_PREFIX
from mockserver.state import MockState
from mockserver.store.caches import BoundedCache

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Kept(NamedTuple):
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    facts: ReplyFacts
    code: int  # the status's number, for the journal and the access line


def keep(status: str, headers: list[tuple[str, str]], body: bytes, facts: ReplyFacts) -> Kept:
    """What a twin needs, the status's number worked out once when the reply is kept."""
    return Kept(status, headers, body, facts, int(status.split(" ", 1)[0]))


class Replay:
    """WSGI middleware in front of the Flask app (``app.wsgi_app``)."""

    def __init__(self, app: WSGIApp, mock: MockState, size: int = 4096) -> None:
        self.app, self.mock = app, mock
        self.kept: BoundedCache[tuple[Any, ...], Kept] = BoundedCache(size)

    def key(self, environ: dict[str, Any]) -> tuple[Any, ...] | None:
        get = environ.get
        path = get("PATH_INFO", "")
        if get("REQUEST_METHOD") != "GET" or path.startswith(CONTROL_PREFIX):
            return None
        length = get("CONTENT_LENGTH")
        if (length and length != "0") or "HTTP_TRANSFER_ENCODING" in environ:
            return None  # a body is not in the key, so a request with one always takes the full path
        moment = environ[MOMENT] = self.mock.moment()  # the pipeline reads the same moment
        headers = tuple([item for item in environ.items() if item[0][:5] == "HTTP_"])  # in arrival order
        return (path, get("QUERY_STRING"), get("CONTENT_TYPE"), length, headers, moment.snapshot.generation,
                moment.contract_generation, moment.today)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        key = self.key(environ)
        if key is None:
            return self.app(environ, start_response)
        kept = self.kept.get(key)
        if kept is not None:
            start_response(kept.status, list(kept.headers))
            self._record(environ, kept, started)
            return [kept.body]
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured[:] = [status, list(headers)]
            return start_response(status, headers, exc_info)

        chunks = self.app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        facts: ReplyFacts | None = environ.get(REPLAY_FACTS)
        if facts is not None and captured:
            self.kept.put(key, keep(captured[0], captured[1], body, facts))
        return [body]

    def _record(self, environ: dict[str, Any], kept: Kept, started: float) -> None:
        """The journal row and access line the full path would have written."""
        record(self.mock, environ.get("REMOTE_ADDR"), "GET", kept.code, kept.facts, "mock", None, started, started)
