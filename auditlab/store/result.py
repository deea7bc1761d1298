"""The result of filtering a workspace: counts, pages, frames, value counts and timelines.

Everything runs in DuckDB over the workspace's ``events`` with the query compiled by
:func:`auditlab.filters.to_sql` (values as bound parameters only). A relative time range (``24h``,
``7d``, ``30d``) ends just after the newest event of the workspace, so an old export is not empty.

Examples:
    >>> import duckdb, types
    >>> from auditlab.schema import duckdb_columns
    >>> con = duckdb.connect(); _ = con.execute(f"CREATE TABLE events ({duckdb_columns()})")
    >>> _ = con.execute("INSERT INTO events (event_id, timestamp, action, outcome, source, source_line) VALUES "
    ...     "('a', '2026-10-01 10:00:00Z', 'user.login', 'failure', 'x', 1), "
    ...     "('b', '2026-10-01 11:00:00Z', 'user.login', NULL, 'x', 2), "
    ...     "('c', '2026-09-01 11:00:00Z', 'user.login', 'failure', 'x', 3)")
    >>> r = QueryResult(types.SimpleNamespace(con=con), "action is user.login; outcome is_not success")
    >>> r.count(), r.page(0)["event_id"].to_list(), r.bounds[1].isoformat()
    (2, ['b', 'a'], '2026-10-01T11:00:00.000001+00:00')
    >>> r.distinct("Outcome").rows()
    [('failure', 1)]
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from auditlab.errors import QueryError
from auditlab.filters.fields import resolve_field
from auditlab.filters.model import Query
from auditlab.filters.text import as_query
from auditlab.filters.to_sql import quote_ident, to_sql
from auditlab.schema import COLUMNS, SORT_SQL

if TYPE_CHECKING:  # pragma: no cover
    import duckdb
    import polars as pl
    import pyarrow as pa

__all__ = ["QueryResult", "parse_bucket"]

_BUCKET = re.compile(r"\s*(\d+)\s*([a-z]+)\s*", re.IGNORECASE)
#: bucket unit spelling -> DuckDB interval constructor (its argument is a bound parameter).
_UNITS: dict[str, str] = {
    **dict.fromkeys(["s", "sec", "second", "seconds"], "to_seconds"),
    **dict.fromkeys(["m", "min", "minute", "minutes"], "to_minutes"),
    **dict.fromkeys(["h", "hour", "hours"], "to_hours"),
    **dict.fromkeys(["d", "day", "days"], "to_days"),
    **dict.fromkeys(["w", "week", "weeks"], "to_weeks"),
    **dict.fromkeys(["mo", "month", "months"], "to_months"),
}


class _HasConnection(Protocol):
    @property
    def con(self) -> duckdb.DuckDBPyConnection: ...


def parse_bucket(bucket: str) -> tuple[str, int]:
    """``"1h"`` -> (DuckDB interval function, count). Units: s, m, h, d, w, mo.

    Raises:
        QueryError: not a positive count followed by a known unit.

    Examples:
        >>> parse_bucket("15m"), parse_bucket("1d")
        (('to_minutes', 15), ('to_days', 1))
    """
    m = _BUCKET.fullmatch(bucket)
    unit = _UNITS.get(m[2].lower()) if m else None
    if m is None or unit is None or int(m[1]) < 1:
        raise QueryError(f"bad time bucket {bucket!r}: use e.g. 1m, 15m, 1h, 6h, 1d, 1w, 1mo")
    return unit, int(m[1])


def _column(name: str) -> str:
    """A canonical column from a column name, Portal label or alias."""
    return name if name in COLUMNS else resolve_field(name).name


class QueryResult:
    """A query over a workspace; each method runs one DuckDB statement.

    Args:
        ws: anything with a DuckDB connection ``con`` holding an ``events`` table or view.
        query: a :class:`Query`, its text form, or ``None`` (the default: last 24 h).
        allow_unknown_actions: when ``query`` is text, accept actions outside the catalog.
        anchor: the exclusive end of a relative time range; default: newest event + 1 µs.

    Attributes:
        query: the :class:`Query` (exports write it into their manifest).
    """

    def __init__(
        self,
        ws: _HasConnection,
        query: Query | str | None = None,
        *,
        allow_unknown_actions: bool = False,
        anchor: datetime | None = None,
    ) -> None:
        query = as_query(query, allow_unknown_actions=allow_unknown_actions)
        self.ws = ws
        self.con = ws.con
        self.query: Query = query
        self._anchor = anchor
        self._anchored = anchor is not None or not query.time_range.relative

    @property
    def anchor(self) -> datetime | None:
        """Where a relative time range ends: just after the newest event (``None``: empty)."""
        if not self._anchored:
            rows = self.con.execute("SELECT max(timestamp) FROM events").fetchall()
            newest = rows[0][0] if rows else None
            self._anchor = None if newest is None else newest + timedelta(microseconds=1)
            self._anchored = True
        return self._anchor

    @property
    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """The absolute ``[start, end)`` this result covers (``None``: open)."""
        return self.query.time_range.bounds(self.anchor)

    def where(self) -> tuple[str, list[object]]:
        """The compiled predicate and its parameters."""
        return to_sql(self.query, anchor=self.anchor)

    def sql(self, *, limit: int | None = None, offset: int = 0) -> tuple[str, list[object]]:
        """The full ``SELECT``, newest first, and its parameters, for other engines and exports.

        Examples:
            >>> class WS: pass
            >>> ws = WS(); ws.con = None
            >>> QueryResult(ws, "action is user.login; all time").sql(limit=10)
            ('SELECT * FROM events WHERE "action" = ? ORDER BY timestamp DESC, event_id LIMIT ? OFFSET ?', ['user.login', 10, 0])
        """
        where, params = self.where()
        sql = f"SELECT * FROM events WHERE {where} ORDER BY {SORT_SQL}"  # noqa: S608
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params = [*params, _count(limit, "limit"), _count(offset, "offset")]
        return sql, params

    def relation(self, *, limit: int | None = None) -> duckdb.DuckDBPyRelation:
        """A lazy DuckDB relation of the matching events, newest first."""
        sql, params = self.sql(limit=limit)
        return self.con.sql(sql, params=params)

    def count(self) -> int:
        """How many events match."""
        where, params = self.where()
        rows = self.con.execute(f"SELECT count(*) FROM events WHERE {where}", params).fetchall()  # noqa: S608
        return int(rows[0][0])

    def __len__(self) -> int:
        return self.count()

    def page(self, n: int = 0, *, size: int = 50) -> pl.DataFrame:
        """Page ``n`` (0 is the first) of ``size`` events, newest first (``timestamp DESC, event_id``)."""
        size = _count(size, "size")
        if size < 1:
            raise QueryError(f"page size must be at least 1, got {size}")
        sql, params = self.sql(limit=size, offset=_count(n, "page") * size)
        frame: pl.DataFrame = self.con.sql(sql, params=params).pl()
        return frame

    def to_polars(self, *, limit: int | None = None) -> pl.DataFrame:
        """The matching events as a Polars DataFrame, newest first."""
        frame: pl.DataFrame = self.relation(limit=limit).pl()
        return frame

    def to_arrow(self, *, limit: int | None = None) -> pa.Table:
        """The matching events as an Arrow table, newest first."""
        return self.relation(limit=limit).to_arrow_table()

    def distinct(self, field: str, *, limit: int = 20) -> pl.DataFrame:
        """The most common values of ``field`` among the matching events, with counts.

        For value pickers: columns ``<field>`` and ``count``, most frequent first, then by value;
        events without a value are not counted.
        """
        col = _column(field)
        where, params = self.where()
        ident = quote_ident(col)
        sql = (
            f"SELECT {ident}, count(*) AS count FROM events WHERE {where} AND {ident} IS NOT NULL "  # noqa: S608
            f"GROUP BY {ident} ORDER BY count DESC, {ident} LIMIT ?"
        )
        frame: pl.DataFrame = self.con.sql(sql, params=[*params, _count(limit, "limit")]).pl()
        return frame

    def timeline(self, bucket: str = "1h", *, by: str | None = "outcome") -> pl.DataFrame:
        """Event counts per time bucket (UTC), split by a field, aggregated in DuckDB.

        Args:
            bucket: bucket width: ``1m``, ``15m``, ``1h``, ``6h``, ``1d``, ``1w``, ``1mo``...
            by: a field to split by (``None``: one count per bucket). NULLs form their own group.

        Returns:
            Columns ``bucket`` (start of the bucket), ``<by>`` and ``count``, by bucket then ``by``.
            Buckets without events are absent.
        """
        unit, amount = parse_bucket(bucket)
        where, params = self.where()
        bucket_sql = f"time_bucket({unit}(?), timestamp, 'UTC')"
        if by is None:
            select, group = f"{bucket_sql} AS bucket", "1"
        else:
            select, group = f"{bucket_sql} AS bucket, {quote_ident(_column(by))}", "1, 2"
        sql = (
            f"SELECT {select}, count(*) AS count FROM events WHERE {where} "  # noqa: S608
            f"GROUP BY {group} ORDER BY {group} NULLS LAST"
        )
        frame: pl.DataFrame = self.con.sql(sql, params=[amount, *params]).pl()
        return frame

    def __repr__(self) -> str:
        return f"<QueryResult {self.query.to_text()!r}>"


def _count(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise QueryError(f"{name} must be a non-negative integer, got {value!r}")
    return value
