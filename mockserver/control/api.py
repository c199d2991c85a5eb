"""The control API under ``/__mock/``: health, scenarios, per-token scenarios, faults, live usage,
the journal, reset, reload, and the dashboard page.

It is served by the same server as the mock, so it binds where the mock binds (loopback unless
``--host`` says otherwise; ``--no-control`` removes it). Everything it changes lives in the
:class:`~mockserver.store.shared.SharedStore`, so whichever worker answers a control call, every worker
serves the result; each reply names the worker that answered (``X-Mock-Worker``). Its errors are
the mock's own problem+json, with stable ``type`` values. Tokens are read from the
``Authorization`` header (or a ``token`` field) and never stored or echoed: a token is known by
its org key.
"""

from __future__ import annotations

import os
import time

from flask import Response, request, send_from_directory

from mockserver.contract import replies
from mockserver.control import views as control_settings
from mockserver.control.base import STATIC, ControlError, blueprint, route
from mockserver.state import state

__all__ = ["blueprint", "control_settings"]  # the settings views register on the blueprint when imported
_CSP = "default-src 'self'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"


# --- the dashboard -----------------------------------------------------------------------------

@route("/", "GET")
def dashboard() -> Response:
    response = send_from_directory(STATIC, "dashboard.html", max_age=0)
    response.headers["Content-Security-Policy"] = _CSP
    return response


# --- health and scenarios ----------------------------------------------------------------------

@route("/health", "GET")
def health() -> Response:
    mock = state()
    contract = mock.runtime.contract
    watching = mock.watcher.status() if mock.watcher else {
        "path": str(contract.path), "sha256": contract.sha256, "reload_error": None, "watching": False}
    snapshot = mock.store.snapshot()
    body = {
        "status": "degraded" if watching.get("reload_error") else "ok",
        "worker": os.getpid(),
        "mode": "proxy" if mock.proxy else "mock",
        "upstream": mock.proxy.upstream if mock.proxy else None,
        "strict": bool(mock.proxy and mock.proxy.strict),
        "contract": {"title": contract.title, "operations": [f"{op.method} {op.path}" for op in mock.index.operations],
                     **watching},
        "scenario": mock.server_scenario(snapshot),
        "faults": mock.fault_settings(snapshot).as_json(),
        "live_usage": {"metric": mock.live.metric, "per_call": mock.live.step} if mock.live else None,
        "cors_origins": sorted(mock.cors.origins),
        "journal_size": mock.journal.size,
        "seed": mock.settings.seed,
        "today": mock.settings.clock().isoformat(),
    }
    return replies.json_reply(body)



@route("/journal", "GET")
def journal() -> Response:
    """The newest entries of every worker, newest first (``?limit=``, at most the journal's size)."""
    mock = state()
    try:
        limit = int(request.args.get("limit", "50"))
    except ValueError:
        raise ControlError("bad-control-request", "Invalid journal query", 400, "limit is a whole number") from None
    return replies.json_reply({"size": mock.journal.size, "entries": mock.journal.recent(limit)})


@route("/journal", "DELETE")
def clear_journal() -> Response:
    state().store.set_setting("journal_cleared_at", time.time())
    return replies.no_content()


@route("/reset", "POST")
def reset() -> Response:
    """Back to how the server started: scenarios, faults, live usage, rate windows and the journal."""
    state().store.reset()
    return replies.no_content()


@route("/reload", "POST")
def reload() -> Response:
    """Check the contract file now (this worker; the others notice on their next request)."""
    mock = state()
    if mock.watcher is None:
        raise ControlError("reload-off", "Reload is off", 409, "the mock was started with --no-reload")
    mock.watcher.force()
    status = mock.watcher.status()
    if status["reload_error"] is not None:
        raise ControlError("reload-failed", "The contract did not reload", 422, status["reload_error"],
                           worker=os.getpid(), **status)
    return replies.json_reply({"worker": os.getpid(), **status})

