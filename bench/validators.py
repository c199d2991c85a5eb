"""jsonschema-rs or fastjsonschema for the usage body: µs per validation, openapi-core beside.

    python -m bench.validators           # 5 rounds of 20,000 validations (openapi-core: 5 × 200)
    python -m bench.validators --smoke   # 5 rounds of 2,000 (openapi-core: 5 × 20)

Each validator is compiled once from the contract's resolved 200 schema of ``GET /api/v1/usage``
(openapi.json, every ``$ref`` inlined by crosmos_contract.loader) and validates a typical body: the
mock's default body as the WireMock stub holds it (bench/wiremock/mappings/usage.json), parsed once.
Before timing, each must accept that body and refuse the same body with a count as a string and
with a date that is no calendar day (2026-02-30): a validator that checks less is faster for
nothing, and is reported as such. Times are CPU time (``time.process_time``: the machine is shared),
the median of the rounds, with their spread.

- **jsonschema-rs** (``jsonschema_rs.validator_for(schema, validate_formats=True)``; the mock's hot
  path uses it): ``is_valid`` and ``validate`` (raises, with the error).
- **fastjsonschema** (``fastjsonschema.compile``: generated Python; draft 7, which this schema's
  keywords mean the same in; its ``date`` format a regular expression that knows month lengths and
  leap years). A bench-only dependency (in the ``dev`` extra; ``.venv/bin/pip install fastjsonschema``).
- **openapi-core** ``OpenAPI.unmarshal_response`` for reference: the whole response (operation
  lookup, status, media type, the body's bytes parsed, then schema validation and unmarshalling).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import servers

RESULTS = servers.ROOT / "bench" / "results"
TYPICAL_BODY = servers.WIREMOCK_ROOT / "mappings" / "usage.json"


@dataclass(frozen=True)
class Candidate:
    """One way to validate: ``check(body_dict, body_bytes)`` raises or returns False on an invalid body."""

    name: str
    check: Callable[[Any, bytes], object]
    rejects: Callable[[Any, bytes], bool]
    oracle: bool = False  # much slower: timed over fewer validations


def usage_schema(resolved: Mapping[str, Any]) -> dict[str, Any]:
    """The resolved schema of the 200 ``application/json`` reply of ``GET /api/v1/usage``."""
    operation = resolved["paths"][servers.USAGE_PATH]["get"]
    schema: dict[str, Any] = operation["responses"]["200"]["content"]["application/json"]["schema"]
    return schema


def typical_body() -> bytes:
    """The mock's default 200 body, byte for byte (the committed WireMock stub's)."""
    stub = json.loads(TYPICAL_BODY.read_text())
    return str(stub["response"]["body"]).encode()


def invalid_bodies(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The typical body broken twice: a count as a string; a date that is no calendar day."""
    wrong_type = copy.deepcopy(dict(body))
    wrong_type["tokens"]["used"] = str(wrong_type["tokens"]["used"])
    no_such_day = copy.deepcopy(dict(body))
    no_such_day["period_end"] = "2026-02-30"
    return [wrong_type, no_such_day]


def _raises(check: Callable[[Any], object], value: Any) -> bool:
    try:
        outcome = check(value)
    except Exception:
        return True
    return outcome is False


def candidates(resolved: Mapping[str, Any], schema: Mapping[str, Any]) -> tuple[list[Candidate], list[str]]:
    """Every validator that can be built here; and why any could not."""
    found: list[Candidate] = []
    missing: list[str] = []
    import jsonschema_rs

    rs = jsonschema_rs.validator_for(dict(schema), validate_formats=True)
    found.append(Candidate("jsonschema-rs is_valid", lambda body, _raw: rs.is_valid(body),
                           lambda body, _raw: not rs.is_valid(body)))
    found.append(Candidate("jsonschema-rs validate", lambda body, _raw: rs.validate(body),
                           lambda body, _raw: _raises(rs.validate, body)))
    try:
        import fastjsonschema
    except ImportError:
        missing.append("fastjsonschema: not installed (.venv/bin/pip install fastjsonschema; the dev extra has it)")
    else:
        compiled = fastjsonschema.compile(dict(schema))
        found.append(Candidate("fastjsonschema", lambda body, _raw: compiled(body),
                               lambda body, _raw: _raises(compiled, body)))
    from openapi_core import OpenAPI
    from openapi_core.testing import MockRequest, MockResponse

    api = OpenAPI.from_dict(dict(resolved))
    request = MockRequest("http://127.0.0.1", "get", servers.USAGE_PATH,
                          headers={"Authorization": f"Bearer {servers.TOKEN}"})

    def unmarshal(_body: Any, raw: bytes) -> object:
        result = api.unmarshal_response(request, MockResponse(raw, 200, content_type="application/json"))
        if result.errors:
            raise ValueError(result.errors)
        return result

    found.append(Candidate("openapi-core unmarshal_response", unmarshal,
                           lambda _body, raw: bool(api.unmarshal_response(
                               request, MockResponse(raw, 200, content_type="application/json")).errors),
                           oracle=True))
    return found, missing


def per_validation_us(check: Callable[[Any, bytes], object], body: Any, raw: bytes, count: int) -> float:
    """CPU µs of one validation, over ``count`` of them."""
    began = time.process_time()
    for _ in range(count):
        check(body, raw)
    return (time.process_time() - began) / count * 1e6


def measure(count: int, oracle_count: int, rounds: int) -> dict[str, Any]:
    from crosmos_contract.loader import load_contract

    resolved = load_contract().resolved
    schema = usage_schema(resolved)
    raw = typical_body()
    body = json.loads(raw)
    found, missing = candidates(resolved, schema)
    results: dict[str, Any] = {}
    for candidate in found:
        accepts = not candidate.rejects(body, raw)
        refused = [candidate.rejects(bad, json.dumps(bad).encode()) for bad in invalid_bodies(body)]
        n = oracle_count if candidate.oracle else count
        per_validation_us(candidate.check, body, raw, max(1, n // 10))  # warm: caches, lazy schema resolution
        times = [per_validation_us(candidate.check, body, raw, n) for _ in range(rounds)]
        results[candidate.name] = {
            "us_median": statistics.median(times), "us_min": min(times), "us_max": max(times), "runs_us": times,
            "validations_per_round": n, "accepts_typical_body": accepts,
            "refuses_count_as_string": refused[0], "refuses_2026_02_30": refused[1]}
    return {"results": results, "missing": missing, "body_bytes": len(raw)}


def render(report: Mapping[str, Any]) -> str:
    lines = [f"µs of CPU per validation of the typical usage body ({report['body_bytes']} bytes), median of "
             f"{report['settings']['rounds']} rounds (min–max):", ""]
    width = max((len(name) for name in report["results"]), default=10)
    for name, row in report["results"].items():
        checks = []
        if not row["accepts_typical_body"]:
            checks.append("REFUSES THE TYPICAL BODY")
        if not row["refuses_count_as_string"]:
            checks.append("accepts a count as a string")
        if not row["refuses_2026_02_30"]:
            checks.append("accepts 2026-02-30")
        lines.append(f"  {name:<{width}}  {row['us_median']:9.2f} µs  ({row['us_min']:.2f}–{row['us_max']:.2f}, "
                     f"{row['validations_per_round']:,} per round)" + (f"  [{'; '.join(checks)}]" if checks else ""))
    lines += [f"  {line}" for line in report["missing"]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.validators", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000, help="validations per round (fast validators)")
    parser.add_argument("--oracle-count", type=int, default=200, help="validations per round for openapi-core")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="--count 2000 --oracle-count 20")
    parser.add_argument("--out", type=Path, default=None, help="JSON (default: bench/results/validators-<time>.json)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.count, args.oracle_count = 2_000, 20
    if min(args.count, args.oracle_count, args.rounds) < 1:
        parser.error("--count, --oracle-count and --rounds must be 1 or more")
    versions = {}
    for module in ("jsonschema_rs", "fastjsonschema", "openapi_core"):
        try:
            from importlib.metadata import version

            versions[module] = version(module.replace("_", "-") if module == "openapi_core" else module)
        except Exception:
            versions[module] = "not installed"
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"), "versions": versions,
        "settings": {"count": args.count, "oracle_count": args.oracle_count, "rounds": args.rounds},
        **measure(args.count, args.oracle_count, args.rounds)}
    out = args.out or RESULTS / f"validators-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"versions: {', '.join(f'{k} {v}' for k, v in versions.items())}")
    print(render(report))
    print(f"wrote {out.relative_to(servers.ROOT) if out.is_relative_to(servers.ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
