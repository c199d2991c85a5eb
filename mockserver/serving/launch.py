"""Start ``crosmos-mock`` as a user would, for tests and tools (the embedded-mock certification).

A subprocess running the production server on a free 127.0.0.1 port, its ready line awaited
within a bound, its output drained so a full pipe never blocks it.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from mockserver.serving.server import READY_LINE


@contextlib.contextmanager
def running_mock(seed: int = 0, spec: Path | None = None, extra_args: Sequence[str] = (),
                 workers: int = 1, threads: int = 4, timeout: float = 20.0,
                 output: Path | None = None) -> Iterator[str]:
    """Start ``crosmos-mock`` (the production server, as users start it) on a free 127.0.0.1 port.

    Yields its base URL, read from its ready line (``https://`` when ``extra_args`` has
    ``--tls-cert``/``--tls-key``: the line is printed once a worker accepts connections, so
    readiness needs no request and no trust in the certificate); stops it on exit. Raises
    RuntimeError with the mock's own words if it does not come up within ``timeout`` seconds.
    With ``output``, everything the mock prints (its logs included) is appended to that file.
    """
    command = [sys.executable, "-m", "mockserver", "--port", "0", "--seed", str(seed),
               "--workers", str(workers), "--threads", str(threads), *extra_args]
    if spec is not None:
        command += ["--spec", str(spec)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        base_url = _wait_ready(process, timeout, output)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout:
            process.stdout.close()


def _wait_ready(process: subprocess.Popen[str], timeout: float, output: Path | None = None) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    os.set_blocking(process.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            seen.append(line.rstrip())
            match = re.search(re.escape(READY_LINE) + r"(\S+)", line)
            if match:
                os.set_blocking(process.stdout.fileno(), True)
                if output is not None:
                    with output.open("a", encoding="utf-8") as sink:
                        sink.write("\n".join(seen) + "\n")
                _drain_in_background(process, output)
                return match.group(1)
            continue
        if process.poll() is not None:
            break
        time.sleep(0.02)
    tail = " | ".join(seen[-5:]) or "no output"
    raise RuntimeError(f"the mock did not start within {timeout:.0f}s: {tail}")


def _drain_in_background(process: subprocess.Popen[str], output: Path | None = None) -> None:
    """Keep reading the mock's output so a full pipe never blocks it (into ``output`` if given)."""
    def drain() -> None:
        assert process.stdout is not None
        with contextlib.suppress(ValueError, OSError):
            sink = output.open("a", encoding="utf-8") if output is not None else None
            try:
                for line in process.stdout:
                    if sink is not None:
                        sink.write(line)
                        sink.flush()
            finally:
                if sink is not None:
                    sink.close()

    threading.Thread(target=drain, daemon=True).start()
