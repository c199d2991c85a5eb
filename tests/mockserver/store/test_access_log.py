"""The mock's log handler: one write per line, under no lock, and still never an interleaved line."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from mockserver.store.access_log import LOG_FORMAT, LineWriteHandler

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO lines\.test: thread (\d+) line (\d+) x+$")


def test_lines_from_many_threads_arrive_whole(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    with path.open("a", encoding="utf-8") as stream:
        handler = LineWriteHandler(stream)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger = logging.getLogger("lines.test")
        logger.propagate, logger.level = False, logging.INFO
        logger.addHandler(handler)
        try:
            def write(number: int) -> None:
                for line in range(400):
                    logger.info("thread %d line %d %s", number, line, "x" * 200)

            threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
        finally:
            logger.removeHandler(handler)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 8 * 400
    seen = {tuple(map(int, match.groups())) for match in map(LINE.match, lines) if match}
    assert seen == {(n, line) for n in range(8) for line in range(400)}


def test_text_the_encoding_cannot_carry_is_escaped_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    with path.open("a", encoding="utf-8") as stream:
        handler = LineWriteHandler(stream)
        handler.emit(logging.LogRecord("x", logging.INFO, "", 0, "caf\u00e9 \udcff", None, None))
    assert path.read_bytes() == "café \\udcff\n".encode()


def test_the_access_lines_direct_write_is_byte_for_byte_what_logging_writes(tmp_path: Path) -> None:
    import time

    from mockserver.store import access_log as access
    from mockserver.store.access_log import configure_logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    path = tmp_path / "log.txt"
    try:
        with path.open("a", encoding="utf-8") as stream:
            root.handlers = []
            configure_logging("info", stream)
            assert access._direct_fd() == stream.fileno()  # the mock's own setup: written directly
            before = time.time()
            started = time.perf_counter()
            access.access_line("127.0.0.1", "GET", "/api/v1/usage?x=caf\u00e9", 200, started, " (why)")
            root.handlers[0].addFilter(lambda record: True)  # any other setup: through logging
            assert access._direct_fd() is None
            access.access_line("127.0.0.1", "GET", "/api/v1/usage?x=caf\u00e9", 200, started, " (why)")
            after = time.time()
    finally:
        root.handlers, root.level = saved
    direct, logged = path.read_text(encoding="utf-8").splitlines()
    stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")
    elapsed = re.compile(r" \d+\.\dms ")
    assert stamp.match(direct) and stamp.match(logged)
    assert elapsed.sub(" _ms ", stamp.sub("", direct)) == elapsed.sub(" _ms ", stamp.sub("", logged))
    assert stamp.sub("", direct).startswith("INFO mockserver.access: 127.0.0.1 GET /api/v1/usage?x=café 200 ")
    # Local time, as logging's Formatter writes it: the stamp's second lies between the clock read
    # just before the write and just after it (whole seconds, so a second either side).
    assert int(before) - 1 <= time.mktime(time.strptime(direct[:19], "%Y-%m-%d %H:%M:%S")) <= after + 1
