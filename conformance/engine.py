"""Run the suite against one server: preflight, probes, then generated cases, into a SuiteResult.

The seams: :mod:`conformance.transport` is how every request reaches the server (TLS, proxy,
headers, pace, rate limits); :mod:`conformance.probe_session` sends and judges the probes;
:mod:`conformance.generation` drives schemathesis; :mod:`conformance.budget` says when to stop.
This module only orders them. Nothing here prints or exits: progress goes to an optional
callback, and the caller (the CLI, the pytest plugin, a test) decides what a result means.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import schemathesis

from conformance.budget import RunBudget
from conformance.checks import RunState, activated
from conformance.client import HttpClient
from conformance.findings import hide
from conformance.generation import GenerationRun, Shard, build_schema, plan, sessions_from
from conformance.probe_session import ProbeRunner, for_credential, run_probes
from conformance.probes import PER_CREDENTIAL, PROBES, dry_run
from conformance.profiles import COVERAGE_CASES, PROFILES, Profile
from conformance.result import CertLevel, Note, ResultBuilder, SuiteResult
from conformance.transport import (
    DEFAULT_MAX_BODY_BYTES,
    ConnectionProblem,
    Transport,
    TransportSettings,
    check_base_url,
)
from crosmos_contract.clock import resolve_timezone
from crosmos_contract.judge import JudgeSettings
from crosmos_contract.loader import load_contract

AUTO_WORKERS = 4  # workers for a server whose replies take FAR_AWAY_S or more
FAR_AWAY_S = 0.05


@dataclass(frozen=True)
class RunOptions:
    base_url: str
    token: str
    profile: str = "quick"
    more_tokens: tuple[str, ...] = ()  # further credentials the server issued (other orgs, a JWT): per-org probes
    level: CertLevel = CertLevel.CORE
    seed: int | None = None
    timezone: str | None = None
    timeout: float = 10.0  # per request
    max_response_time: float = 2.0  # STATUS-008
    budget: float | None = None  # a hard cap; None: the profile's, grown to the server's latency and pace
    contract: Path | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    target: str = "server"
    workers: int | None = None  # None: 1 for a server that answers at once, AUTO_WORKERS for one far away
    transport: TransportSettings = field(default_factory=TransportSettings)
    notes: tuple[str, ...] = ()  # what the caller noticed in the options (a token's whitespace stripped)


@dataclass(frozen=True)
class Progress:
    stage: str  # "probes" or "generated"
    done: int
    total: int | None
    detail: str = ""


ProgressCallback = Callable[[Progress], None]


def kit_version() -> str:
    try:
        return version("crosmos-contract-kit")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


def transport_settings(options: RunOptions) -> TransportSettings:
    """The options' transport, with the run's timeout and body cap (one place decides both)."""
    from dataclasses import replace

    return replace(options.transport, timeout=options.timeout, max_body_bytes=options.max_body_bytes)


def run_suite(options: RunOptions, progress: ProgressCallback | None = None) -> SuiteResult:
    """Certify the server at ``options.base_url``.

    Raises ContractError (bad contract), UnknownTimezone, KeyError (unknown profile) or
    ConnectionProblem (the server cannot be reached, or the options cannot work): usage errors,
    not findings.
    """
    profile = PROFILES[options.profile]
    settings = transport_settings(options)
    try:
        check_base_url(options.base_url)
        settings.validate()
    except ValueError as exc:
        raise ConnectionProblem(str(exc)) from None
    secrets = (*settings.secrets, *options.more_tokens)
    contract = load_contract(options.contract)
    zone = resolve_timezone(options.timezone)
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(2**31)
    notify = progress or (lambda _: None)
    judge_settings = JudgeSettings(options.token, zone, options.max_response_time, options.timeout,
                                   server_errors=False, also_valid=options.more_tokens)
    state = RunState(judge_settings, hidden_headers=frozenset(name.lower() for name, _ in settings.headers))
    builder = ResultBuilder(curl_flags=settings.curl_flags())
    started_at = datetime.now(UTC)
    budget = RunBudget(options.budget if options.budget is not None else profile.budget,
                       fixed=options.budget is not None)
    transport = Transport(settings)
    transport.deadline = lambda: budget.deadline
    errors: list[str] = []
    shards = plan(profile, seed)
    today = datetime.now(UTC).date()
    probe_requests = len(dry_run(today, options.token, seed=seed).asked) + sum(
        len(dry_run(today, token, PER_CREDENTIAL).asked) for token in options.more_tokens)
    further = [probe for probe in PROBES if probe.name in PER_CREDENTIAL]
    probes_planned = len(PROBES) + len(further) * len(options.more_tokens)
    planned = probe_requests + (COVERAGE_CASES if profile.coverage else 0) + profile.max_examples
    generation = GenerationRun(contract, options.base_url, options.token, options.timeout, state, builder, budget,
                               secrets, lambda done, detail: notify(Progress("generated", done, None, detail)))
    probe_schema = build_schema(contract, options.base_url, options.token, options.timeout,
                                shards[0] if shards else Shard(0, seed, 1, coverage=False, fuzzing=False))
    with sessions_from(transport), activated(probe_schema, state), HttpClient(options.base_url, transport) as client:
        runner = ProbeRunner(client, probe_schema, state, builder, options.token, secrets, budget, seed=seed)
        runner.preflight()
        workers = options.workers or (AUTO_WORKERS if runner.preflight_seconds >= FAR_AWAY_S else 1)
        budget.fit(planned, runner.preflight_seconds, workers, settings.rate_limit)
        runner.grow = generation.grow = lambda: _grow_for_pace(budget, transport, planned, runner.preflight_seconds,
                                                               workers)
        generation.transport_stopped = lambda: transport.stopped
        notify(Progress("probes", 0, probes_planned, "starting"))
        done, stop_reason, error = run_probes(
            runner, PROBES, workers, lambda n, name: notify(Progress("probes", n, probes_planned, name)))
        runners = [runner]
        for position, token in enumerate(options.more_tokens, start=2):
            if stop_reason != "completed":
                break
            other = for_credential(runner, position, token)
            runners.append(other)
            offset = done
            more, stop_reason, error = run_probes(
                other, further, workers,
                lambda n, name, o=offset: notify(Progress("probes", o + n, probes_planned, name)))  # type: ignore[misc]
            done += more
        if error:
            errors.append(error)
        _grow_for_pace(budget, transport, planned, runner.preflight_seconds, workers)
        if stop_reason == "completed" and shards and not transport.stopped:
            if budget.remaining() < 1:
                stop_reason = "budget spent on probes"
                errors.append(f"No generated cases: the {budget.seconds:g} s budget was spent on the probes; "
                              "rerun with a larger --budget")
            else:
                generation.run(shards, workers)
                errors.extend(generation.errors)
                if generation.cut_short:
                    stop_reason = "budget"
                    needed = generation.planned(shards) + probe_requests
                    # What the run reached, extrapolated to what it planned (or the pace given), and a margin.
                    larger = math.ceil(1.3 * max(budget.seconds * needed / max(1, transport.sent),
                                                 needed / settings.rate_limit if settings.rate_limit else 0))
                    errors.append(f"incomplete: {generation.sent} of about {generation.planned(shards)} generated "
                                  f"cases sent before the {budget.seconds:g} s budget was spent; rerun with "
                                  f"--budget {larger}")
    rate_limits = transport.rate_limits()
    unanswered = sum(each.unanswered for each in runners) + state.refusals
    if rate_limits.beyond_budget is not None:
        errors[:] = [error for error in errors if "budget was spent" not in error]
        errors.append(f"The server asked to wait {rate_limits.beyond_budget:g} s (Retry-After), beyond what was "
                      f"left of the {budget.seconds:g} s budget; the run stopped there: rerun later or with a "
                      "larger --budget")
        stop_reason = "rate limited beyond the budget"
    if unanswered and stop_reason == "completed":
        stop_reason = "rate limited"
        errors.append(f"{unanswered} requests were still refused (429) after every retry: their rules were not "
                      "exercised; lower --rate-limit or raise the server's limit")
    for violation, exchange in state.notes:
        builder.add_note(Note(violation.rule_id, hide(violation.message, options.token, secrets),
                              hide(exchange.request.curl(options.token), options.token, secrets), exchange.origin))
    builder.exercised_counts(state.evaluated)
    return SuiteResult(
        base_url=options.base_url,
        profile=profile.name,
        level=options.level,
        seed=seed,
        timezone=options.timezone or "UTC",
        contract_sha256=contract.sha256,
        kit_version=kit_version(),
        schemathesis_version=schemathesis.__version__,
        started_at=started_at.isoformat(timespec="seconds"),
        duration_s=round(time.monotonic() - budget.started, 3),
        requests=transport.sent,
        checks=builder.checks(),
        errors=tuple(hide(error, options.token, secrets) for error in errors),
        target=options.target,
        generated_cases=generation.sent,
        stop_reason=stop_reason,
        probes_run=done,
        probes_planned=probes_planned,
        budget_s=budget.seconds,
        workers=workers,
        rate_limits=rate_limits,
        notes=options.notes,
    )


def _grow_for_pace(budget: RunBudget, transport: Transport, planned: int, latency: float, workers: int) -> None:
    """A server that refused: the derived budget makes room for the pace it allows (asked before
    every probe request, so it reads the pace alone, not the whole rate-limit report)."""
    pace = transport.pacer.pace
    if pace:
        budget.fit(planned, latency, workers, pace)


def unfinished_result(options: RunOptions, problem: str) -> SuiteResult:
    """A result for a run that could not certify at all, so every report is still written (exit 2)."""
    try:
        sha = load_contract(options.contract).sha256
    except Exception:  # the contract itself may be the problem
        sha = "unknown"
    profile: Profile | None = PROFILES.get(options.profile)
    return SuiteResult(
        base_url=options.base_url, profile=profile.name if profile else options.profile, level=options.level,
        seed=options.seed or 0, timezone=options.timezone or "UTC", contract_sha256=sha, kit_version=kit_version(),
        schemathesis_version=schemathesis.__version__,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"), duration_s=0.0, requests=0,
        checks=ResultBuilder().checks(), errors=(problem,), target=options.target, stop_reason="error",
        problem=problem, notes=options.notes,
    )


__all__ = ["PROFILES", "ConnectionProblem", "Profile", "Progress", "RunOptions", "kit_version", "run_suite",
           "unfinished_result"]
