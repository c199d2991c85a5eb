"""Error replies: the reference server's own bodies, and the mock's problem+json.

Frontends should see what production sends, so contract errors mimic the FastAPI reference
byte for byte (401 ``Not authenticated`` with ``WWW-Authenticate: Bearer``, HTTPValidationError
422s). The mock's *own* errors (unknown scenario, bad control request) are RFC 9457
problem+json with stable ``type`` values, so nobody mistakes them for the contract's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Response

PROBLEM_BASE = "https://crosmos.dev/mock/problems/"


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)  # json.dumps builds one per call


def json_reply(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(_ENCODER.encode(body).encode(), status=status, headers=headers, content_type="application/json")


def not_authenticated() -> Response:
    """FastAPI HTTPBearer: missing, malformed or non-Bearer credentials."""
    return json_reply({"detail": "Not authenticated"}, 401, {"WWW-Authenticate": "Bearer"})


def redirect(location: str) -> Response:
    response = Response(status=302)
    response.headers["Location"] = location
    return response


def forbidden() -> Response:
    """FastAPI's HTTPBearer before 0.122 answered a missing credential with 403."""
    return json_reply({"detail": "Not authenticated"}, 403, {"WWW-Authenticate": "Bearer"})


def invalid_credentials() -> Response:
    """A Bearer token of the wrong shape, as the reference's token check answers it."""
    return json_reply({"detail": "Invalid authentication credentials"}, 401, {"WWW-Authenticate": "Bearer"})


def validation_error(details: Iterable[Mapping[str, Any]]) -> Response:
    """FastAPI's RequestValidationError reply: 422 with an HTTPValidationError body."""
    return json_reply({"detail": list(details)}, 422)


def not_found() -> Response:
    return json_reply({"detail": "Not Found"}, 404)


def method_not_allowed(allowed: Iterable[str]) -> Response:
    return json_reply({"detail": "Method Not Allowed"}, 405, {"Allow": ", ".join(sorted(allowed))})


def no_content() -> Response:
    """204 with no body, and so no Content-Type (Flask would otherwise name text/html)."""
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response


def problem(kind: str, title: str, status: int, detail: str, **extra: Any) -> Response:
    """The mock's own error, e.g. ``problem("unknown-scenario", ...)``."""
    body = {"type": PROBLEM_BASE + kind, "title": title, "status": status, "detail": detail, **extra}
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return Response(data, status=status, mimetype="application/problem+json")


class SelfCheckError(RuntimeError):
    """A generated response broke the contract or a rule (a defect in the mock, never served: the
    reply is :func:`problem` ``self-check-failed``)."""
