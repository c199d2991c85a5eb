"""The journal's rings: one per worker, merged by time, bounded, never showing a half-written entry."""

from __future__ import annotations

import time
from pathlib import Path

from mockserver.store.journal import SLOT_BYTES, Entry, Journal


def _entry(at: float, worker: int, path: str = "/api/v1/usage", problems: tuple[str, ...] = ()) -> Entry:
    return Entry(at, "GET", path, 200, 1.0, "mock", worker, "key:abc", "default", "valid", "valid", problems)


def test_every_workers_ring_is_read_newest_first(tmp_path: Path) -> None:
    first, second = Journal(tmp_path, size=5), Journal(tmp_path, size=5)  # two workers, one directory
    now = time.time()
    for i in range(4):
        first.record(_entry(now + 2 * i, worker=101, path=f"/a{i}"))
        second.record(_entry(now + 2 * i + 1, worker=202, path=f"/b{i}"))
    recent = first.recent(limit=50)
    assert [e["path"] for e in recent] == ["/b3", "/a3", "/b2", "/a2", "/b1"]  # at most the journal's size
    assert recent[0]["id"] == "202-4" and recent[0]["at"].endswith("+00:00")


def test_a_ring_keeps_only_the_newest_entries(tmp_path: Path) -> None:
    journal = Journal(tmp_path, size=3)
    for i in range(10):
        journal.record(_entry(1000.0 + i, worker=7, path=f"/{i}"))
    assert [e["path"] for e in journal.recent(10)] == ["/9", "/8", "/7"]


def test_a_slot_caught_mid_write_is_skipped(tmp_path: Path) -> None:
    journal = Journal(tmp_path, size=4)
    for i in range(3):
        journal.record(_entry(1000.0 + i, worker=9, path=f"/{i}"))
    ring = tmp_path / "journal-9.ring"
    data = bytearray(ring.read_bytes())
    data[64 + SLOT_BYTES:64 + SLOT_BYTES + 8] = b"\0" * 8  # the second entry: its writer has just begun
    data[64 + SLOT_BYTES - 8:64 + SLOT_BYTES] = (99).to_bytes(8, "little")  # the first: head and tail disagree
    ring.write_bytes(bytes(data))
    assert [e["path"] for e in journal.recent(10)] == ["/2"]


def test_an_oversized_entry_is_shortened_not_lost(tmp_path: Path) -> None:
    journal = Journal(tmp_path, size=2)
    journal.record(_entry(1.0, worker=3, path="/x" * 2000, problems=tuple("p" * 500 for _ in range(40))))
    (entry,) = journal.recent(5)
    assert len(entry["path"]) == 512 and entry["problems"][-1] == "… 40 in all"


def test_clearing_hides_what_came_before(tmp_path: Path) -> None:
    cleared = {"at": 0.0}
    journal = Journal(tmp_path, size=5, cleared_at=lambda: cleared["at"])
    journal.record(_entry(100.0, worker=1))
    cleared["at"] = 150.0
    journal.record(_entry(200.0, worker=1, path="/after"))
    assert [e["path"] for e in journal.recent()] == ["/after"]


def test_a_disabled_journal_writes_nothing(tmp_path: Path) -> None:
    journal = Journal(tmp_path, size=0)
    journal.record(_entry(1.0, worker=1))
    assert not list(tmp_path.iterdir()) and journal.recent() == []
