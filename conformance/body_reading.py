"""Reading a response's body: capped in size and in time, its truncation and decoding failures recorded.

The adapter in :mod:`conformance.transport` reads every body here, once, so whoever reads it later
(schemathesis included) sees the capped bytes, and a server that drips its body cannot hold a
request past the timeout. What went wrong is kept on the response, where the client reads it into
the exchange it records.
"""

from __future__ import annotations

import time

import requests

_CAPPED = "_crosmos_body_capped"
UNDECODABLE = "_crosmos_undecodable"  # set on a response whose body could not be decoded: why


def read_capped(response: requests.Response, limit: int, seconds: float) -> None:
    """Read at most ``limit`` + 1 bytes of the body, for at most ``seconds``, into the response.

    requests reads a streamed body lazily; reading it here, bounded, means whoever reads it later
    (schemathesis included) sees the capped bytes. One byte over the limit marks truncation. The
    socket timeout bounds each read, not the body: a server dripping a byte a second would pass
    it forever, so the whole body gets a deadline too (a ReadTimeout, as for a silent server).
    A body read to its end hands the connection back for the next request (keep-alive: a TLS
    handshake 150 ms away costs more than the request); a cut one closes it.
    """
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + seconds
    complete = False
    try:
        # read1 returns whatever has arrived, so the deadline is checked after every trickle.
        while True:
            try:
                chunk = _read_some(response, 64 * 1024)
            except requests.exceptions.ContentDecodingError:
                # A body the client cannot decode (its Content-Encoding claims what the bytes are
                # not) is the server's fault, judged under the rule it breaks, not a usage error.
                encoding = response.headers.get("Content-Encoding", "")
                setattr(response, UNDECODABLE, f"a body that cannot be decoded as its Content-Encoding "
                                               f"({encoding or 'none'}) says")
                chunks = []
                break
            if not chunk:
                complete = True
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                break
            if time.monotonic() > deadline:
                raise requests.exceptions.ReadTimeout(f"the body was not complete within {seconds:g} s",
                                                      response=response)
    finally:
        if complete:
            response.raw.release_conn()
        else:
            response.close()
    response._content = b"".join(chunks)[: limit + 1]
    setattr(response, "_content_consumed", True)  # noqa: B010 (private to requests)
    setattr(response, _CAPPED, size > limit)


def _read_some(response: requests.Response, size: int) -> bytes:
    """Up to ``size`` decoded bytes, as soon as any arrive; urllib3's errors as requests' ones."""
    from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

    try:
        data: bytes = response.raw.read1(size, decode_content=True)
    except ReadTimeoutError as exc:
        raise requests.exceptions.ReadTimeout(str(exc), response=response) from None
    except ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(str(exc), response=response) from None
    except DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(str(exc), response=response) from None
    return data


def undecodable(response: requests.Response) -> str | None:
    """Why the body could not be decoded, or None."""
    return getattr(response, UNDECODABLE, None)


def was_truncated(response: requests.Response, limit: int) -> bool:
    return bool(getattr(response, _CAPPED, False)) or len(response.content or b"") > limit
