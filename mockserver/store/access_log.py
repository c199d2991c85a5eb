"""The access log's line, written the same way by the full pipeline and by a replayed reply.

A line per request through :mod:`logging` costs a record, a formatter pass and a handler call:
about half of a replayed reply's CPU time (docs/performance.md). When logging is set up as the
mock sets it up (:func:`mockserver.serving.server.configure_logging`: one :class:`LineWriteHandler` on the
root logger with the mock's format, nothing else on the way), the line is formatted here, to the
same bytes, and written with the same single ``write(2)``. Any other setup (a test's capture, a
user's handler or filter) gets the line through :mod:`logging` as before.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

log = logging.getLogger("mockserver.access")
def access_line(remote_addr: str | None, method: str, target: str, status: int, started: float, why: str = "") -> None:
    """One line per request (``started``: ``perf_counter()`` at arrival; ``why``: a refusal's reason)."""
    if not log.isEnabledFor(logging.INFO):
        return
    elapsed = (time.perf_counter() - started) * 1000
    fd = _direct_fd()
    if fd is None:
        log.info("%s %s %s %d %.1fms%s", remote_addr, method, target, status, elapsed, why)
        return
    line = f"{_stamp()} INFO mockserver.access: {remote_addr} {method} {target} {status} {elapsed:.1f}ms{why}\n"
    data = memoryview(line.encode("utf-8", "backslashreplace"))
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        pass  # as logging.Handler.handleError does by default: a log line never fails a request


class _Seen:
    """The logging setup last looked at, its verdict, and the current second's time stamp."""

    setup: tuple[object, ...] = ()
    fd: int | None = None
    second: tuple[int, str] = (-1, "")


def _direct_fd() -> int | None:
    """The file descriptor to write to when the setup is the mock's own, else None (re-read when it changes)."""
    root = logging.getLogger()
    setup = (*[(h, h.level, h.formatter, *h.filters) for h in root.handlers], *log.handlers, log.propagate,
             *log.filters, *root.filters)
    if setup != _Seen.setup:
        _Seen.setup, _Seen.fd = setup, _mock_setup_fd(root)
    return _Seen.fd


def _mock_setup_fd(root: logging.Logger) -> int | None:
    if log.handlers or not log.propagate or log.filters or root.filters or len(root.handlers) != 1:
        return None
    handler = root.handlers[0]
    formatter = handler.formatter
    if (type(handler) is not LineWriteHandler or handler.filters or handler.level > logging.INFO
            or type(formatter) is not logging.Formatter or formatter._fmt != LOG_FORMAT
            or formatter.datefmt is not None or formatter.converter is not time.localtime):
        return None
    return handler.fd


def _stamp() -> str:
    """``%(asctime)s`` exactly as :class:`logging.Formatter` writes it (local time, milliseconds)."""
    now = time.time()
    whole = int(now)
    if whole != _Seen.second[0]:
        _Seen.second = (whole, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(whole)))
    return f"{_Seen.second[1]},{int((now - whole) * 1000):03d}"


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LineWriteHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Each record is one ``write(2)`` on the stream's file descriptor, under no Python lock.

    The stdlib handler holds its lock, and the stream's buffer lock, across the write; the kernel
    call releases the GIL, so a worker's other threads run into those locks one after another
    and sleep (in a 1-worker, 4-thread mock the access log cost 45 % of throughput that way, and
    a 1-thread mock none). One write of one short line is atomic on a pipe (up to PIPE_BUF) and
    on a regular file (Linux serialises writes to one open file), so lines never interleave.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        stream.flush()  # whatever the text layer holds goes out before our raw writes
        self.fd: int = stream.fileno()

    def handle(self, record: logging.LogRecord) -> bool:
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = memoryview((self.format(record) + self.terminator).encode("utf-8", "backslashreplace"))
            while data:
                data = data[os.write(self.fd, data):]
        except Exception:
            self.handleError(record)


def configure_logging(level: str, stream: Any = None) -> None:
    """Log to stderr (or ``stream``) in the mock's format, a line per write where the stream allows."""
    stream = sys.stderr if stream is None else stream
    try:
        handler: logging.Handler = LineWriteHandler(stream)
    except (AttributeError, OSError, ValueError):  # no file descriptor (a test's captured stream)
        handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])
