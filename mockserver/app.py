"""The mock's Flask app factory: it assembles the pieces and nothing else.

Requests to the contract go straight from WSGI to :mod:`mockserver.pipeline.passage` (the way in,
the pipeline's stages, the way out); the control API and dashboard are
:mod:`mockserver.control.api`'s blueprint, served by Flask. Contract requests skip Flask's request
context, hooks and routing: they cost 85 µs of CPU a request here, more than the whole pipeline
(docs/performance.md), and the pipeline reads nothing from them (every stage gets its
:class:`~mockserver.context.Context`). Every piece reaches the mock's state through
:func:`mockserver.state.state` or the context, so no piece imports this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Request, Response
from werkzeug.exceptions import HTTPException

from mockserver.control.api import blueprint
from mockserver.pipeline.passage import (
    current_request,
    failure_reply,
    http_error_reply,
    on_the_way_in,
    on_the_way_out,
    serve,
)
from mockserver.serving.replay import Replay
from mockserver.serving.request_size import limit_request_size, read_body_first
from mockserver.serving.turns import WSGIApp, in_turn
from mockserver.settings import CONTROL_PREFIX, MockSettings
from mockserver.state import EXTENSION, MockState, state


def create_app(settings: MockSettings | None = None, **overrides: Any) -> Flask:
    """Build a mock for ``settings`` (fields may also be passed as keyword overrides).

    Raises crosmos_contract.ContractError (one readable line) when the document cannot be used.
    """
    settings = settings or MockSettings()
    for name, value in overrides.items():
        setattr(settings, name, value)
    app = Flask(__name__, static_folder=None)  # the dashboard's assets are the control blueprint's
    mock = app.extensions[EXTENSION] = MockState.build(settings)
    if settings.control:
        app.register_blueprint(blueprint, url_prefix=CONTROL_PREFIX)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal_error)
    app.before_request(on_the_way_in)
    app.after_request(on_the_way_out)
    app.wsgi_app = guarded(contract_or_control(app), mock)  # type: ignore[method-assign,assignment]
    return app


def contract_or_control(app: Flask) -> WSGIApp:
    """Control API paths to Flask; every other request to the pipeline, without Flask's context."""
    flask_wsgi: WSGIApp = app.wsgi_app

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(CONTROL_PREFIX):
            return flask_wsgi(environ, start_response)
        mock: MockState = app.extensions[EXTENSION]
        reply = serve(mock, Request(environ), time.perf_counter())
        return emit(reply, environ, start_response)

    return wsgi


_REWRITTEN_HEADERS = ("Location", "Content-Location")


def emit(reply: Response, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Send ``reply``. A body held whole, with its length known, goes out as it is; werkzeug's
    general path (it rewrites locations, strips bodies for HEAD, 204 and 304, and measures
    bodies) costs more than a fifth of a refusal's CPU and changes nothing for such a reply."""
    status = reply.status_code
    if (environ.get("REQUEST_METHOD") == "HEAD" or status < 200 or status in (204, 304) or not reply.is_sequence
            or "Content-Length" not in reply.headers or any(h in reply.headers for h in _REWRITTEN_HEADERS)):
        return reply(environ, start_response)
    start_response(reply.status, reply.headers.to_wsgi_list())
    return reply.response  # type: ignore[return-value]  # a list of bytes: is_sequence, set by set_data


def guarded(flask_wsgi: WSGIApp, mock: MockState) -> WSGIApp:
    """The layers every request passes before Flask, outermost first.

    Replayed replies first: a twin of a reply already served needs none of the rest (its key holds
    all that the size limits read, and a request with a body is never replayed). Then the size
    limits (a readable 414/431/413 before Flask parses anything), the body read in full, and the
    worker's turns (:func:`mockserver.serving.turns.in_turn`). They sit in the app, not the server, so
    every server and the test client run the same layers.
    """
    inner = limit_request_size(read_body_first(in_turn(flask_wsgi)))
    return Replay(inner, mock) if mock.settings.replay else inner


def _http_error(error: HTTPException) -> Response:
    """Flask's handler (the control API): werkzeug's errors as JSON too."""
    return http_error_reply(state(), current_request(), error)


def _internal_error(error: Exception) -> Response:
    """Flask's handler (the control API)."""
    return failure_reply(current_request(), None, error)
