"""The server's "today": what PERIOD-001/002 compare defaults against.

The server's clock, not ours, decides the default period, so it is read from the ``Date`` header
of the very response being judged. That header has one-second resolution and is stamped after
the server chose its defaults, so a request that straddles midnight yields two candidate days,
and a default matching either passes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crosmos_contract.exchange import Exchange

_SLACK = timedelta(seconds=1)  # the Date header's resolution


class UnknownTimezone(ValueError):
    """--timezone named no IANA zone."""


def resolve_timezone(name: str | None) -> tzinfo:
    if name is None or name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimezone(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None


def server_time(exchange: Exchange) -> datetime | None:
    """The server's clock from the ``Date`` header, or None when absent or unreadable."""
    if exchange.response is None:
        return None
    header = exchange.response.header("Date")
    if not header:
        return None
    try:
        stamped = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    return stamped if stamped.tzinfo is not None else stamped.replace(tzinfo=UTC)


def today_candidates(exchange: Exchange, zone: tzinfo) -> tuple[date, ...]:
    """Every day the server may have called "today" while answering ``exchange`` (one or two)."""
    stamped = server_time(exchange)
    if stamped is not None:
        elapsed = timedelta(seconds=exchange.response.elapsed if exchange.response else 0.0)
        earliest, latest = stamped - elapsed - _SLACK, stamped + _SLACK
    else:  # no Date header: our own clock around the request
        earliest, latest = exchange.sent_at - _SLACK, exchange.received_at + _SLACK
    return tuple(sorted({earliest.astimezone(zone).date(), latest.astimezone(zone).date()}))
