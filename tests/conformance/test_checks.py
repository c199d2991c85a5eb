"""The judge's schemathesis adapters: built-in findings in our ids."""

from __future__ import annotations

from schemathesis.core.failures import MalformedJson, ServerError
from schemathesis.openapi.checks import UndefinedContentType

from conformance.checks import builtin_check_id


def test_schemathesis_built_in_findings_map_to_our_ids() -> None:
    assert builtin_check_id(ServerError(operation="GET /x", status_code=502), 502) == "STATUS-002"
    malformed = MalformedJson(operation="GET /x", validation_message="m", document="", position=0, lineno=1,
                              colno=1, message="m")
    assert builtin_check_id(malformed, 200) == "SCHEMA-001"
    assert builtin_check_id(malformed, 422) == "SCHEMA-002"
    wrong_type = UndefinedContentType(operation="GET /x", content_type="text/plain",
                                      defined_content_types=["application/json"], message="m")
    assert builtin_check_id(wrong_type, 200) == "STATUS-006"
