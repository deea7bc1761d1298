"""Helpers the investigations share: thresholds and windows, the scope, sliding episodes, ordering.

Examples:
    >>> as_window("15m", "brute_force_window")
    datetime.timedelta(seconds=900)
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from auditlab.errors import QueryError
from auditlab.investigations._result import SEVERITIES, Finding
from auditlab.store.result import QueryResult, parse_bucket

if TYPE_CHECKING:  # pragma: no cover
    import duckdb
    import polars as pl

    from auditlab.filters.model import Query

__all__ = ["as_count", "as_window", "micros", "name_list", "scope_of", "sliding_episodes", "sort_findings"]

_UNIT_DELTA = {
    "to_seconds": timedelta(seconds=1),
    "to_minutes": timedelta(minutes=1),
    "to_hours": timedelta(hours=1),
    "to_days": timedelta(days=1),
    "to_weeks": timedelta(weeks=1),
}


def as_window(value: timedelta | str, name: str) -> timedelta:
    """A positive window from a ``timedelta`` or a text like ``15m``, ``1h``, ``7d``.

    Raises:
        QueryError: not positive, or text that is not a count and a unit (s, m, h, d, w).

    Examples:
        >>> as_window("15m", "w"), as_window(timedelta(hours=1), "w")
        (datetime.timedelta(seconds=900), datetime.timedelta(seconds=3600))
        >>> as_window("0m", "brute_force_window")
        Traceback (most recent call last):
        ...
        auditlab.errors.QueryError: brute_force_window: bad time bucket '0m': use e.g. 1m, 15m, 1h, 6h, 1d, 1w, 1mo
    """
    if isinstance(value, str):
        try:
            unit, amount = parse_bucket(value)
        except QueryError as exc:
            raise QueryError(f"{name}: {exc}") from None
        if unit not in _UNIT_DELTA:
            raise QueryError(f"{name}: use s, m, h, d or w for a window, got {value!r}")
        value = _UNIT_DELTA[unit] * amount
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise QueryError(f"{name} must be a positive duration, got {value!r}")
    return value


def as_count(value: int, name: str) -> int:
    """A threshold count of at least 1.

    Raises:
        QueryError: not an integer of at least 1.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise QueryError(f"{name} must be an integer of at least 1, got {value!r}")
    return value


def micros(window: timedelta) -> int:
    """A window in whole microseconds, for ``to_microseconds(?)`` in SQL."""
    return window // timedelta(microseconds=1)


def scope_of(ws: Any, query: Query | str | None) -> QueryResult:
    """The events an investigation reads: ``query``, or all events when ``None``."""
    return QueryResult(ws, "all time" if query is None else query)


def sliding_episodes(
    con: duckdb.DuckDBPyConnection,
    source_sql: str,
    params: list[object],
    *,
    key: str,
    measure: str,
    threshold: int,
    window: timedelta,
) -> pl.DataFrame:
    """Episodes where a sliding-window measure per ``key`` reaches ``threshold``.

    An event is *hot* when the window ``[t - window, t]`` of its key (both ends inclusive, events
    at the same instant included) has ``measure >= threshold``. Hot windows of one key that overlap
    merge into one episode; its evidence is every source event of that key inside the merged span.

    Args:
        con: the DuckDB connection.
        source_sql: a SELECT giving ``event_id``, ``timestamp``, ``user_email``, ``ip_address`` and ``key``.
        params: its positional parameters.
        key: the column to partition by (a constant of the caller, never log text).
        measure: the window aggregate, e.g. ``count(*)`` or ``count(DISTINCT user_email)``.
        threshold: the minimum measure.
        window: the window length.

    Returns:
        One row per episode: ``key``, ``peak`` (highest measure), ``first_seen``, ``last_seen``,
        ``count``, ``event_ids`` (by time), ``users`` and ``ips`` (sorted, distinct), by first_seen.

    Examples:
        >>> import duckdb
        >>> con = duckdb.connect()
        >>> src = ("SELECT * FROM (VALUES ('a', TIMESTAMPTZ '2026-01-01 00:00:00Z', 'u', '1.1.1.1'), "
        ...        "('b', TIMESTAMPTZ '2026-01-01 00:10:00Z', 'u', '1.1.1.1'), "
        ...        "('c', TIMESTAMPTZ '2026-01-01 00:20:00Z', 'u', '1.1.1.1')) v(event_id, timestamp, user_email, ip_address)")
        >>> ep = sliding_episodes(con, src, [], key="user_email", measure="count(*)", threshold=2,
        ...                       window=timedelta(minutes=10))
        >>> ep.select("key", "peak", "count", "event_ids").rows()
        [('u', 2, 3, ['a', 'b', 'c'])]
    """
    sql = f"""
    WITH src AS ({source_sql}),
    scored AS (
        SELECT {key} AS k, timestamp AS t,
               {measure} OVER (PARTITION BY {key} ORDER BY timestamp
                               RANGE BETWEEN to_microseconds(?) PRECEDING AND CURRENT ROW) AS n
        FROM src WHERE {key} IS NOT NULL
    ),
    hot AS (SELECT k, t, n FROM scored WHERE n >= ?),
    marked AS (
        SELECT k, t, n,
               CASE WHEN lag(t) OVER (PARTITION BY k ORDER BY t) >= t - to_microseconds(?) THEN 0 ELSE 1 END AS start
        FROM hot
    ),
    islands AS (
        SELECT k, t, n, sum(start) OVER (PARTITION BY k ORDER BY t ROWS UNBOUNDED PRECEDING) AS ep FROM marked
    ),
    episodes AS (
        SELECT k, ep, min(t) - to_microseconds(?) AS lo, max(t) AS hi, max(n) AS peak FROM islands GROUP BY k, ep
    )
    SELECT e.k AS key, e.peak, min(s.timestamp) AS first_seen, max(s.timestamp) AS last_seen, count(*) AS count,
           list(s.event_id ORDER BY s.timestamp, s.event_id) AS event_ids,
           list_sort(list_distinct(list(s.user_email))) AS users,
           list_sort(list_distinct(list(s.ip_address))) AS ips
    FROM episodes e JOIN src s ON s.{key} = e.k AND s.timestamp BETWEEN e.lo AND e.hi
    GROUP BY e.k, e.ep, e.peak
    ORDER BY first_seen, key
    """  # noqa: S608 - key/measure are the caller's constants; values are parameters
    us = micros(window)
    frame: pl.DataFrame = con.sql(sql, params=[*params, us, threshold, us, us]).pl()
    return frame


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then by first_seen, then by title."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: (-rank[f.severity], f.first_seen, f.title))


def name_list(values: list[str], *, limit: int = 3) -> str:
    """``a, b, c`` or ``a, b, c and 4 more``.

    Examples:
        >>> name_list(["a", "b"]), name_list(list("abcde"))
        ('a, b', 'a, b, c and 2 more')
    """
    head = ", ".join(values[:limit])
    return head if len(values) <= limit else f"{head} and {len(values) - limit} more"
