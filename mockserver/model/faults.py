"""Faults on demand: latency, an error rate, and rate-limit emulation (429 with ``Retry-After``).

These *leave the contract on purpose*: the contract documents neither 429 nor 5xx, and a slow
reply breaks STATUS-008. They exist so a frontend can show its error, retry and spinner states;
they are all off unless asked for (CLI flags, the control API, or ``Prefer: delay=`` on one
request), and every response that is not a fault is still generated and self-checked as usual.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from flask import Response

from mockserver.contract import replies
from mockserver.store.shared import SharedStore

MAX_DELAY_MS = 30_000
RATE_WINDOW_S = 60.0
FAULT_HEADER = "X-Mock-Fault"
REQUESTED = "requested"  # X-Mock-Fault of an error a request asked for with Prefer: code=
REQUESTED_RETRY_AFTER_S = 30
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*(?:-\s*(\d+(?:\.\d+)?)\s*(ms|s)?)?\s*$", re.IGNORECASE)


def parse_delay(text: str) -> tuple[int, int]:
    """``"50-300ms"``, ``"200ms"``, ``"1.5s"``, ``"0.5-2s"`` or ``"150"`` (milliseconds) → (low, high) ms.

    Raises ValueError with a message fit for the user.
    """
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a delay; use e.g. 200ms, 1s or 50-300ms")
    low_text, low_unit, high_text, high_unit = match.groups()
    unit = (high_unit or low_unit or "ms").lower()
    low = _ms(low_text, (low_unit or unit).lower())
    high = _ms(high_text, unit) if high_text else low
    if low > high:
        raise ValueError(f"{text!r}: the range must go from low to high")
    if high > MAX_DELAY_MS:
        raise ValueError(f"{text!r}: at most {MAX_DELAY_MS // 1000}s")
    return low, high


def _ms(number: str, unit: str) -> int:
    return round(float(number) * (1000 if unit == "s" else 1))


def format_delay(delay: tuple[int, int]) -> str:
    low, high = delay
    return f"{low}ms" if low == high else f"{low}-{high}ms"


def parse_rate(text: str) -> float:
    """``"0.25"`` or ``"25%"`` → 0.25; ValueError outside 0..1."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ValueError(f"{text!r} is not a rate; use a fraction (0.1) or a percentage (10%)") from None
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise ValueError(f"{text!r}: a rate lies between 0 and 1 (0% and 100%)")
    return value


def check_error_status(status: int) -> int:
    if not 400 <= status <= 599:
        raise ValueError(f"{status} is not an error status (400-599)")
    return status


@dataclass(frozen=True)
class FaultSettings:
    latency: tuple[int, int] | None = None  # milliseconds, low..high
    error_rate: float = 0.0
    error_status: int = 500
    rate_limit: bool = False

    @property
    def active(self) -> bool:
        return self.latency is not None or self.error_rate > 0 or self.rate_limit

    def as_json(self) -> dict[str, Any]:
        return {"latency": format_delay(self.latency) if self.latency else None, "error_rate": self.error_rate,
                "error_status": self.error_status, "rate_limit": self.rate_limit}

    def updated(self, changes: Mapping[str, Any]) -> FaultSettings:
        """These settings with ``changes`` (the JSON form) applied; ValueError names the bad field."""
        unknown = set(changes) - set(_PARSERS)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {"latency": self.latency, "error_rate": self.error_rate,
                                  "error_status": self.error_status,
                                  "rate_limit": self.rate_limit}
        for name, value in changes.items():
            try:
                values[name] = _PARSERS[name](value)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return FaultSettings(**values)


def _latency_field(value: Any) -> tuple[int, int] | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))):
        raise ValueError("a string such as '50-300ms', a number of ms, or null")
    return None if value in (None, "", 0, "0") else parse_delay(str(value))


def _rate_field(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("a number between 0 and 1, or a percentage string")
    return parse_rate(str(value))


def _status_field(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("an integer between 400 and 599")
    return check_error_status(value)


def _flag_field(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


_PARSERS: dict[str, Callable[[Any], Any]] = {"latency": _latency_field, "error_rate": _rate_field,
                                             "error_status": _status_field, "rate_limit": _flag_field}


def pick_delay(delay: tuple[int, int]) -> float:
    """Seconds to wait, uniformly within the range."""
    low, high = delay
    return (low if low == high else random.uniform(low, high)) / 1000


def roll_error(rate: float, rng: random.Random | None = None) -> bool:
    return rate > 0 and (rng or random).random() < rate


def error_response(status: int) -> Response:
    """What production sends when it fails: Starlette's plain-text 500, else ``{"detail": phrase}``."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    if status == 500:
        response = Response("Internal Server Error", 500, mimetype="text/plain")
    else:
        response = replies.json_reply({"detail": phrase}, status)
    return response


def rate_limited(rpm: int, retry_after: int) -> Response:
    response = replies.json_reply({"detail": f"Rate limit exceeded: {rpm} per 1 minute"}, 429, {
        "Retry-After": str(retry_after), "X-RateLimit-Limit": str(rpm), "X-RateLimit-Remaining": "0"})
    return response


class RateLimiter:
    """A sliding 60-second window per org, shared by every worker: the org's own ``rate_limit_rpm``.

    Only accepted requests are counted, so a client that backs off as told gets through.
    """

    def __init__(self, store: SharedStore) -> None:
        self._store = store

    def admit(self, org: str, rpm: int, now: float | None = None) -> int | None:
        """None when the request may pass (it is counted), else the seconds to wait (``Retry-After``)."""
        if rpm <= 0:  # -1: unlimited
            return None
        now = time.time() if now is None else now
        with self._store.transaction() as db:
            db.execute("DELETE FROM rate_hits WHERE org = ? AND at <= ?", (org, now - RATE_WINDOW_S))
            count, oldest = db.execute("SELECT COUNT(*), MIN(at) FROM rate_hits WHERE org = ?", (org,)).fetchone()
            if count >= rpm:
                return max(1, math.ceil(float(oldest) + RATE_WINDOW_S - now))
            db.execute("INSERT INTO rate_hits (org, at) VALUES (?, ?)", (org, now))
            return None
