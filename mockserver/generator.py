"""Bodies for operations the semantic model does not know: examples first, else generated.

Any OpenAPI document can be mocked. A documented example is what its authors want shown; without
one, hypothesis-jsonschema draws a value from the response schema. The draw is derandomised, so
the same document always gives the same body, and it is made once per operation and cached.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)
_OPENAPI_ONLY = frozenset({"example", "xml", "externalDocs", "discriminator", "readOnly", "writeOnly",
                           "nullable", "deprecated"})


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
    """A value valid for ``schema``: the simplest one, or with ``dynamic`` a seeded random one."""
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis_jsonschema import from_schema

    strategy = from_schema(to_json_schema(schema))
    config = settings(database=None, derandomize=not dynamic, max_examples=20 + seed % 7,
                      suppress_health_check=list(HealthCheck), deadline=None,
                      phases=[Phase.generate] if dynamic else [Phase.generate, Phase.shrink])
    drawn: list[Any] = []

    def accept(value: Any) -> bool:
        drawn.append(value)
        return not dynamic or len(drawn) >= 1 + seed % 5

    return find(strategy, accept, settings=config)


def to_json_schema(schema: Any) -> Any:
    """OpenAPI 3.0 schema dialect → JSON Schema (``nullable``, ``example``, read/write-only)."""
    if isinstance(schema, list):
        return [to_json_schema(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    out: Any = {key: to_json_schema(value) for key, value in schema.items() if key not in _OPENAPI_ONLY}
    if isinstance(schema.get("properties"), Mapping):  # property names are data, not keywords
        out["properties"] = {name: to_json_schema(sub) for name, sub in schema["properties"].items()}
    if schema.get("nullable") is True:
        out = {"anyOf": [out, {"type": "null"}]}
    return copy.deepcopy(out)
