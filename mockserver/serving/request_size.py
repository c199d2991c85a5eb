"""Oversized requests are refused by the mock itself, with JSON, before Flask parses anything.

The HTTP server's own limit answers with an empty body; a frontend (and the conformance suite)
deserves a readable reason. The server's buffer is set well above these limits, so requests up to
its size reach this guard: 414 for a long URL, 431 for large headers, both JSON.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any

MAX_URL_BYTES = 8 * 1024
MAX_HEADER_BYTES = 16 * 1024  # one header field
MAX_HEADERS_TOTAL = 48 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def limit_request_size(app: WSGIApp) -> WSGIApp:
    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        url = len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", ""))
        if url > MAX_URL_BYTES:
            return _refuse(start_response, "414 URI Too Long",
                           f"Request line too long: {url} bytes, at most {MAX_URL_BYTES}")
        total = 0
        for key, value in environ.items():
            if key.startswith("HTTP_") and isinstance(value, str):
                if len(value) > MAX_HEADER_BYTES:
                    name = key[5:].replace("_", "-").title()
                    return _refuse(start_response, "431 Request Header Fields Too Large",
                                   f"Header {name} too large: {len(value)} bytes, at most {MAX_HEADER_BYTES}")
                total += len(key) + len(value)
        if total > MAX_HEADERS_TOTAL:
            return _refuse(start_response, "431 Request Header Fields Too Large",
                           f"Headers too large: {total} bytes, at most {MAX_HEADERS_TOTAL}")
        return app(environ, start_response)

    return guarded


def read_body_first(app: WSGIApp) -> WSGIApp:
    """Read the whole request body before the app runs; 413 JSON past ``MAX_BODY_BYTES``.

    A worker's requests take turns (``mockserver.serving.turns.in_turn``, the next layer in): a
    client that sends its body a byte at a time must wait for its own bytes before its turn, not
    during it, or it would hold up every other request of the worker.
    """
    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        text = (environ.get("CONTENT_LENGTH") or "").strip()
        length = int(text) if text.isdigit() else 0
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if length > MAX_BODY_BYTES:
            return _refuse(start_response, "413 Content Too Large",
                           f"Request body too large: {length} bytes, at most {MAX_BODY_BYTES}")
        if chunked or length:
            body = environ["wsgi.input"].read(MAX_BODY_BYTES + 1 if chunked else length)
            if len(body) > MAX_BODY_BYTES:
                return _refuse(start_response, "413 Content Too Large",
                               f"Request body too large: more than {MAX_BODY_BYTES} bytes")
            environ["wsgi.input"] = io.BytesIO(body)
        return app(environ, start_response)

    return guarded


def _refuse(start_response: Callable[..., Any], status: str, detail: str) -> list[bytes]:
    body = json.dumps({"detail": detail}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                            ("Connection", "close")])
    return [body]
