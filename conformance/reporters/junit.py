"""JUnit XML: one test case per check id, so a CI shows the catalogue as its test list.

A check that fails but does not decide the verdict at the level asked (a SHOULD rule at level
core) is reported as skipped with the reason, so the build's colour matches the exit code.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from conformance.result import CheckResult, Outcome, SuiteResult


def render_junit(result: SuiteResult) -> str:
    decisive_failures = [c for c in result.checks if c.outcome is Outcome.FAIL and result.level.decides(c.spec)]
    skipped = [c for c in result.checks if _skip_reason(c, result) is not None]
    run_error = _run_error(result)
    suite = ET.Element("testsuite", {
        "name": "crosmos-conformance",
        "tests": str(len(result.checks) + (run_error is not None)),
        "failures": str(len(decisive_failures)),
        "errors": str(int(run_error is not None)),
        "skipped": str(len(skipped)),
        "time": f"{result.duration_s:.3f}",
        "timestamp": result.started_at,
    })
    properties = ET.SubElement(suite, "properties")
    for name, value in (("base_url", result.base_url), ("profile", result.profile), ("level", result.level.value),
                        ("seed", str(result.seed)), ("contract_sha256", result.contract_sha256),
                        ("kit_version", result.kit_version), ("verdict", result.verdict),
                        ("stop_reason", result.stop_reason), ("budget_s", f"{result.budget_s:g}"),
                        ("rate_limit_refusals", str(result.rate_limits.refusals)),
                        ("rate_limit_waited_s", f"{result.rate_limits.waited_s:g}")):
        ET.SubElement(properties, "property", {"name": name, "value": value})
    if run_error is not None:  # first, so no CI reads a run that certified nothing as green
        case = ET.SubElement(suite, "testcase", {"classname": "crosmos.run", "name": "run complete", "time": "0"})
        ET.SubElement(case, "error", {"message": run_error, "type": result.stop_reason}).text = \
            "\n".join(result.errors)
    for check in result.checks:
        case = ET.SubElement(suite, "testcase", {
            "classname": f"crosmos.{check.spec.category}",
            "name": f"{check.id} {check.spec.title}",
            "time": "0",
        })
        reason = _skip_reason(check, result)
        if check.outcome is Outcome.FAIL and reason is None:
            failure = ET.SubElement(case, "failure", {
                "message": f"{check.id} ({check.spec.level.value}): {check.findings[0].message}",
                "type": check.spec.level.value,
            })
            failure.text = _details(check)
        elif reason is not None:
            skip = ET.SubElement(case, "skipped", {"message": reason})
            if check.findings:
                skip.text = _details(check)
        if check.notes:
            ET.SubElement(case, "system-out").text = "\n".join(f"note: {n.message}\n  {n.curl}" for n in check.notes)
    suites = ET.Element("testsuites", {"name": "crosmos-conformance", "tests": suite.get("tests", "0"),
                                       "failures": suite.get("failures", "0"), "errors": suite.get("errors", "0")})
    suites.append(suite)
    _clean(suites)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(element: ET.Element) -> None:
    """XML 1.0 cannot carry some characters a fuzzed request or a broken body contains."""
    for node in element.iter():
        if node.text:
            node.text = _NOT_XML.sub("\ufffd", node.text)
        for key, value in node.attrib.items():
            node.attrib[key] = _NOT_XML.sub("\ufffd", value)


def _run_error(result: SuiteResult) -> str | None:
    if result.problem is not None:
        return f"cannot certify: {result.problem}"
    if not result.complete:
        return (f"incomplete ({result.stop_reason}): {result.probes_run} of {result.probes_planned} probes and "
                f"{result.generated_cases} generated cases sent")
    return None


def _skip_reason(check: CheckResult, result: SuiteResult) -> str | None:
    if check.outcome is Outcome.NOT_APPLICABLE:
        return "not applicable: no response exercised this check"
    if check.outcome is Outcome.FAIL and not result.level.decides(check.spec):
        return f"fails, but a {check.spec.level.value} rule does not decide level {result.level.value}"
    return None


def _details(check: CheckResult) -> str:
    lines = [check.spec.rule, ""]
    for finding in check.findings:
        lines += [f"Received {finding.received}", f"Expected {finding.expected}", f"Request  {finding.request}",
                  f"Reproduce with: {finding.curl}", ""]
    if check.occurrences > len(check.findings):
        lines.append(f"({check.occurrences} failing responses in all)")
    return "\n".join(lines)
