"""The additive-windows probe's windows, as data: adjacent, settled and of several sizes."""

from __future__ import annotations

from datetime import date

from conformance.probes.additive import additive_triples
from conformance.probes.dates import Calendar

TODAY = date(2026, 12, 6)


def test_additive_triples_are_adjacent_settled_and_of_several_sizes() -> None:
    cal = Calendar(TODAY)
    triples = additive_triples(cal)
    sizes = {((left[1] - left[0]).days + 1, (right[1] - right[0]).days + 1) for left, right in triples}
    assert len(sizes) == len(triples) >= 4
    for left, right in triples:
        assert (right[0] - left[1]).days == 1 and right[1] < TODAY
