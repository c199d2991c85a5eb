"""Documented examples, judged once when a contract loads: a breaking one is named and never served.

A user who edits the contract may write an example that breaks its own schema or a rule of the
usage endpoint's meaning (``remaining`` above ``limit``, an inverted period). Found at load, it
is reported in one line (operation, example, why) and refused by name (``Prefer: example=``)
with a 4xx that says why, instead of a 500 at the first request that picks it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from flask import Request
from werkzeug.test import EnvironBuilder

from crosmos_contract import rules
from mockserver.contract import generator, replies
from mockserver.contract.operations import Operation, OperationIndex
from mockserver.contract.validation import ContractValidator

log = logging.getLogger("mockserver.contract")
ExampleKey = tuple[str, str, str, str]  # method, path template, status, example name


def find_broken(index: OperationIndex, validator: ContractValidator) -> dict[ExampleKey, str]:
    """Every documented example that breaks the schema of its response or a usage rule, with why."""
    broken: dict[ExampleKey, str] = {}
    for operation in index.operations:
        request = _request_for(operation)
        for status, response_spec in (operation.spec.get("responses") or {}).items():
            media = generator.media_type(response_spec)
            if media is None or "json" not in media:
                continue
            code = int(status) if str(status).isdigit() else 200
            for name, body in generator.documented_examples(response_spec, media).items():
                problems = list(validator.check_response(request, replies.json_reply(body, code), operation))
                if not problems and operation.is_usage and code == 200 and isinstance(body, Mapping):
                    problems = [str(v) for v in _usage_rules(body)]
                if problems:
                    broken[(operation.method, operation.path, str(status), name)] = "; ".join(problems)[:300]
    return broken


def report(broken: Mapping[ExampleKey, str]) -> None:
    for key, reason in broken.items():
        log.warning("%s", describe(key, reason))


def describe(key: ExampleKey, reason: str) -> str:
    method, path, status, name = key
    return f"{method} {path} ({status}): example {name!r} breaks the contract and is never served: {reason}"


def _usage_rules(body: Mapping[str, Any]) -> list[rules.Violation]:
    """The single-response rules, with the example's own period as the request that asked for it."""
    start, end = rules.parse_iso_date(body.get("period_start")), rules.parse_iso_date(body.get("period_end"))
    if end is None:
        return []  # the schema check has said what is wrong with the dates
    return rules.check_usage_body(body, today_candidates=[end], start_param=start, end_param=end)


def _request_for(operation: Operation) -> Request:
    """A request that routes to ``operation`` (path parameters filled in), for response validation."""
    path = re.sub(r"\{[^}/]+\}", "1", operation.path)
    return Request(EnvironBuilder(path=path, method=operation.method).get_environ())
