"""How much the suite sends: profiles are counts, so a seed fixes the run on any machine."""

from __future__ import annotations

from dataclasses import dataclass

COVERAGE_CASES = 40  # about what schemathesis's coverage phase sends on this contract (34 here)
FUZZ_SHARDS = 4  # the fuzzed cases are drawn in this many seeded batches, so workers can send them side by side


@dataclass(frozen=True)
class Profile:
    """How much generated data to send.

    Probes always run in full; generation is the coverage phase plus ``max_examples`` fuzzed cases,
    drawn in :data:`FUZZ_SHARDS` batches seeded from the run's seed (the same cases however many
    workers send them). ``budget`` is only a cap, and the default one grows with the latency and
    the pace the server allows (see ``conformance.budget``): a run the budget cuts short is
    incomplete, never a pass.
    """

    name: str
    max_examples: int  # generated cases in the fuzzing phase
    budget: float  # the default cap, in seconds, on the whole run at local speed, probes included
    coverage: bool = True
    fuzzing: bool = True
    description: str = ""


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", max_examples=5, budget=30,
                     description="every probe, the coverage phase and a handful of fuzzed cases (tests)"),
    "quick": Profile("quick", max_examples=400, budget=30,
                     description="every probe, the coverage phase and 400 fuzzed cases (about 6 s locally)"),
    "standard": Profile("standard", max_examples=2500, budget=120,
                        description="every probe, the coverage phase and 2,500 fuzzed cases (about 30 s "
                                    "locally)"),
}


def shard_size(total: int, shards: int = FUZZ_SHARDS) -> int:
    """Fuzzed cases per batch: ``total`` split evenly, rounded up (every batch the same size)."""
    return max(1, -(-total // shards))
