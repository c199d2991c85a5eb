"""Bodies for operations the semantic model does not know: examples first, else generated.

Any OpenAPI document can be mocked. A documented example is what its authors want shown; without
one, a value is drawn from the response schema with a seeded generator, so
the same document always gives the same body, and it is made once per operation and cached.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

log = logging.getLogger("mockserver.generator")  # the name its log lines have always carried

def media_type(response: Mapping[str, Any]) -> str | None:
    """The response's JSON media type if it has one, else its first, else None (no body)."""
    content = response.get("content") or {}
    for name in content:
        if "json" in name:
            return str(name)
    return str(next(iter(content))) if content else None


def documented_examples(response: Mapping[str, Any], media: str) -> dict[str, Any]:
    """Named examples of a response: ``examples`` by name, ``example`` as "default", schema examples."""
    content = (response.get("content") or {}).get(media) or {}
    found: dict[str, Any] = {}
    for name, example in (content.get("examples") or {}).items():
        if isinstance(example, Mapping) and "value" in example:
            found[str(name)] = example["value"]
    if "example" in content:
        found.setdefault("default", content["example"])
    schema = content.get("schema") or {}
    if isinstance(schema, Mapping):
        if "example" in schema:
            found.setdefault("default", schema["example"])
        for index, example in enumerate(schema.get("examples") or []):
            found.setdefault(f"schema-{index}", example)
    return found


def schema_of(response: Mapping[str, Any], media: str) -> Mapping[str, Any] | None:
    content = (response.get("content") or {}).get(media) or {}
    schema = content.get("schema")
    return schema if isinstance(schema, Mapping) else None


def generate(schema: Mapping[str, Any], *, dynamic: bool = False, seed: int = 0) -> Any:
    """A value for ``schema``: plain and stable by default, varied (but seeded) with ``dynamic``.

    A small walker rather than hypothesis-jsonschema, whose last release no longer runs on current
    hypothesis; the caller validates the result with openapi-core, so a schema this walker cannot
    satisfy is caught, never served.
    """
    return _Walker(random.Random(seed), dynamic).value(schema, depth=0)


class _Walker:
    def __init__(self, rng: random.Random, dynamic: bool) -> None:
        self.rng = rng
        self.dynamic = dynamic

    def value(self, schema: Any, depth: int) -> Any:
        if not isinstance(schema, Mapping):
            return None
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return self.rng.choice(schema["enum"]) if self.dynamic else schema["enum"][0]
        if "example" in schema:
            return schema["example"]
        if schema.get("examples"):
            return schema["examples"][0]
        if "allOf" in schema:
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                for key, sub in part.items():
                    if key in ("properties",):
                        merged.setdefault(key, {}).update(sub)
                    elif key == "required":
                        merged[key] = sorted(set(merged.get(key, [])) | set(sub))
                    else:
                        merged.setdefault(key, sub)
            return self.value(merged, depth)
        for key in ("oneOf", "anyOf"):
            if schema.get(key):
                options = [o for o in schema[key] if not (isinstance(o, Mapping) and o.get("type") == "null")]
                return self.value(options[0] if options else schema[key][0], depth)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
        return getattr(self, f"_{kind}", self._string)(schema, depth)

    def _null(self, schema: Mapping[str, Any], depth: int) -> None:
        return None

    def _boolean(self, schema: Mapping[str, Any], depth: int) -> bool:
        return self.rng.random() < 0.5 if self.dynamic else True

    def _integer(self, schema: Mapping[str, Any], depth: int) -> int:
        low = schema.get("minimum", 0 if not self.dynamic else -1000)
        if "exclusiveMinimum" in schema and not isinstance(schema["exclusiveMinimum"], bool):
            low = max(low, schema["exclusiveMinimum"] + 1)
        high = schema.get("maximum", low + (1000 if self.dynamic else 41))
        if "exclusiveMaximum" in schema and not isinstance(schema["exclusiveMaximum"], bool):
            high = min(high, schema["exclusiveMaximum"] - 1)
        low, high = int(low), int(max(low, high))
        value = self.rng.randint(low, high) if self.dynamic else max(low, min(high, max(low, 1)))
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0 and value - value % step >= low:
            return int(value - value % step)
        return value

    def _number(self, schema: Mapping[str, Any], depth: int) -> float:
        low = float(schema.get("minimum", 0))
        high = float(schema.get("maximum", low + 100))
        return round(self.rng.uniform(low, high), 2) if self.dynamic else low + (high - low) / 2

    def _string(self, schema: Mapping[str, Any], depth: int) -> str:
        fmt = schema.get("format")
        if fmt in _FORMATS:
            return _FORMATS[fmt](self.rng, self.dynamic)
        low, high = int(schema.get("minLength", 1)), int(schema.get("maxLength", 24))
        words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
        text = "-".join(self.rng.sample(words, 3)) if self.dynamic else "string"
        text = (text * (low // max(len(text), 1) + 1))[:max(low, min(high, len(text)))]
        return text

    def _array(self, schema: Mapping[str, Any], depth: int) -> list[Any]:
        low = int(schema.get("minItems", 0 if depth > 2 else 1))
        high = int(schema.get("maxItems", max(low, 3)))
        count = self.rng.randint(low, high) if self.dynamic else low if depth > 2 else max(low, min(high, 1))
        return [self.value(schema.get("items") or {}, depth + 1) for _ in range(count)]

    def _object(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        return {name: self.value(sub, depth + 1) for name, sub in properties.items()
                if name in required or depth < 3}


def _date(rng: random.Random, dynamic: bool) -> str:
    day = _BASE_DAY + timedelta(days=rng.randint(-400, 0) if dynamic else 0)
    return day.isoformat()


_BASE_DAY = date(2026, 1, 1)
_FORMATS: dict[str, Callable[[random.Random, bool], str]] = {
    "date": _date,
    "date-time": lambda rng, dyn: f"{_date(rng, dyn)}T12:00:00Z",
    "email": lambda rng, dyn: f"user{rng.randint(1, 999) if dyn else 1}@example.com",
    "uuid": lambda rng, dyn: str(uuid.UUID(int=rng.getrandbits(128) if dyn else 1, version=4)),
    "uri": lambda rng, dyn: "https://example.com/resource",
    "hostname": lambda rng, dyn: "example.com",
    "ipv4": lambda rng, dyn: "192.0.2.1",
}
