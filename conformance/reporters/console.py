"""The console report as rich renderables; the CLI prints them (the only module that prints)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from conformance.result import Outcome, SuiteResult
from crosmos_contract.catalogue import CATALOGUE

_STYLES = {
    Outcome.PASS: "green",
    Outcome.FAIL: "bold red",
    Outcome.NOTE: "yellow",
    Outcome.NOT_APPLICABLE: "dim",
}


def render_console(result: SuiteResult) -> RenderableType:
    """Header, one row per check, every failure with received/expected and a curl, then the verdict."""
    parts: list[RenderableType] = [_header(result), _table(result)]
    failing = [c for c in result.checks if c.findings]
    if failing:
        parts.append(Text("\nFailures", style="bold"))
    for check in failing:
        decisive = result.level.decides(check.spec)
        heading = Text(f"\n{check.id} {check.spec.title} ({check.spec.level.value}", style="bold red" if decisive
                       else "bold yellow")
        heading.append("" if decisive else f", not decisive at level {result.level.value}")
        heading.append(")")
        parts.append(heading)
        for finding in check.findings:
            parts.append(Text(f"  Received {finding.received}"))
            parts.append(Text(f"  Expected {finding.expected}"))
            if finding.detail:
                parts.append(Text(f"  {finding.detail}", style="dim"))
            parts.append(Text(f"  Found by {finding.origin}. Reproduce with:", style="dim"))
            parts.append(Text(f"    {finding.curl}", style="cyan"))
        if check.occurrences > len(check.findings):
            parts.append(Text(f"  ({check.occurrences} failing responses in all)", style="dim"))
    noted = [c for c in result.checks if c.notes]
    if noted:
        parts.append(Text("\nNotes", style="bold"))
        for check in noted:
            for note in check.notes:
                parts.append(Text(f"  {check.id} {note.message}", style="yellow"))
    for error in result.errors:
        parts.append(Text(f"\nRun problem: {error}", style="yellow"))
    parts.append(_verdict(result))
    return Group(*parts)


def render_catalogue() -> RenderableType:
    table = Table(title="Crosmos conformance checks", show_lines=False)
    for column in ("Id", "Level", "Title", "Rule"):
        table.add_column(column, overflow="fold")
    for spec in CATALOGUE:
        table.add_row(spec.id, spec.level.value, spec.title, spec.rule)
    return table


def _header(result: SuiteResult) -> RenderableType:
    lines = [
        f"Server   {result.base_url} ({result.target})",
        f"Profile  {result.profile}   Level {result.level.value}   Seed {result.seed}   Time zone {result.timezone}",
        f"Contract sha256 {result.contract_sha256[:16]}…   kit {result.kit_version}   "
        f"schemathesis {result.schemathesis_version}",
        f"Requests {result.requests} ({result.generated_cases} generated) in {result.duration_s:.1f} s"
        f" of a {result.budget_s:g} s budget, {result.workers} worker{'s' if result.workers != 1 else ''}"
        + ("" if result.stop_reason == "completed" else f"   stopped early: {result.stop_reason}"),
    ]
    limits = result.rate_limits
    if limits.refusals or limits.fixed_rate:
        paced = f", paced at {limits.paced_at:g} req/s" if limits.paced_at else ""
        lines.append(f"Rate limit {limits.refusals} refusals (429) met, {limits.retries} retried, "
                     f"{limits.waited_s:.1f} s waited, {limits.unanswered} never answered{paced}")
    lines += [f"Note     {note}" for note in result.notes]
    # Folded, never cropped: a CI log is 80 columns wide, and the end of a line is often the point.
    return Panel(Text("\n".join(lines), overflow="fold"), title="Crosmos usage endpoint conformance", expand=False)


def _table(result: SuiteResult) -> RenderableType:
    table = Table(show_header=True, header_style="bold")
    table.add_column("Id")
    table.add_column("Level")
    table.add_column("Outcome")
    table.add_column("Title")
    table.add_column("Responses", justify="right")
    for check in result.checks:
        table.add_row(check.id, check.spec.level.value, Text(check.outcome.value, style=_STYLES[check.outcome]),
                      check.spec.title, str(check.exercised))
    return table


def _verdict(result: SuiteResult) -> RenderableType:
    if result.problem is not None:
        return Text(f"\nCANNOT CERTIFY: {result.problem}", style="bold red")
    counts = result.counts()
    summary = ", ".join(f"{count} {name}" for name, count in counts.items() if count)
    style = "bold green" if result.conformant else "bold red"
    decisive = sorted(result.failed_ids_at(result.level))
    text = Text(f"\n{result.verdict.upper()} at level {result.level.value}", style=style)
    text.append(f"  ({summary})", style="")
    if decisive:
        text.append(f"\nFailing: {', '.join(decisive)}", style=style)
    if not result.complete:
        text.append(f"\nIncomplete ({result.stop_reason}): {result.probes_run} of {result.probes_planned} probes, "
                    f"{result.generated_cases} generated cases sent; what was not sent was not checked",
                    style="bold yellow")
    return text
