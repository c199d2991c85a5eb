"""Index an OpenAPI document's operations once, at start: no spec walks per request."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, RequestRedirect, Rule

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
USAGE_PATH = "/api/v1/usage"


@dataclass(frozen=True)
class Operation:
    method: str  # upper case
    path: str  # the template as the document writes it
    spec: Mapping[str, Any]
    parameters: tuple[Mapping[str, Any], ...]
    requires_auth: bool
    bearer_auth: bool  # judged like the reference's HTTPBearer (else openapi-core's verdict alone)
    auth_in_authorization: bool  # every scheme reads only the Authorization header
    # The security requirements that apply (the operation's, else the document's), each scheme as the
    # document declares it (None: a name the document does not declare).
    security: tuple[tuple[Mapping[str, Any] | None, ...], ...] = ()

    is_usage: bool = field(init=False)
    cacheable_validation: bool = field(init=False)  # its verdict depends only on method, path, query, auth header

    def __post_init__(self) -> None:
        """Facts every request reads, worked out once at load (plain values, no call per request)."""
        object.__setattr__(self, "is_usage", self.method == "GET" and self.path == USAGE_PATH)
        object.__setattr__(self, "cacheable_validation", self.auth_in_authorization and "requestBody" not in self.spec
                           and all(p.get("in") in ("query", "path") for p in self.parameters))

    def success_status(self) -> str:
        statuses = sorted(str(s) for s in self.spec.get("responses", {}))
        return next((s for s in statuses if s.startswith("2")), statuses[0] if statuses else "200")

    def documents(self, status: str) -> bool:
        """Whether the document answers ``status`` (exactly, as ``4XX``, or through ``default``)."""
        documented = {str(s) for s in self.spec.get("responses", {})}
        return status in documented or f"{status[0]}XX" in documented or "default" in documented

    def response(self, status: str) -> Mapping[str, Any]:
        responses: Mapping[str, Any] = self.spec.get("responses", {})
        return responses.get(status) or responses.get(f"{status[0]}XX") or responses.get("default") or {}


@dataclass(frozen=True)
class Match:
    operation: Operation | None
    path_params: Mapping[str, str]
    allowed: frozenset[str]  # for a 405: the methods the path does serve


class OperationIndex:
    def __init__(self, resolved: Mapping[str, Any]) -> None:
        self.operations: list[Operation] = []
        self._by_endpoint: dict[str, dict[str, Operation]] = {}
        rules = []
        global_security = resolved.get("security") or []
        schemes = (resolved.get("components") or {}).get("securitySchemes") or {}
        for index, (path, item) in enumerate(sorted(resolved.get("paths", {}).items())):
            shared = tuple(item.get("parameters", []))
            endpoint = f"op{index}"
            methods: dict[str, Operation] = {}
            for method in HTTP_METHODS:
                spec = item.get(method)
                if not isinstance(spec, Mapping):
                    continue
                names = {(p.get("in"), p.get("name")) for p in spec.get("parameters", [])}
                params = tuple(spec.get("parameters", [])) + tuple(
                    p for p in shared if (p.get("in"), p.get("name")) not in names)
                security = tuple(tuple(schemes.get(name) for name in requirement)
                                 for requirement in spec.get("security", global_security))
                requires_auth = any(bool(requirement) for requirement in security)
                used = [scheme or {} for requirement in security for scheme in requirement]
                bearer = any(s.get("type") == "http" and str(s.get("scheme", "")).lower() == "bearer" for s in used)
                in_header = all(s.get("type") in ("http", "oauth2", "openIdConnect") for s in used)
                operation = Operation(method.upper(), path, spec, params, requires_auth, bearer, in_header, security)
                methods[method.upper()] = operation
                self.operations.append(operation)
            if methods:
                self._by_endpoint[endpoint] = methods
                rules.append(Rule(_werkzeug_path(path), endpoint=endpoint, methods=list(methods)))
        # A path is the document's path exactly: ``/api/v1/usage/`` and ``//api/v1/usage`` are other
        # paths (the reference answers them 307 and 404), not the usage operation.
        self._map = Map(rules, strict_slashes=True, merge_slashes=False, redirect_defaults=False)
        self._adapter = self._map.bind("mock.local")
        # Every request is matched, and real traffic repeats a handful of paths: remember the
        # answers (bounded, as paths are user input). Matches are immutable.
        self.match: Callable[[str, str], Match] = functools.lru_cache(maxsize=4096)(self._match)

    def _match(self, method: str, path: str) -> Match:
        if path.startswith("//"):  # werkzeug strips leading slashes before matching
            return Match(None, {}, frozenset())
        try:
            endpoint, args = self._adapter.match(path, method=method)
        except MethodNotAllowed as exc:
            documented = {op.method for op in self.operations}  # not werkzeug's implicit HEAD
            return Match(None, {}, frozenset(m for m in exc.valid_methods or () if m in documented))
        except (NotFound, RequestRedirect):  # RequestRedirect: a documented path ends in "/", the request's not
            return Match(None, {}, frozenset())
        served = self._by_endpoint[str(endpoint)]
        if method not in served:  # werkzeug lets HEAD through for GET; the reference does not
            return Match(None, {}, frozenset(served))
        return Match(served[method], MappingProxyType({k: str(v) for k, v in args.items()}), frozenset())

    def find(self, method: str, path: str) -> Operation | None:
        return next((op for op in self.operations if op.method == method and op.path == path), None)


def _werkzeug_path(template: str) -> str:
    out, rest = [], template
    while "{" in rest:
        head, _, tail = rest.partition("{")
        name, _, rest = tail.partition("}")
        out.append(head + f"<string:{name}>")
    out.append(rest)
    return "".join(out)
