"""Per-request choices: Prism-compatible ``Prefer`` (code, example, dynamic) plus scenario and delay.

``Prefer: code=422, example=name, dynamic=true, scenario=near-limit, delay=300ms`` (RFC 7240;
several ``Prefer`` headers are merged), the ``X-Mock-Scenario`` header, and the query fallbacks
``__code``, ``__example``, ``__dynamic``, ``__scenario``, ``__delay`` for clients that cannot set
headers. When the same choice is made twice, the query wins over ``Prefer``, which wins over
``X-Mock-Scenario``. Preferences the mock does not know are ignored, as RFC 7240 asks; a known
preference with a bad value is refused, because silently ignoring a typo would show the wrong UI
state. :func:`read` returns None at the cost of three dict lookups when a request names no choice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from mockserver.model import faults, scenarios

SCENARIO_HEADER = "X-Mock-Scenario"  # names the scenario in a request, and the one served in a reply
_SCENARIO_ENVIRON = "HTTP_" + SCENARIO_HEADER.upper().replace("-", "_")
PREFERENCE_NAMES = ("code", "example", "dynamic", "scenario", "delay")
QUERY_FALLBACKS = {f"__{name}": name for name in PREFERENCE_NAMES}
_CODE = re.compile(r"^[1-5]\d\d$")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


@dataclass(frozen=True)
class Preferences:
    scenario: str | None = None
    code: str | None = None
    example: str | None = None
    dynamic: bool | None = None
    delay: tuple[int, int] | None = None

    def applied(self, not_applied: frozenset[str] = frozenset()) -> str:
        """The ``Preference-Applied`` header value (RFC 7240 §3), leaving out what the reply ignored."""
        parts = []
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None or item.name in not_applied:
                continue
            if item.name == "delay":
                value = faults.format_delay(value)
            elif isinstance(value, bool):
                value = str(value).lower()
            parts.append(f"{item.name}={_quote(str(value))}")
        return ", ".join(parts)


class PreferenceError(ValueError):
    """A choice the mock cannot honour; becomes a problem+json 400 with the valid options."""

    def __init__(self, kind: str, title: str, detail: str, valid: list[str]) -> None:
        super().__init__(detail)
        self.kind, self.title, self.detail, self.valid = kind, title, detail, valid


def read(environ: Mapping[str, Any], args: Callable[[], Any]) -> Preferences | None:
    """The request's choices, or None when it names none (the common case: three dict lookups).

    ``environ`` is the WSGI environ (servers join repeated ``Prefer`` headers with commas);
    ``args`` returns the parsed query, called only when a ``__`` fallback may be present.
    """
    prefer = environ.get("HTTP_PREFER")
    header_scenario = environ.get(_SCENARIO_ENVIRON)
    query = environ.get("QUERY_STRING", "")
    if prefer is None and header_scenario is None and "__" not in query:
        return None
    raw: dict[str, str] = {}
    if header_scenario is not None:
        raw["scenario"] = header_scenario.strip()
    if prefer is not None:
        raw.update(parse_prefer(prefer))
    if "__" in query:
        parsed = args()
        for name, preference in QUERY_FALLBACKS.items():
            values = parsed.getlist(name)
            if values:
                raw[preference] = values[-1]
    if not raw:
        return None
    return _interpret(raw)


def parse_prefer(value: str) -> dict[str, str]:
    """``code=422, example="a b"; x=1`` → ``{"code": "422", "example": "a b"}`` (known names only)."""
    found: dict[str, str] = {}
    for item in _split_outside_quotes(value, ","):
        parts = _split_outside_quotes(item, ";") if item else []
        head = parts[0] if parts else ""
        name, sep, token = head.partition("=")
        name = name.strip().lower()
        if name in PREFERENCE_NAMES and sep:
            found[name] = _unquote(token.strip())
        elif name in PREFERENCE_NAMES:
            found[name] = ""
    return found


def _interpret(raw: Mapping[str, str]) -> Preferences:
    scenario = code = example = None
    dynamic: bool | None = None
    delay: tuple[int, int] | None = None
    if "scenario" in raw:
        try:
            scenario = scenarios.get_scenario(raw["scenario"]).name
        except scenarios.UnknownScenarioError:
            raise PreferenceError("unknown-scenario", "Unknown scenario",
                                  f"No scenario is called {raw['scenario']!r}; choose one of "
                                  f"{', '.join(scenarios.names())}", scenarios.names()) from None
    if "code" in raw:
        code = raw["code"].strip()
        if not _CODE.match(code):
            raise PreferenceError("invalid-preference", "Invalid preference",
                                  f"code={code!r} is not an HTTP status code", [])
    if "example" in raw:
        example = raw["example"]
    if "dynamic" in raw:
        text = raw["dynamic"].strip().lower()
        if text not in _TRUE + _FALSE:
            raise PreferenceError("invalid-preference", "Invalid preference",
                                  f"dynamic={raw['dynamic']!r} is neither true nor false", ["true", "false"])
        dynamic = text in _TRUE
    if "delay" in raw:
        try:
            delay = faults.parse_delay(raw["delay"])
        except ValueError as exc:
            raise PreferenceError("invalid-preference", "Invalid preference", f"delay: {exc}",
                                  ["200ms", "1s", "50-300ms"]) from None
    return Preferences(scenario, code, example, dynamic, delay)


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [part for part in parts if part]


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return token[1:-1].replace('\\"', '"')
    return token


def _quote(value: str) -> str:
    return value if re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", value) else '"' + value.replace('"', '\\"') + '"'
