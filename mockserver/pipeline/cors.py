"""CORS, so a frontend served from another origin (a dev server on :3000) can call the mock.

Sending ``Authorization`` makes every browser call a non-simple request, so the preflight
(``OPTIONS`` with ``Access-Control-Request-Method``) is answered with 204 before the contract is
consulted; a plain ``OPTIONS`` still gets the contract's 405. The default, any origin (``*``), is
safe here: credentials are a header the page sets itself, never a cookie, so no
``Access-Control-Allow-Credentials`` is sent and a foreign page gains nothing it does not already
hold; and the mock binds to loopback and serves generated data. ``--cors-origin URL`` (repeatable)
narrows it; ``--cors-origin none`` turns CORS off. A request without ``Origin`` pays one lookup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Request, Response

ANY = "*"
EXPOSED = ", ".join((
    "Retry-After", "Preference-Applied", "X-Mock-Scenario", "X-Mock-Fault", "X-Mock-Worker",
    "X-RateLimit-Limit", "X-RateLimit-Remaining", "WWW-Authenticate", "Allow", "Date",
))
METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
MAX_AGE = "600"
_HEADER_LIST = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$")


def parse_origin(text: str) -> str:
    """``*``, ``none``, or a ``scheme://host[:port]`` origin (no path); ValueError otherwise."""
    value = text.strip()
    if value in (ANY, "none"):
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query:
        raise ValueError(f"{text!r} is not an origin; use e.g. http://localhost:3000, '*' or 'none'")
    return f"{parts.scheme}://{parts.netloc.lower()}"


@dataclass(frozen=True)
class CorsPolicy:
    origins: frozenset[str]  # empty: CORS off; contains "*": any origin

    @classmethod
    def from_options(cls, values: Iterable[str]) -> CorsPolicy:
        chosen = {parse_origin(value) for value in values} or {ANY}
        if "none" in chosen:
            if len(chosen) > 1:
                raise ValueError("'none' turns CORS off; it cannot be combined with origins")
            return cls(frozenset())
        return cls(frozenset({ANY}) if ANY in chosen else frozenset(chosen))

    @property
    def enabled(self) -> bool:
        return bool(self.origins)

    def allow_origin(self, origin: str) -> str | None:
        """The ``Access-Control-Allow-Origin`` value for ``origin``, or None when it is not allowed."""
        if ANY in self.origins:
            return ANY
        return origin if origin in self.origins else None

    def preflight(self, request: Request) -> Response | None:
        """The reply to a CORS preflight, or None when ``request`` is not one."""
        origin = request.headers.get("Origin")
        method = request.headers.get("Access-Control-Request-Method")
        if origin is None or method is None or not self.origins:
            return None
        allowed = self.allow_origin(origin)
        if allowed is None:
            return Response("Disallowed CORS origin", 400, mimetype="text/plain")  # as Starlette says it
        response = Response(status=204)
        del response.headers["Content-Type"]
        response.headers["Access-Control-Allow-Origin"] = allowed
        response.headers["Access-Control-Allow-Methods"] = METHODS
        requested = request.headers.get("Access-Control-Request-Headers", "").strip()
        if requested and _HEADER_LIST.match(requested):
            response.headers["Access-Control-Allow-Headers"] = requested
        response.headers["Access-Control-Max-Age"] = MAX_AGE
        if allowed != ANY:
            response.headers["Vary"] = "Origin"
        return response

    def decorate(self, origin: str, response: Response) -> None:
        """Let the page at ``origin`` (a cross-origin request's ``Origin``) read ``response``, and
        the headers a frontend needs. A request without ``Origin`` is not a CORS request: the caller
        does not ask (:func:`mockserver.pipeline.passage.depart`)."""
        if not self.origins or "Access-Control-Allow-Origin" in response.headers:
            return
        allowed = self.allow_origin(origin)
        if ANY not in self.origins:
            response.vary.add("Origin")  # allowed or not, the reply depends on Origin: caches must key on it
        if allowed is None:
            return
        response.headers["Access-Control-Allow-Origin"] = allowed
        response.headers["Access-Control-Expose-Headers"] = EXPOSED
