"""The documented producer: every operation but usage, and usage replies a request asks for as
written (``Prefer: code=`` a documented status, ``example=``, ``dynamic=true`` bodies).

A body is a documented example that validates, else one generated from the schema; the first
valid body of each operation is kept (``ContractRuntime.static_bodies``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from flask import Response

from mockserver.context import Check, Context
from mockserver.contract import examples, generator, replies
from mockserver.contract.operations import Operation
from mockserver.contract.replies import SelfCheckError
from mockserver.model.scenarios import SCENARIOS
from mockserver.produce.negotiation import servable_errors
from mockserver.produce.prefer import PreferenceError, Preferences
from mockserver.state import ContractRuntime

"""Statuses production sends that the contract does not document, servable with ``Prefer: code=``."""


def serve_documented(ctx: Context, operation: Operation) -> Response:
    runtime, preferences = ctx.moment.runtime, ctx.preferences
    status = chosen_status(operation, preferences) if preferences is not None else operation.success_status()
    response_spec = operation.response(status)
    media = generator.media_type(response_spec)
    code = int(status) if status.isdigit() else 200
    if media is None:
        return Response(status=code)
    ctx.check = Check.AS_WRITTEN
    if preferences is not None and preferences.example is not None:
        documented = generator.documented_examples(response_spec, media)
        if preferences.example not in documented:
            raise unknown_example(operation, status, documented, hint=operation.is_usage)
        refuse_broken_example(runtime, operation, status, preferences.example, documented)
        return render(documented[preferences.example], code, media)
    if preferences is not None and preferences.dynamic:
        dynamic = _dynamic_body(ctx, operation, response_spec, media, code)
        if dynamic is not None:
            return dynamic
    key = (operation.method, operation.path, status, media)
    body = runtime.static_bodies.get_or_build(
        key, lambda: _first_valid_body(ctx, operation, status, response_spec, media, code))
    return render(body, code, media)


def chosen_status(operation: Operation, preferences: Preferences | None) -> str:
    """The documented status ``Prefer: code=`` names (exactly, as ``4XX``, or via ``default``)."""
    if preferences is None or preferences.code is None:
        return operation.success_status()
    code = preferences.code
    if operation.documents(code):
        return code
    documented = [str(s) for s in operation.spec.get("responses", {})]
    servable = servable_errors(operation)
    raise PreferenceError("undocumented-status", "Status not documented",
                          f"{operation.method} {operation.path} documents {', '.join(sorted(documented))}; "
                          f"not {code} (production's own errors can be asked for too: "
                          f"{', '.join(servable)})", sorted({*documented, *servable}))


def refuse_broken_example(runtime: ContractRuntime, operation: Operation, status: str, name: str,
                          documented: Mapping[str, Any]) -> None:
    """A 400 naming why, for an example found broken when the contract loaded; the valid list
    holds the operation's other, servable examples."""
    reason = runtime.broken_examples.get((operation.method, operation.path, status, name))
    if reason is not None:
        raise PreferenceError("broken-example", "The example breaks the contract",
                              examples.describe((operation.method, operation.path, status, name), reason),
                              sorted(n for n in documented
                                     if (operation.method, operation.path, status, n) not in runtime.broken_examples))


def unknown_example(operation: Operation, status: str, documented: Mapping[str, Any], hint: bool) -> PreferenceError:
    names = sorted(documented)
    where = f"{operation.method} {operation.path} ({status})"
    text = f"{where} documents the examples {', '.join(names)}" if names else f"{where} documents no examples"
    if hint:
        text += f"; for usage states use Prefer: scenario=… ({', '.join(SCENARIOS)})"
    return PreferenceError("unknown-example", "Unknown example", text, names)


def _dynamic_body(ctx: Context, operation: Operation, response_spec: Mapping[str, Any], media: str,
                  code: int) -> Response | None:
    """A freshly generated body (Prism's ``dynamic=true``), or None when none validates."""
    schema = generator.schema_of(response_spec, media)
    if schema is None:
        return None
    for _ in range(5):
        body = generator.generate(schema, dynamic=True, seed=random.getrandbits(32))
        response = render(body, code, media)
        if not ctx.moment.runtime.validator.check_response(ctx.request, response, operation):
            return response
    return None


def render(body: Any, code: int, media: str) -> Response:
    if "json" in media:
        response = replies.json_reply(body, code)
        response.mimetype = media
        return response
    return Response(str(body), code, mimetype=media)


def _first_valid_body(ctx: Context, operation: Operation, status: str, response_spec: Mapping[str, Any],
                      media: str, code: int) -> Any:
    """The first documented example that validates, else a body generated from the schema."""
    runtime = ctx.moment.runtime
    for name, example in generator.documented_examples(response_spec, media).items():
        if (operation.method, operation.path, status, name) in runtime.broken_examples:
            continue  # reported once when the contract loaded (mockserver.contract.examples)
        if not runtime.validator.check_response(ctx.request, render(example, code, media), operation):
            return example
    schema = generator.schema_of(response_spec, media)
    body = generator.generate(schema, seed=ctx.mock.settings.seed) if schema is not None else {}
    problems = runtime.validator.check_response(ctx.request, render(body, code, media), operation)
    if problems:
        raise SelfCheckError("; ".join(problems))
    return body
