"""Oversized requests are refused by the mock itself, with JSON, before Flask parses anything.

The HTTP server's own limit answers with an empty body; a frontend (and the conformance suite)
deserves a readable reason. The server's buffer is set well above these limits, so requests up to
its size reach this guard: 414 for a long URL, 431 for large headers, both JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

MAX_URL_BYTES = 8 * 1024
MAX_HEADER_BYTES = 16 * 1024  # one header field
MAX_HEADERS_TOTAL = 48 * 1024

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


def _refuse(start_response: Callable[..., Any], status: str, detail: str) -> list[bytes]:
    body = json.dumps({"detail": detail}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                            ("Connection", "close")])
    return [body]
