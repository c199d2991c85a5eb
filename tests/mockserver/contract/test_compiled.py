"""The compiled checks against their oracle: wherever the fast path answers, openapi-core agrees.

``mockserver.contract.compiled`` and ``ContractValidator._fast_verdict`` decide request verdicts and response
bodies without openapi-core, which stays the oracle: they answer ``None`` where openapi-core must
decide. A wrong fast answer is silent (a request let in, or a body the self-check and the judge call
valid), so these tests generate requests, bodies and dates and compare both readings of each, on the
embedded contract and on a small synthetic one that uses what the embedded one does not (path and
integer parameters, alternative and combined security requirements, ``$ref`` chains, a status range,
``default``, ``format: email``, response headers).

openapi-core costs milliseconds a call, so the default run is bounded and derandomized (the same
examples every run); the ``slow`` variants (``make fuzz``) draw a thousand fresh examples each.

The disagreements these tests found (year 0000 in a ``date``, ``pattern``'s ECMA-262 classes, a
decimal ``multipleOf``, ``discriminator``, a non-UTF-8 body, ``Bearer`` and ``Bearer `` sharing a
cache key) are fixed in the product and kept here as cases: a new one is added as an explicit
``xfail(strict=True)`` case, which fails the run the day the product agrees with the oracle.
"""

from __future__ import annotations

import copy
import json
import string
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import date
from functools import cache
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from flask import Flask, Request, Response
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from pydantic import TypeAdapter, ValidationError

from crosmos_contract import default_contract_path, load_contract
from mockserver.contract import params
from mockserver.contract.operations import Operation, OperationIndex
from mockserver.contract.validation import ContractValidator, RequestVerdict

DEFAULT_EXAMPLES = 150
SLOW_EXAMPLES = 1000
USAGE = "/api/v1/usage"
APP = Flask(__name__)  # only for test_request_context: a real flask.Request per example

"""A year-0000 date: jsonschema-rs takes it as a ``format: date`` (RFC 3339 allows
year 0), openapi-core's checker (``date.fromisoformat``, years 1-9999) does not. See
:func:`test_a_year_zero_date_in_a_body_is_judged_as_openapi_core_judges_it`."""


def _runs(examples: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Hypothesis settings for a differential run: the default run derandomized (a bounded suite
    that explores the same examples every time), the slow run fresh each time."""
    return settings(max_examples=examples, deadline=None, database=None, derandomize=examples <= DEFAULT_EXAMPLES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- the contracts ------------------------------------------------------------------------------

SYNTHETIC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Synthetic", "version": "1"},
    "paths": {
        "/items/{itemId}": {
            "get": {
                "parameters": [
                    {"name": "itemId", "in": "path", "required": True, "schema": {"type": "integer"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                ],
                "security": [{"A": []}, {"B": []}],
                "responses": {
                    "200": {"description": "an item", "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Item"}},
                        "text/plain": {"schema": {"type": "string"}}}},
                    "201": {"description": "a format the compiled checks leave to openapi-core", "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Contact"}}}},
                    "202": {"description": "declared headers", "headers": {"X-Rate": {"schema": {"type": "integer"}}},
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}},
                    "204": {"description": "no content"},
                    "4XX": {"description": "a status range", "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
                },
            },
        },
        "/things": {
            "get": {
                "parameters": [
                    {"name": "since", "in": "query", "required": True,
                     "schema": {"type": "string", "format": "date"}},
                    # anyOf, as FastAPI writes Optional: openapi-core 0.23 raises TypeError on ``type: [..]`` here
                    {"name": "until", "in": "query",
                     "schema": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}},
                ],
                # Both A and B at once (never: one Authorization header), or C (openapi-core compares the
                # header's scheme lower-cased with "Bearer" as written: never), or B alone.
                "security": [{"A": [], "B": []}, {"C": []}, {"B": []}],
                "responses": {"default": {"description": "any status", "content": {"application/json": {
                    "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}}}}},
            },
        },
        "/counts": {
            "get": {
                "parameters": [{"name": "n", "in": "query", "schema": {"type": "integer"}}],
                "security": [{"K": []}, {}],
                "responses": {"200": {"description": "ok"}},
            },
        },
        "/secrets": {
            "get": {
                "security": [{"B": []}],
                "responses": {"200": {"description": "ok", "content": {
                    "application/json": {"schema": {"type": "object"}}}}},
            },
        },
    },
    "components": {
        "securitySchemes": {
            "A": {"type": "http", "scheme": "bearer"},
            "B": {"type": "http", "scheme": "basic"},
            "C": {"type": "http", "scheme": "Bearer"},
            "K": {"type": "apiKey", "in": "header", "name": "X-Key"},
        },
        "schemas": {
            "Item": {"type": "object", "required": ["id", "name"], "additionalProperties": False, "properties": {
                "id": {"type": "integer", "minimum": 1},
                "name": {"type": "string", "minLength": 1},
                "price": {"type": "number", "exclusiveMinimum": 0},
                "added": {"type": "string", "format": "date"},
                "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                "owner": {"$ref": "#/components/schemas/Owner"}}},
            "Owner": {"type": "object", "required": ["login"], "properties": {
                "login": {"type": "string"}, "friend": {"$ref": "#/components/schemas/Owner"}}},
            "Contact": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}},
            "Problem": {"type": "object", "required": ["title"], "properties": {
                "title": {"type": "string"}, "status": {"type": ["integer", "null"]}}},
        },
    },
}


class Contract:
    """A document with its validator and operations, as the mock builds them."""

    def __init__(self, document: Mapping[str, Any], *, spec_checked: bool) -> None:
        self.document = document
        self.validator = ContractValidator(document, spec_checked=spec_checked)
        self.index = OperationIndex(document)

    def operation(self, method: str, path: str) -> Operation:
        found = self.index.find(method, path)
        assert found is not None, path
        return found


@cache
def _default() -> Contract:
    return Contract(load_contract(default_contract_path()).resolved, spec_checked=True)


def _usage_and_synthetic() -> Contract:
    """The synthetic document with the embedded contract's usage operation (its schemas inlined, as
    resolved), and a validator of its own: an empty request cache."""
    combined = copy.deepcopy(SYNTHETIC)
    resolved = _default().document
    combined["paths"][USAGE] = resolved["paths"][USAGE]
    combined["components"]["securitySchemes"]["HTTPBearer"] = resolved["components"]["securitySchemes"]["HTTPBearer"]
    return Contract(combined, spec_checked=False)


@pytest.fixture(scope="module")
def default() -> Contract:
    return _default()


@pytest.fixture(scope="module", params=["as written", "resolved"])
def synthetic(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Contract:
    """The synthetic document as written (``$ref`` chains the compiled checks follow through their
    registry; openapi-core checks the document itself) and as ``load_contract`` resolves it."""
    if request.param == "as written":
        return Contract(SYNTHETIC, spec_checked=False)
    flat = copy.deepcopy(SYNTHETIC)  # prance resolves no recursive $ref: one Owner level, then any object
    flat["components"]["schemas"]["Owner"]["properties"]["friend"] = {"type": "object"}
    path = tmp_path_factory.mktemp("synthetic") / "synthetic.json"
    path.write_text(json.dumps(flat))
    return Contract(load_contract(path).resolved, spec_checked=True)


# --- what both readings say ---------------------------------------------------------------------

def _request(path: str, query: str, authorization: str | None, headers: Mapping[str, str] | None = None) -> Request:
    sent = dict(headers or {})
    if authorization is not None:
        sent["Authorization"] = authorization
    with APP.test_request_context(path, query_string=query, headers=sent) as ctx:
        return ctx.request


def _oracle_body_ok(validator: ContractValidator, request: Request, response: Response) -> tuple[bool, list[str]]:
    """openapi-core's word on a reply: valid when it finds no errors (``_response_errors``' fallback)."""
    result = validator.oracle.unmarshal_response(WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(response))
    return not result.errors, [_describe(error) for error in result.errors]


def _describe(error: BaseException) -> str:
    try:
        return " ".join(str(error).split())[:300]
    except UnicodeDecodeError:  # see test_a_body_that_is_not_utf_8_is_a_finding_not_a_crash
        return f"{type(error).__name__} (its message does not decode)"


def _assert_same_verdict(fast: RequestVerdict, oracle: RequestVerdict) -> None:
    assert fast.security_failed == oracle.security_failed
    assert list(fast.errors) == list(oracle.errors)  # the same 422 detail, in the same order
    assert dict(fast.values) == dict(oracle.values)


# --- strategies: query strings and Authorization headers ----------------------------------------

VALID_DATES = st.dates().map(date.isoformat)
CALENDAR_MISSES = st.sampled_from(["2026-02-30", "2026-13-01", "0000-01-01", "0000-02-29", "2026-00-10",
                                   "2026-04-31", "2025-02-29", "1900-02-29", "2026-12-32", "2026-12-00"])
LAX_FORMS = st.one_of(
    st.sampled_from(["2026-11-01T00:00:00", "2026-11-01T00:00:00Z", "2026-11-01T00:00:00+00:00",
                     "2026-11-01T12:30:00", "2026-11-01 00:00:00", "1767225600", "1767225601", "20261101",
                     "0", "-86400", "1767225600.0", "1767225600000", "2026-11-01T00:00", "2026-W44-7", "+2026-11-01"]),
    st.integers(-(10**6), 10**6).map(lambda days: str(days * 86400)),
    st.integers(-(10**13), 10**13).map(str),
)
DATE_SHAPES = st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=16)  # quote() needs encodable text
DATE_VALUES = st.one_of(
    VALID_DATES, CALENDAR_MISSES, LAX_FORMS, DATE_SHAPES, TEXT, st.just(""),
    st.builds(lambda day, pad: pad[0] + day + pad[1], VALID_DATES,
              st.sampled_from([(" ", ""), ("", " "), ("", "\n"), ("\t", ""), ("", "Z"), ("", "T")])),
    st.from_regex(r"\d{4}-\d{2}-\d{2}", fullmatch=True),  # digits of any script
)


def _encode(text: str, how: str) -> str:
    if how == "plus":
        return quote_plus(text)
    if how == "percent":
        return quote(text, safe="")
    return "".join(f"%{byte:02X}" for byte in text.encode())  # every byte, the name's letters too


def _pairs(names: st.SearchStrategy[str], values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """One ``name=value`` fragment, encoded one of three ways, or a malformed fragment."""
    encoded = st.builds(lambda name, value, how: f"{_encode(name, how)}={_encode(value, how)}",
                        names, values, st.sampled_from(["plus", "percent", "every byte"]))
    bare = names.map(quote_plus)  # a name without "=": werkzeug reads an empty value
    raw = st.sampled_from(["", "=", "=x", "%zz", "start_date=%ff", "end_date=%E2%82", "start_date=%",
                           "end_date=2026-01-01%00", "start_date=2026%2D01%2D01", "&"])
    return st.one_of(encoded, encoded, encoded, bare, raw)


QUERY_NAMES = st.one_of(st.sampled_from(["start_date", "end_date"]),
                        st.sampled_from(["foo", "START_DATE", "start_date[]", "start-date", "start_date ", ""]))
USAGE_QUERIES = st.lists(_pairs(QUERY_NAMES, DATE_VALUES), max_size=5).map("&".join)

TOKENS = st.text(string.ascii_letters + string.digits + "-._~+/=", min_size=1, max_size=24)
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF) | st.just("\t"), max_size=20)
BEARERS = st.builds(lambda scheme, token: f"{scheme} {token}", st.sampled_from(["Bearer", "bearer", "BEARER"]), TOKENS)
AUTHORIZATIONS = st.one_of(
    BEARERS, BEARERS, BEARERS,  # most requests get past security, so their parameters are compared too
    st.none(),
    st.builds(lambda scheme, gap, token: f"{scheme}{gap}{token}",
              st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "basic", "Token", "", "Bearer:", "Bearerx"]),
              st.sampled_from([" ", " ", "  ", "", "\t"]), st.one_of(TOKENS, st.just(""), st.just(" "), HEADER_TEXT)),
    st.sampled_from(["Bearer", "Bearer ", "Bearer  ", " Bearer x", "Bearer x ", "Basic xyz", "Basic", "Basic ",
                     "", " ", "Bearer\tx", "Bearer é", "csk_abc"]),
    HEADER_TEXT,
)


# --- 1. requests on the embedded contract -------------------------------------------------------

def _usage_requests(contract: Contract, examples: int) -> Counter[str]:
    operation = contract.operation("GET", USAGE)
    validator = contract.validator
    seen: Counter[str] = Counter()

    @_runs(examples)
    @given(query=USAGE_QUERIES, authorization=AUTHORIZATIONS)
    def compare(query: str, authorization: str | None) -> None:
        request = _request(USAGE, query, authorization)
        fast = validator._fast_verdict(request, operation)
        oracle = validator._judge(request, operation)
        note(f"fast: {fast}\noracle: {oracle}")
        assert fast is not None, "the embedded contract's one operation is within the fast path's reach"
        _assert_same_verdict(fast, oracle)
        seen["refused" if oracle.security_failed else "422" if oracle.errors else "valid"] += 1

    compare()
    return seen


def test_request_verdicts_agree_with_openapi_core(default: Contract) -> None:
    """The verdict and the 422 detail the fast path gives are openapi-core's (and pydantic's words)."""
    seen = _usage_requests(default, DEFAULT_EXAMPLES)
    assert seen["refused"] and seen["422"] and seen["valid"], seen  # every kind of verdict was compared


@pytest.mark.slow
def test_request_verdicts_agree_with_openapi_core_at_length(default: Contract) -> None:
    seen = _usage_requests(default, SLOW_EXAMPLES)
    assert seen["refused"] and seen["422"] and seen["valid"], seen


@pytest.mark.parametrize(("query", "authorization"), [
    ("start_date=2026-02-30", "Bearer t"), ("start_date=2026-13-01&end_date=0000-01-01", "Bearer t"),
    ("start_date=2026-11-01T00:00:00", "bearer t"), ("start_date=1767225600", "Bearer t"),
    ("start_date=20261101", "Bearer t"), ("start_date=a&start_date=2026-01-01", "Bearer t"),
    ("start_date=2026-01-01&start_date=a", "Bearer t"), ("end_date=", "Bearer t"), ("start_date", "Bearer t"),
    ("foo=1&start%5Fdate=2026-01-02", "Bearer t"), ("start_date=%ff", "Bearer t"),
    ("", None), ("", "Bearer"), ("", "Bearer "), ("", "Basic xyz"), ("", "Bearerxyz"), ("", "Bearer  x"),
    ("", " Bearer x"), ("", ""),
])
def test_request_verdicts_agree_on_the_named_cases(default: Contract, query: str, authorization: str | None) -> None:
    """Calendar misses, lax forms, repeated, empty, unknown and encoded parameters, header shapes:
    compared every run, whatever hypothesis draws."""
    operation = default.operation("GET", USAGE)
    request = _request(USAGE, query, authorization)
    fast = default.validator._fast_verdict(request, operation)
    assert fast is not None
    _assert_same_verdict(fast, default.validator._judge(request, operation))


# --- 2. response bodies on the embedded contract ------------------------------------------------

INTEGERS = st.one_of(st.integers(-1, 10**6), st.integers(-(2**63), 2**63), st.integers())
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=6)
METRIC = st.fixed_dictionaries({"used": INTEGERS, "limit": INTEGERS, "remaining": INTEGERS})
USAGE_BODY = st.fixed_dictionaries({
    "plan": TEXT, "period_start": VALID_DATES, "period_end": VALID_DATES, "tokens": METRIC, "queries": METRIC,
    "spaces": METRIC, "rate_limit_rpm": INTEGERS, "rate_limit_per_day": INTEGERS})
INTEGER_FIELDS = [("rate_limit_rpm",), ("rate_limit_per_day",), *(
    (metric, name) for metric in ("tokens", "queries", "spaces") for name in ("used", "limit", "remaining"))]
DATE_FIELDS = [("period_start",), ("period_end",)]
REQUIRED_FIELDS = [("plan",), *DATE_FIELDS, ("tokens",), ("queries",), ("spaces",), *INTEGER_FIELDS]
NOT_INTEGERS = st.one_of(
    st.integers().map(str), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1.0, 0.0, -3.0, 1.5, 1e300]), st.none(), st.booleans(), TEXT,
    st.lists(st.integers(), max_size=2), st.just({}))
NOT_DATES = st.one_of(CALENDAR_MISSES, st.sampled_from(["2026-1-1", "2026-01-1", "26-01-01", "2026/01/01", "20260101",
                                                        "2026-01-01T00:00:00", "2026-01-01 ", " 2026-01-01",
                                                        "2026-01-01\n", "0000-01-01", "0000-12-31"]),
                      DATE_SHAPES, st.from_regex(r"\d{4}-\d{2}-\d{2}", fullmatch=True), TEXT, st.integers(), st.none())


def _put(body: dict[str, Any], where: tuple[str, ...], value: Any) -> None:
    node = body
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value


def _drop(body: dict[str, Any], where: tuple[str, ...]) -> None:
    node = body
    for key in where[:-1]:
        node = node[key]
    del node[where[-1]]


@st.composite
def usage_bodies(draw: st.DrawFn) -> Any:
    """A UsageResponse, valid or broken one way: a field missing, of the wrong type, an invalid date,
    an extra property (allowed: the schema does not forbid them)."""
    body: dict[str, Any] = draw(USAGE_BODY)
    how = draw(st.sampled_from(["valid", "missing", "integer", "date", "plan", "metric", "extra"]))
    if how == "missing":
        _drop(body, draw(st.sampled_from(REQUIRED_FIELDS)))
    elif how == "integer":
        _put(body, draw(st.sampled_from(INTEGER_FIELDS)), draw(NOT_INTEGERS))
    elif how == "date":
        _put(body, draw(st.sampled_from(DATE_FIELDS)), draw(NOT_DATES))
    elif how == "plan":
        _put(body, ("plan",), draw(st.one_of(st.none(), st.integers(), st.booleans(), st.lists(TEXT, max_size=2))))
    elif how == "metric":
        _put(body, (draw(st.sampled_from(["tokens", "queries", "spaces"])),), draw(JSON_SCALARS | st.lists(INTEGERS)))
    elif how == "extra":
        where = draw(st.sampled_from([(), ("tokens",), ("spaces",)]))
        node = body
        for key in where:
            node = node[key]
        node[draw(TEXT)] = draw(JSON_VALUES)
    return body


DETAIL = st.fixed_dictionaries(
    {"loc": st.lists(st.one_of(TEXT, st.integers()), max_size=3), "msg": TEXT, "type": TEXT},
    optional={"input": JSON_VALUES, "ctx": st.dictionaries(TEXT, JSON_SCALARS, max_size=2)})


@st.composite
def validation_error_bodies(draw: st.DrawFn) -> Any:
    """An HTTPValidationError (``detail``: ValidationError items), valid or broken one way."""
    body: dict[str, Any] = {"detail": draw(st.lists(DETAIL, max_size=3))}
    how = draw(st.sampled_from(["valid", "no detail", "detail", "item", "loc", "field", "ctx"]))
    if how == "no detail":
        del body["detail"]  # still valid: nothing is required
    elif how == "detail":
        body["detail"] = draw(JSON_SCALARS | st.dictionaries(TEXT, JSON_SCALARS, max_size=2))
    elif how == "item":
        body["detail"].append(draw(JSON_SCALARS | st.lists(JSON_SCALARS, max_size=2)))
    elif how == "loc":
        body["detail"].append({"loc": [draw(st.one_of(st.floats(), st.booleans(), st.none(), st.just([])))],
                               "msg": "m", "type": "t"})
    elif how == "field":
        item = draw(DETAIL)
        del item[draw(st.sampled_from(["loc", "msg", "type"]))]
        body["detail"].append(item)
    elif how == "ctx":
        body["detail"].append({"loc": [], "msg": "m", "type": "t", "ctx": draw(JSON_SCALARS | st.lists(JSON_SCALARS))})
    return body


def _as_bytes(value: Any, encoding: str) -> bytes:
    text = json.dumps(value)  # NaN and Infinity as Python writes them (json.loads reads them back)
    if encoding == "utf-8-sig":
        return b"\xef\xbb\xbf" + text.encode()
    return text.encode(encoding)


NOT_JSON = st.one_of(
    st.sampled_from([b"", b"not json", b"{", b"{'plan': 1}", b"\xff\xfe\xfd", b"[1,]", b"nul", b" ", b"{}garbage"]),
    st.binary(max_size=12))
BODIES = st.one_of(
    st.builds(_as_bytes, st.one_of(USAGE_BODY, usage_bodies(), usage_bodies(), validation_error_bodies(), JSON_VALUES),
              st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16"])),
    st.builds(lambda body, cut: body[:cut], usage_bodies().map(lambda body: json.dumps(body).encode()),
              st.integers(1, 40)),  # truncated
    NOT_JSON)
MEDIA_TYPES = st.sampled_from(["application/json", "application/json", "application/json; charset=utf-8", "text/plain"])


def _usage_bodies(contract: Contract, examples: int) -> Counter[str]:
    operation = contract.operation("GET", USAGE)
    validator = contract.validator
    compiled = validator.compiled.operation(operation)
    request = _request(USAGE, "", "Bearer t")
    seen: Counter[str] = Counter()

    @_runs(examples)
    @given(status=st.sampled_from([200, 200, 200, 422, 422, 401, 500]), media_type=MEDIA_TYPES, body=BODIES)
    def compare(status: int, media_type: str, body: bytes) -> None:
        response = Response(body, status=status, content_type=media_type)
        fast = compiled.body_valid(status, response.mimetype or "", body)
        oracle_ok, findings = _oracle_body_ok(validator, request, response)
        note(f"fast: {fast}, openapi-core: {oracle_ok} {findings}")
        if status in (200, 422) and response.mimetype == "application/json":
            assert fast is not None, "a documented JSON reply is within the fast path's reach"
        if status in (401, 500):
            assert fast is False, "an undocumented status is the fast path's to refuse"
        seen["asked"] += 1
        if fast is None:
            return
        seen["answered"] += 1
        assert fast == oracle_ok
        seen[f"{status} {'valid' if oracle_ok else 'invalid'}"] += 1

    compare()
    return seen


def _assert_both_verdicts(seen: Counter[str]) -> None:
    assert seen["answered"] >= 0.6 * seen["asked"], seen  # the fast path answered most cases: not vacuous
    assert seen["200 valid"] and seen["200 invalid"] and seen["422 valid"] and seen["422 invalid"], seen


def test_response_bodies_agree_with_openapi_core(default: Contract) -> None:
    """Where ``body_valid`` answers, it is openapi-core's verdict: a True there skips openapi-core
    (the self-check and the judge then see no violation), so a wrong True hides a broken body."""
    _assert_both_verdicts(_usage_bodies(default, DEFAULT_EXAMPLES))


@pytest.mark.slow
def test_response_bodies_agree_with_openapi_core_at_length(default: Contract) -> None:
    _assert_both_verdicts(_usage_bodies(default, SLOW_EXAMPLES))


VALID_USAGE = {"plan": "free", "period_start": "2026-11-01", "period_end": "2026-11-25",
               "tokens": {"used": 1, "limit": 10, "remaining": 9}, "queries": {"used": 0, "limit": -1, "remaining": -1},
               "spaces": {"used": 2, "limit": 3, "remaining": 1}, "rate_limit_rpm": 60, "rate_limit_per_day": 1000}


def _usage_with(**changes: Any) -> bytes:
    return json.dumps({**VALID_USAGE, **changes}).encode()


@pytest.mark.parametrize(("status", "media_type", "body", "valid"), [
    (200, "application/json", _usage_with(), True),
    (200, "application/json; charset=utf-8", _usage_with(), True),
    (200, "application/json", _usage_with(extra={"any": 1}), True),
    (200, "application/json", _usage_with(rate_limit_rpm=1.0), True),  # 1.0 is an integer to both
    (200, "application/json", _usage_with(rate_limit_rpm=True), False),  # true is not an integer
    (200, "application/json", _usage_with(rate_limit_rpm="60"), False),
    (200, "application/json", _usage_with(rate_limit_rpm=1.5), False),
    (200, "application/json", _usage_with(rate_limit_rpm=None), False),
    (200, "application/json", _usage_with(rate_limit_rpm=10**40), True),
    (200, "application/json", _usage_with(rate_limit_rpm=float("nan")), False),
    (200, "application/json", _usage_with(rate_limit_rpm=float("inf")), False),
    (200, "application/json", _usage_with(period_start="2026-02-30"), False),
    (200, "application/json", _usage_with(period_start="2026-1-1"), False),
    (200, "application/json", _usage_with(period_start="2024-02-29"), True),
    (200, "application/json", _usage_with(period_start="1900-02-29"), False),
    (200, "application/json", _usage_with(period_start="0001-01-01"), True),
    (200, "application/json", json.dumps({k: v for k, v in VALID_USAGE.items() if k != "plan"}).encode(), False),
    (200, "application/json", b"[]", False), (200, "application/json", b"null", False),
    (200, "application/json", b"not json", False), (200, "application/json", b"", False),
    (200, "application/json", json.dumps(VALID_USAGE).encode("utf-16"), True),
    (422, "application/json", b'{"detail": [{"loc": ["query", "start_date"], "msg": "m", "type": "t"}]}', True),
    (422, "application/json", b'{"detail": [{"loc": [true], "msg": "m", "type": "t"}]}', False),
    (422, "application/json", b"{}", True), (422, "application/json", _usage_with(), True),
    (401, "application/json", _usage_with(), False), (500, "application/json", b"{}", False),
])
def test_response_bodies_agree_on_the_named_cases(default: Contract, status: int, media_type: str, body: bytes,
                                                   valid: bool) -> None:
    """Each kind of body, with what openapi-core says of it (so the list is checked too): both must say it."""
    operation = default.operation("GET", USAGE)
    request = _request(USAGE, "", "Bearer t")
    response = Response(body, status=status, content_type=media_type)
    oracle_ok, findings = _oracle_body_ok(default.validator, request, response)
    assert oracle_ok is valid, findings
    assert default.validator.compiled.operation(operation).body_valid(status, response.mimetype or "", body) is valid


@pytest.mark.parametrize("day", ["0000-01-01", "0000-02-29", "0000-12-31"])
def test_a_year_zero_date_in_a_body_is_judged_as_openapi_core_judges_it(default: Contract, day: str) -> None:
    """jsonschema-rs's own ``date`` check takes year 0000 (RFC 3339 allows it) where openapi-core's
    finds ``'0000-01-01' is not a 'date'``; a True would skip openapi-core and let such a body through
    the self-check and the judge, so the compiled validators check ``date`` as openapi-core does."""
    operation = default.operation("GET", USAGE)
    body = _usage_with(period_start=day)
    response = Response(body, status=200, content_type="application/json")
    oracle_ok, findings = _oracle_body_ok(default.validator, _request(USAGE, "", "Bearer t"), response)
    assert not oracle_ok, findings  # "'0000-01-01' is not a 'date'", past the 500 characters a finding keeps
    assert default.validator.compiled.operation(operation).body_valid(200, "application/json", body) in (None, False)


@pytest.mark.parametrize("body", [b"\x80", b"\xff\xfe\xfd", b"{\"plan\": \"\xe9\"}"])
def test_a_body_that_is_not_utf_8_is_a_finding_not_a_crash(default: Contract, body: bytes) -> None:
    """Not a disagreement (``body_valid`` says False, openapi-core finds the body unreadable), but
    found here: ``check_response`` raised UnicodeDecodeError instead of reporting the finding, for a
    JSON reply whose bytes are not UTF-8 (an upstream's, in proxy mode): openapi-core words that
    error by decoding the body."""
    operation = default.operation("GET", USAGE)
    response = Response(body, status=200, content_type="application/json")
    assert default.validator.compiled.operation(operation).body_valid(200, "application/json", body) is False
    assert default.validator.check_response(_request(USAGE, "", "Bearer t"), response, operation)


# --- keywords jsonschema-rs reads otherwise than openapi-core -----------------------------------

PETS = {
    "Cat": {"type": "object", "required": ["petType"], "properties": {
        "petType": {"type": "string"}, "meow": {"type": "boolean"}}},
    "Dog": {"type": "object", "required": ["petType", "bark"], "properties": {
        "petType": {"type": "string"}, "bark": {"type": "boolean"}}},
    "Pet": {"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
            "discriminator": {"propertyName": "petType"}},
}
PET = {"$ref": "#/components/schemas/Pet"}


def _one_schema(schema: Mapping[str, Any]) -> Contract:
    """A document whose one operation answers 200 with ``schema`` (the pets beside, for $refs)."""
    return Contract({"openapi": "3.1.0", "info": {"title": "one schema", "version": "1"}, "components": {
        "schemas": PETS}, "paths": {"/x": {"get": {"responses": {"200": {"description": "ok", "content": {
            "application/json": {"schema": schema}}}}}}}}, spec_checked=False)


@pytest.mark.parametrize(("schema", "value"), [
    pytest.param({"type": "number", "multipleOf": 0.01}, 0.5, id="multipleOf 0.01, 0.5"),
    pytest.param({"type": "number", "multipleOf": 0.01}, 0.07, id="multipleOf 0.01, 0.07"),
    pytest.param({"type": "number", "multipleOf": 0.01}, 19.99, id="multipleOf 0.01, 19.99"),
    pytest.param({"type": "string", "pattern": "^\\S+$"}, "ab", id="pattern \\S, ab"),
    pytest.param({"type": "string", "pattern": "^\\S+$"}, "\x1c", id="pattern \\S, U+001C"),
    pytest.param({"type": "string", "pattern": "^\\s$"}, "\ufeff", id="pattern \\s, U+FEFF"),
    pytest.param({"type": "string", "pattern": "^\\D+$"}, "\u0663", id="pattern \\D, ARABIC-INDIC DIGIT THREE"),
    pytest.param({"type": "string", "pattern": "^[a-z]+$"}, "abc\n", id="pattern $, a trailing newline"),
    pytest.param(PET, {"petType": "Cat"}, id="discriminator, Cat"),
    pytest.param(PET, {"petType": "Fish"}, id="discriminator, a value naming no schema"),
    pytest.param(PET, {"petType": "cat"}, id="discriminator, a schema's name in lower case"),
    pytest.param(PET, {"petType": "Dog", "bark": True}, id="discriminator, a Dog that fits Cat too"),
])
def test_keywords_jsonschema_rs_and_openapi_core_read_alike(schema: Mapping[str, Any], value: Any) -> None:
    """Shapes the embedded contract does not use, on which the compiled check is not openapi-core's
    verdict (``pattern`` is ECMA-262 in jsonschema-rs and Python's ``re`` in openapi-core; a decimal
    ``multipleOf``; ``discriminator``, an annotation to jsonschema-rs, a schema choice to openapi-core).
    Agreement, or a None ("openapi-core decides"), would both do."""
    contract = _one_schema(schema)
    operation = contract.operation("GET", "/x")
    body = json.dumps(value).encode()
    response = Response(body, status=200, content_type="application/json")
    oracle_ok, findings = _oracle_body_ok(contract.validator, _request("/x", "", None), response)
    fast = contract.validator.compiled.operation(operation).body_valid(200, "application/json", body)
    assert fast is None or fast == oracle_ok, (fast, oracle_ok, findings)


# --- 3. dates as pydantic reads them ------------------------------------------------------------

PYDANTIC_DATE: TypeAdapter[date] = TypeAdapter(date)


def _pydantic_reading(raw: str, loc: tuple[str, str]) -> tuple[Any, list[dict[str, Any]]]:
    """What ``params.parse_value("date", ...)`` gave before its ``date.fromisoformat`` shortcut:
    pydantic's value, or its errors as FastAPI details."""
    try:
        return PYDANTIC_DATE.validate_python(raw), []
    except ValidationError as exc:
        return None, params.fastapi_details(exc, loc)


def _assert_read_as_pydantic_reads(raw: str) -> None:
    loc = ("query", "start_date")
    value, details = params.parse_value("date", raw, loc)
    expected_value, expected_details = _pydantic_reading(raw, loc)
    assert (value, details) == (expected_value, expected_details)
    assert type(value) is type(expected_value)  # a date, never a datetime that compares equal


RAW_DATES = st.one_of(DATE_SHAPES, st.from_regex(r"\d{4}-\d{2}-\d{2}", fullmatch=True), VALID_DATES, CALENDAR_MISSES,
                      LAX_FORMS, TEXT, st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}.{0,3}", fullmatch=True))


@settings(max_examples=500, deadline=None, database=None, derandomize=True)
@given(raw=RAW_DATES)
def test_dates_are_read_as_pydantic_reads_them(raw: str) -> None:
    """``parse_value`` reads ``YYYY-MM-DD`` itself; the value and every detail must stay pydantic's."""
    _assert_read_as_pydantic_reads(raw)


@pytest.mark.slow
@settings(max_examples=20_000, deadline=None, database=None)
@given(raw=RAW_DATES)
def test_dates_are_read_as_pydantic_reads_them_at_length(raw: str) -> None:
    _assert_read_as_pydantic_reads(raw)


def test_every_day_of_the_edge_years_is_read_as_pydantic_reads_it() -> None:
    """Every month 00-13 and day 00-32 of the years where calendars differ (0, 1, leap centuries, 9999)."""
    for year in (0, 1, 4, 100, 400, 1582, 1900, 2000, 2024, 2025, 2100, 9999):
        for month in range(14):
            for day in range(33):
                _assert_read_as_pydantic_reads(f"{year:04d}-{month:02d}-{day:02d}")


# --- 4. the synthetic contract ------------------------------------------------------------------

ITEM_IDS = st.one_of(st.integers().map(str), st.text(string.ascii_letters + string.digits + "-_~%é +", min_size=1,
                                                     max_size=8))
SYNTHETIC_VALUES = st.one_of(DATE_VALUES, st.integers(-3, 3).map(str), st.sampled_from(
    ["2026-11-01T00:00:00Z", "2026-11-01T00:00:00+02:00", "2026-11-01T25:00:00Z", "2026-11-01t00:00:00z",
     "1.5", "1e3", "0x10", "-0", "true"]))
SYNTHETIC_QUERIES = st.lists(_pairs(st.sampled_from(["limit", "since", "until", "n", "other"]), SYNTHETIC_VALUES),
                             max_size=4).map("&".join)
SYNTHETIC_AUTHORIZATIONS = st.one_of(AUTHORIZATIONS, TOKENS.map(lambda token: f"Basic {token}"))


def _synthetic_requests(contract: Contract, examples: int) -> Counter[str]:
    validator = contract.validator
    seen: Counter[str] = Counter()

    @_runs(examples)
    @given(which=st.sampled_from(["/items/{itemId}", "/things", "/counts", "/secrets"]), item=ITEM_IDS,
           query=SYNTHETIC_QUERIES, authorization=SYNTHETIC_AUTHORIZATIONS, api_key=st.none() | TOKENS)
    def compare(which: str, item: str, query: str, authorization: str | None, api_key: str | None) -> None:
        operation = contract.operation("GET", which)
        path = which.replace("{itemId}", quote(item, safe=""))
        request = _request(path, query, authorization, {"X-Key": api_key} if api_key is not None else None)
        assume(contract.index.match("GET", request.path).operation is operation)  # the mock routes it here
        fast = validator._fast_verdict(request, operation)
        oracle = validator._judge(request, operation)
        security = validator.compiled.operation(operation).security_failed(authorization)
        note(f"fast: {fast}\ncompiled security_failed: {security}\noracle: {oracle}")
        if which == "/counts":
            assert security is None, "an API key alternative is openapi-core's to judge"
        else:
            assert security == oracle.security_failed
            seen[f"{which} {'refused' if security else 'let in'}"] += 1
        if which in ("/items/{itemId}", "/counts"):
            assert fast is None, "integer parameters are openapi-core's to judge"
        else:
            assert fast is not None, "date parameters and HTTP schemes are within the fast path's reach"
            _assert_same_verdict(fast, oracle)
            if not fast.security_failed:
                seen[f"{which} {'422' if fast.errors else 'valid'}"] += 1

    compare()
    return seen


def _assert_synthetic_requests(seen: Counter[str]) -> None:
    for kind in ("/items/{itemId} refused", "/items/{itemId} let in", "/things refused", "/things let in",
                 "/things 422", "/secrets refused"):
        assert seen[kind], (kind, seen)


def test_synthetic_request_verdicts_agree_with_openapi_core(synthetic: Contract) -> None:
    """Security alternatives (either, both at once, a scheme written "Bearer"), path and integer
    parameters, required date and date-time parameters: the fast path answers only where it
    covers the shapes, and answers as openapi-core does; its security reading answers everywhere
    the schemes are HTTP ones."""
    _assert_synthetic_requests(_synthetic_requests(synthetic, DEFAULT_EXAMPLES))


@pytest.mark.slow
def test_synthetic_request_verdicts_agree_with_openapi_core_at_length(synthetic: Contract) -> None:
    _assert_synthetic_requests(_synthetic_requests(synthetic, SLOW_EXAMPLES))


@pytest.mark.parametrize("authorization", [
    None, "Bearer t", "bearer t", "Basic dTpw", "basic dTpw", "Basic", "Basic ", "Bearer", "Bearer ", "Token t",
    "BasicdTpw", " Basic dTpw", "",
])
@pytest.mark.parametrize("path", ["/items/{itemId}", "/things", "/secrets"])
def test_synthetic_security_alternatives_are_read_as_openapi_core_reads_them(
        synthetic: Contract, path: str, authorization: str | None) -> None:
    operation = synthetic.operation("GET", path)
    request = _request(path.replace("{itemId}", "7"), "since=2026-01-01", authorization)
    oracle = synthetic.validator._judge(request, operation)
    assert synthetic.validator.compiled.operation(operation).security_failed(authorization) == oracle.security_failed


OWNERS: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries({"login": TEXT})
for _ in range(3):  # an Owner, its friend, theirs: the recursive $ref followed three levels deep
    OWNERS = st.fixed_dictionaries({"login": TEXT}, optional={"friend": OWNERS})
ITEMS = st.fixed_dictionaries(
    {"id": st.integers(1, 10**9), "name": st.text(min_size=1, max_size=8)},
    optional={"price": st.floats(min_value=0, exclude_min=True, allow_infinity=False), "added": VALID_DATES,
              "tags": st.lists(st.text(max_size=4), max_size=3, unique=True),
              "owner": OWNERS})


@st.composite
def item_bodies(draw: st.DrawFn) -> Any:
    """An Item (``additionalProperties: false``, an Owner chain), valid or broken one way."""
    item: dict[str, Any] = draw(ITEMS)
    how = draw(st.sampled_from(["valid", "id", "name", "price", "added", "tags", "owner", "extra", "missing"]))
    if how == "id":
        item["id"] = draw(st.one_of(st.integers(max_value=0), st.booleans(), st.sampled_from([1.0, 2.5]), TEXT))
    elif how == "name":
        item["name"] = draw(st.one_of(st.just(""), st.none(), st.integers()))
    elif how == "price":
        item["price"] = draw(st.one_of(st.floats(max_value=0), st.just(0), st.just(-1), TEXT, st.booleans()))
    elif how == "added":
        item["added"] = draw(NOT_DATES)
    elif how == "tags":
        tag = draw(TEXT)
        item["tags"] = draw(st.sampled_from([[tag, tag], [1], tag]))
    elif how == "owner":
        item["owner"] = draw(st.one_of(st.just({}), st.just({"login": "a", "friend": {"login": 1}}),
                                       st.just({"login": "a", "friend": {"friend": {"login": "b"}}}), JSON_SCALARS))
    elif how == "extra":
        item[draw(TEXT.filter(lambda key: key not in item))] = draw(JSON_VALUES)
    elif how == "missing":
        del item[draw(st.sampled_from(["id", "name"]))]
    return item


PROBLEMS = st.fixed_dictionaries({"title": TEXT}, optional={"status": st.none() | st.integers()}) | JSON_VALUES
CONTACTS = st.fixed_dictionaries({}, optional={"email": st.one_of(st.emails(), TEXT)})
ENCODINGS = st.sampled_from(["utf-8", "utf-8", "utf-8-sig"])
SYNTHETIC_REPLIES = st.one_of(  # which operation, and a body drawn for its schemas (an Item; Items), or junk
    st.tuples(st.just("/items/{itemId}"), st.one_of(
        st.builds(_as_bytes, st.one_of(ITEMS, item_bodies(), item_bodies(), PROBLEMS, CONTACTS), ENCODINGS),
        NOT_JSON)),
    st.tuples(st.just("/things"), st.one_of(
        st.builds(_as_bytes, st.one_of(st.lists(ITEMS, max_size=3), st.lists(item_bodies(), min_size=1, max_size=3),
                                       item_bodies(), JSON_VALUES), ENCODINGS),
        NOT_JSON)))


def _synthetic_bodies(contract: Contract, examples: int) -> Counter[str]:
    validator = contract.validator
    seen: Counter[str] = Counter()

    @_runs(examples)
    @given(reply=SYNTHETIC_REPLIES, status=st.sampled_from([200, 200, 200, 201, 202, 204, 404, 418, 500, 503]),
           media_type=MEDIA_TYPES)
    def compare(reply: tuple[str, bytes], status: int, media_type: str) -> None:
        which, body = reply
        operation = contract.operation("GET", which)
        request = _request(which.replace("{itemId}", "7"), "since=2026-01-01", "Bearer t")
        response = Response(body, status=status, content_type=media_type)
        if status == 202:
            response.headers["X-Rate"] = "10"
        fast = validator.compiled.operation(operation).body_valid(status, response.mimetype or "", body)
        oracle_ok, findings = _oracle_body_ok(validator, request, response)
        note(f"fast: {fast}, openapi-core: {oracle_ok} {findings}")
        json_reply = response.mimetype == "application/json"
        if which == "/items/{itemId}":
            if status in (201, 202, 204) or (not json_reply and status in (200, 404, 418)):
                assert fast is None, "format: email, declared headers, no content, text: openapi-core's"
            elif status in (500, 503):
                assert fast is False, "no 5XX, no default: ResponseNotFound"
            else:
                assert fast is not None, "a $ref'd JSON schema and a status range are within reach"
        elif json_reply:
            assert fast is not None, "default is within reach"
        if fast is None:
            return
        assert fast == oracle_ok
        seen[f"{which} {'valid' if oracle_ok else 'invalid'}"] += 1

    compare()
    return seen


def _assert_synthetic_bodies(seen: Counter[str]) -> None:
    for kind in ("/items/{itemId} valid", "/items/{itemId} invalid", "/things valid", "/things invalid"):
        assert seen[kind], (kind, seen)


def test_synthetic_response_bodies_agree_with_openapi_core(synthetic: Contract) -> None:
    """``$ref`` chains (a recursive Owner), a ``4XX`` range, ``default``, ``additionalProperties:
    false``, ``uniqueItems``, ``exclusiveMinimum``: where ``body_valid`` answers, openapi-core agrees;
    ``format: email``, declared headers and a response without content are left to openapi-core."""
    _assert_synthetic_bodies(_synthetic_bodies(synthetic, DEFAULT_EXAMPLES))


@pytest.mark.slow
def test_synthetic_response_bodies_agree_with_openapi_core_at_length(synthetic: Contract) -> None:
    _assert_synthetic_bodies(_synthetic_bodies(synthetic, SLOW_EXAMPLES))


@pytest.mark.parametrize(("status", "media_type", "body"), [
    (201, "application/json", b'{"email": "not an address"}'), (201, "application/json", b'{"email": "a@b.example"}'),
    (202, "application/json", b'{"id": 1, "name": "a"}'), (204, "application/json", b"anything"),
    (200, "text/plain", b"anything"),
])
def test_shapes_the_compiled_checks_leave_to_openapi_core(synthetic: Contract, status: int, media_type: str,
                                                          body: bytes) -> None:
    operation = synthetic.operation("GET", "/items/{itemId}")
    assert synthetic.validator.compiled.operation(operation).body_valid(status, media_type, body) is None


# --- the request cache: one verdict per method, path, query and Authorization header shape ----

CACHE_AUTHORIZATIONS = st.one_of(  # few shapes, so two requests often share a cache key
    st.none(),
    st.builds(lambda scheme, gap, credentials: scheme + gap + credentials,
              st.sampled_from(["Basic", "basic", "Bearer", "bearer", "", "Token"]),
              st.sampled_from(["", " ", "  ", "\t"]), st.sampled_from(["", " ", "x", " x", "x y", "\t"])))


def _cached_verdicts(contract: Contract, examples: int) -> Counter[str]:
    seen: Counter[str] = Counter()

    @_runs(examples)
    @given(which=st.sampled_from([USAGE, "/secrets", "/things"]), query=st.sampled_from(
        ["", "start_date=2026-02-30", "since=2026-01-01", "since=x&start_date=2026-01-01"]),
           first=CACHE_AUTHORIZATIONS, second=CACHE_AUTHORIZATIONS)
    def compare(which: str, query: str, first: str | None, second: str | None) -> None:
        operation = contract.operation("GET", which)
        fresh = contract.validator
        fresh.clear()  # an empty cache: only ``first`` is in it
        fresh.check_request(_request(which, query, first), operation)
        request = _request(which, query, second)
        cached = fresh.check_request(request, operation)
        expected = fresh._fast_verdict(request, operation) or fresh._judge(request, operation)
        note(f"after {first!r}, {second!r} got {cached}; alone: {expected}")
        _assert_same_verdict(cached, expected)
        seen["refused" if cached.security_failed else "let in"] += 1

    compare()
    return seen


def test_a_cached_request_verdict_is_the_one_the_request_gets_alone() -> None:
    """``check_request`` caches a verdict under a key that keeps only the Authorization header's
    shape; two headers with one key must get one verdict from openapi-core too. ``Basic`` (no space:
    refused) and ``Basic `` (a space, empty credentials: openapi-core lets it in) shared a key until
    the key kept the space; ``/secrets`` (basic only) lets a request in on the verdict alone."""
    seen = _cached_verdicts(_usage_and_synthetic(), DEFAULT_EXAMPLES)
    assert seen["refused"] and seen["let in"], seen


@pytest.mark.slow
def test_a_cached_request_verdict_is_the_one_the_request_gets_alone_at_length() -> None:
    seen = _cached_verdicts(_usage_and_synthetic(), SLOW_EXAMPLES)
    assert seen["refused"] and seen["let in"], seen


@pytest.mark.parametrize(("first", "second"), [("Basic ", "Basic"), ("Basic", "Basic "), ("Basic  ", "Basic"),
                                               ("Bearer ", "Bearer")])
def test_a_header_without_a_space_is_not_judged_by_one_with_a_space(first: str, second: str) -> None:
    """The pairs the differential run found sharing a cache key (fixed in the key since)."""
    contract = _usage_and_synthetic()
    operation = contract.operation("GET", "/secrets")
    contract.validator.check_request(_request("/secrets", "", first), operation)
    request = _request("/secrets", "", second)
    assert (contract.validator.check_request(request, operation).security_failed
            == contract.validator._judge(request, operation).security_failed)
