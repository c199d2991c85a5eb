"""The mock's log handler: one write per line, under no lock, and still never an interleaved line."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from mockserver.server import LOG_FORMAT, LineWriteHandler

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
