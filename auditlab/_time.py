"""How auditlab writes a time: the one place for the formats of findings, reports and the CLI.

Examples:
    >>> from datetime import datetime, UTC
    >>> t = datetime(2026, 10, 1, 8, 5, 3, 250_000, tzinfo=UTC)
    >>> iso_time(t), iso_time(t.replace(microsecond=0)), utc_text(t)
    ('2026-10-01T08:05:03.250Z', '2026-10-01T08:05:03Z', '2026-10-01 08:05:03 UTC')
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["iso_time", "utc_text"]


def iso_time(t: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, milliseconds only when there are any (findings, evidence, JSON)."""
    t = t.astimezone(UTC) if t.tzinfo is not None else t
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{t.microsecond // 1000:03d}" if t.microsecond else "") + "Z"


def utc_text(t: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS UTC``: for people (report facts, terminal lines)."""
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
