"""The mock's Flask app factory: it assembles the pieces and nothing else.

Requests to the contract go through :mod:`mockserver.stages` (the pipeline, stage by stage);
:mod:`mockserver.finish` runs around every request; the control API and dashboard are
:mod:`mockserver.control`'s blueprint. Every piece reaches the mock's state through
:func:`mockserver.state.state`, so no piece imports this module.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Request, Response, g, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException
from werkzeug.routing import MapAdapter

from mockserver import replies
from mockserver.context import Context, current_context
from mockserver.control import blueprint
from mockserver.finish import current_request, on_the_way_in, on_the_way_out
from mockserver.limits import limit_request_size, read_body_first
from mockserver.output import conclude
from mockserver.produce_documented import SelfCheckError
from mockserver.replay import Replay
from mockserver.settings import CONTROL_PREFIX, MockSettings
from mockserver.stages import STAGES, run
from mockserver.state import EXTENSION, MockState, state
from mockserver.turns import WSGIApp, in_turn

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
PIPELINE = (*STAGES, conclude)


class MockFlask(Flask):
    """Flask whose contract requests skip werkzeug's URL map and go straight to the pipeline.

    Every path outside the control API ends at the catch-all rule anyway, and the pipeline's
    ``route`` stage matches it against the contract right after: matching it in Flask's map too
    (adapter, host check, state machine) is a cost without a use (docs/performance.md). Control
    API paths keep Flask's routing.
    """

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        if request is not None and not request.path.startswith(CONTROL_PREFIX):
            return None  # no rule matched: dispatch_request below hands the request to the pipeline
        return super().create_url_adapter(request)

    def dispatch_request(self) -> ResponseReturnValue:
        if request.url_rule is None and request.routing_exception is None:
            return dispatch()
        return super().dispatch_request()


def create_app(settings: MockSettings | None = None, **overrides: Any) -> Flask:
    """Build a mock for ``settings`` (fields may also be passed as keyword overrides).

    Raises crosmos_contract.ContractError (one readable line) when the document cannot be used.
    """
    settings = settings or MockSettings()
    for name, value in overrides.items():
        setattr(settings, name, value)
    app = MockFlask(__name__, static_folder=None)  # the dashboard's assets are the control blueprint's
    mock = app.extensions[EXTENSION] = MockState.build(settings)
    if settings.control:
        app.register_blueprint(blueprint, url_prefix=CONTROL_PREFIX)
    app.add_url_rule("/", "dispatch", dispatch, defaults={"path": ""}, methods=ALL_METHODS,
                     provide_automatic_options=False)
    app.add_url_rule("/<path:path>", "dispatch", dispatch, methods=ALL_METHODS, provide_automatic_options=False)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal_error)
    app.before_request(on_the_way_in)
    app.after_request(on_the_way_out)
    app.wsgi_app = guarded(app.wsgi_app, mock)  # type: ignore[method-assign,assignment]
    return app


def guarded(flask_wsgi: WSGIApp, mock: MockState) -> WSGIApp:
    """The layers every request passes before Flask, outermost first.

    Replayed replies first: a twin of a reply already served needs none of the rest (its key holds
    all that the size limits read, and a request with a body is never replayed). Then the size
    limits (a readable 414/431/413 before Flask parses anything), the body read in full, and the
    worker's turns (:func:`mockserver.turns.in_turn`). They sit in the app, not the server, so
    every server and the test client run the same layers.
    """
    inner = limit_request_size(read_body_first(in_turn(flask_wsgi)))
    return Replay(inner, mock) if mock.settings.replay else inner


def dispatch(path: str = "") -> Response:
    """One request to the contract, through every stage."""
    ctx = g.context = Context(state(), current_request())
    return run(ctx, PIPELINE)


def _http_error(error: HTTPException) -> Response:
    """Errors werkzeug raises before the pipeline (an unknown method, a body it cannot read): JSON too."""
    if error.code == 405:
        return replies.method_not_allowed(state().index.match(request.method, request.path).allowed)
    return replies.json_reply({"detail": error.name}, error.code or 400)


def _internal_error(error: Exception) -> Response:
    """Never a traceback on the wire: a defect in the mock is logged and named as the mock's own."""
    logging.getLogger(__name__).exception("mock failure on %s %s", request.method, request.path)
    kind = "self-check-failed" if isinstance(error, SelfCheckError) else "mock-failure"
    ctx = current_context()
    if ctx is not None:
        ctx.response_outcome = "mock-error"
    return replies.problem(kind, "The mock could not build a valid response", 500,
                           f"{type(error).__name__}: {error}"[:500])
