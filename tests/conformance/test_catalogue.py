"""The catalogue is a public interface: ids are pinned (added, never renumbered) with their levels."""

from __future__ import annotations

from conformance.probes import PROBES
from crosmos_contract.catalogue import CATALOGUE

PINNED: tuple[tuple[str, str], ...] = (
    ("STATUS-001", "MUST"), ("STATUS-002", "MUST"), ("STATUS-003", "MUST"), ("STATUS-004", "MUST"),
    ("STATUS-005", "MUST"), ("STATUS-006", "MUST"), ("STATUS-007", "SHOULD"), ("STATUS-008", "SHOULD"),
    ("STATUS-009", "MUST"),
    ("AUTH-001", "MUST"), ("AUTH-002", "MUST"), ("AUTH-003", "MUST"), ("AUTH-004", "SHOULD"),
    ("SCHEMA-001", "MUST"), ("SCHEMA-002", "MUST"),
    ("PERIOD-001", "MUST"), ("PERIOD-002", "MUST"), ("PERIOD-003", "MUST"), ("PERIOD-004", "MUST"),
    ("PERIOD-005", "MUST"), ("PERIOD-006", "MUST"),
    ("METRIC-001", "MUST"), ("METRIC-002", "MUST"), ("METRIC-003", "MUST"), ("METRIC-004", "MUST"),
    ("METRIC-005", "SHOULD"), ("METRIC-006", "MUST"), ("METRIC-007", "SHOULD"), ("METRIC-008", "MUST"),
    ("CONSIST-001", "MUST"), ("CONSIST-002", "SHOULD"), ("CONSIST-003", "SHOULD"), ("CONSIST-004", "SHOULD"),
    ("CONSIST-005", "SHOULD"), ("CONSIST-006", "SHOULD"), ("CONSIST-007", "SHOULD"),
)


def test_catalogue_ids_and_levels_are_pinned() -> None:
    assert tuple((spec.id, spec.level.value) for spec in CATALOGUE) == PINNED


def test_every_check_has_a_title_and_a_rule() -> None:
    for spec in CATALOGUE:
        assert spec.title and spec.rule, spec.id


def test_probes_only_name_catalogue_ids() -> None:
    known = {spec.id for spec in CATALOGUE}
    for probe in PROBES:
        assert set(probe.covers) <= known, probe.name


def test_design_md_lists_the_catalogue_as_the_code_has_it() -> None:
    """docs/design.md is the authority users read; its table must say what the code checks."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "design.md").read_text(encoding="utf-8")
    missing = [spec.id for spec in CATALOGUE if f"| {spec.id} | {spec.level.value} | {spec.rule} |" not in text]
    assert not missing, f"docs/design.md's catalogue lacks or misstates: {missing}"
