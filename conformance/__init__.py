"""The conformance suite: certify any implementation of the Crosmos usage endpoint.

Public API (imported lazily, so that loading the pytest plugin stays cheap)::

    from conformance import RunOptions, run_suite, CertLevel
    result = run_suite(RunOptions(base_url="http://127.0.0.1:8000", token="csk_…", level=CertLevel.FULL))
    result.conformant, result.failed_ids, result.by_id("PERIOD-001").findings

Reporters (``conformance.reporters``) turn a result into JSON, JUnit XML, HTML or console text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance.engine import PROFILES, Profile, Progress, RunOptions, run_suite
    from conformance.result import CertLevel, CheckResult, Finding, Note, Outcome, SuiteResult
    from conformance.transport import ConnectionProblem

_EXPORTS = {
    "run_suite": "conformance.engine", "RunOptions": "conformance.engine", "PROFILES": "conformance.engine",
    "Profile": "conformance.engine", "Progress": "conformance.engine",
    "ConnectionProblem": "conformance.transport",
    "CertLevel": "conformance.result", "SuiteResult": "conformance.result", "CheckResult": "conformance.result",
    "Finding": "conformance.result", "Note": "conformance.result", "Outcome": "conformance.result",
}
__all__ = [
    "PROFILES", "CertLevel", "CheckResult", "ConnectionProblem", "Finding", "Note", "Outcome", "Profile", "Progress",
    "RunOptions", "SuiteResult", "run_suite",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'conformance' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
