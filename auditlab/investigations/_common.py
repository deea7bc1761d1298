"""What the investigations share: the scope rule, the identity rule, thresholds, named-parameter SQL.

**Scope rule.** An investigation reads exactly its query's time range. A query given as text
without a time clause, or no query at all, means *all events* (the explorer's default of the last
24 hours does not apply to investigations); a :class:`~auditlab.Query` object carries its own range
and is taken as it is. The same rule holds from Python, the notebooks and ``auditlab investigate``.

**Identity rule.** An entity is compared the way the filter model compares it: a user address with
ASCII letters folded to lower case (``fold_ascii``, as ``user_email is`` does; on a failed login the
Portal records what was typed), an IP address in its canonical form (IPv6 compressed and lower-cased
however it was written). The scope table carries both as ``user_key`` and ``ip_key``; every grouping
uses them.

**Named parameters.** SQL here takes ``$name`` parameters from a dict, never positional ``?`` lists.

Examples:
    >>> as_window("15m", "brute_force_window")
    datetime.timedelta(seconds=900)
    >>> scope_query("user_email is a@x").to_text()
    'user_email is a@x; all time'
    >>> canonical_ip("2001:DB8:0:0:0:0:0:1"), canonical_ip("[2001:db8::1]"), canonical_ip("10.0.0.1")
    ('2001:db8::1', '2001:db8::1', '10.0.0.1')
"""

from __future__ import annotations

import copy
import ipaddress
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from auditlab.errors import QueryError
from auditlab.filters.model import Query
from auditlab.filters.text import _split, as_query
from auditlab.filters.to_sql import _fold_sql, to_sql
from auditlab.store.result import QueryResult, parse_bucket

if TYPE_CHECKING:  # pragma: no cover
    import duckdb
    import polars as pl

__all__ = [
    "Scope",
    "as_count",
    "as_window",
    "canonical_ip",
    "fold_sql",
    "known",
    "micros",
    "name_list",
    "named",
    "run_sql",
    "scope_of",
    "scope_query",
    "span_text",
]

_UNIT_DELTA = {
    "to_seconds": timedelta(seconds=1),
    "to_minutes": timedelta(minutes=1),
    "to_hours": timedelta(hours=1),
    "to_days": timedelta(days=1),
    "to_weeks": timedelta(weeks=1),
}
_TIME_WORDS = ("since", "last", "all", "until", "between")
_PARAM = re.compile(r"\$([A-Za-z_]\w*)")


def as_window(value: timedelta | str, name: str, *, allow_zero: bool = False) -> timedelta:
    """A positive window from a ``timedelta`` or a text like ``15m``, ``1h``, ``7d``: the one duration rule.

    Raises:
        QueryError: not positive (or negative with ``allow_zero``), or text that is not a count and a
            unit (s, m, h, d, w).

    Examples:
        >>> as_window("15m", "w"), as_window(timedelta(hours=1), "w")
        (datetime.timedelta(seconds=900), datetime.timedelta(seconds=3600))
        >>> as_window("0m", "brute_force_window")
        Traceback (most recent call last):
        ...
        auditlab.errors.QueryError: brute_force_window: bad time bucket '0m': use e.g. 1m, 15m, 1h, 6h, 1d, 1w, 1mo
    """
    if isinstance(value, str):
        if allow_zero and value.strip() in ("0", "0s", "0m", "0h", "0d"):
            return timedelta(0)
        try:
            unit, amount = parse_bucket(value)
        except QueryError as exc:
            raise QueryError(f"{name}: {exc}") from None
        if unit not in _UNIT_DELTA:
            raise QueryError(f"{name}: use s, m, h, d or w for a window, got {value!r}")
        value = _UNIT_DELTA[unit] * amount
    if not isinstance(value, timedelta) or value < timedelta(0) or (value == timedelta(0) and not allow_zero):
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
    """A window in whole microseconds, for ``to_microseconds($w)`` in SQL."""
    return window // timedelta(microseconds=1)


def span_text(first: datetime, last: datetime) -> str:
    """``8 min`` or ``2.5 h``: how long an episode lasted.

    Examples:
        >>> from datetime import datetime, UTC
        >>> t = datetime(2026, 1, 1, tzinfo=UTC)
        >>> span_text(t, t + timedelta(minutes=8)), span_text(t, t + timedelta(hours=3))
        ('8 min', '3.0 h')
    """
    minutes = round((last - first).total_seconds() / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def name_list(values: list[str], *, limit: int = 3) -> str:
    """``a, b, c`` or ``a, b, c and 4 more``.

    Examples:
        >>> name_list(["a", "b"]), name_list(list("abcde"))
        ('a, b', 'a, b, c and 2 more')
    """
    head = ", ".join(values[:limit])
    return head if len(values) <= limit else f"{head} and {len(values) - limit} more"


def known(value: object, what: str) -> str:
    """A value for a title, or what is missing (``an unknown group``): titles never show ``None`` or ``?``.

    Examples:
        >>> known("Mobile", "group"), known(None, "group"), known("", "user")
        ('Mobile', 'an unknown group', 'an unknown user')
    """
    return f"an unknown {what}" if value is None or value == "" else str(value)


def canonical_ip(value: str) -> str:
    """An IP address as the identity rule compares it: IPv6 compressed, lower case; else as given."""
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return value


def fold_sql(expr: str) -> str:
    """SQL folding a user address as the filter model's ``user_email`` comparison does (ASCII letters only)."""
    return _fold_sql(f"({expr})")


def named(sql: str, params: list[object], prefix: str) -> tuple[str, dict[str, object]]:
    """Positional ``?`` placeholders of a compiled filter as ``$<prefix><n>``, and their dict.

    Only for SQL from :func:`auditlab.filters.to_sql`, whose text holds no ``?`` but its placeholders.

    Examples:
        >>> named('"a" = ? AND "b" IN (?, ?)', [1, 2, 3], "q")
        ('"a" = $q0 AND "b" IN ($q1, $q2)', {'q0': 1, 'q1': 2, 'q2': 3})
    """
    parts = sql.split("?")
    if len(parts) - 1 != len(params):
        raise QueryError("internal: placeholders and parameters differ")  # pragma: no cover
    out, values = [parts[0]], {}
    for i, (value, tail) in enumerate(zip(params, parts[1:], strict=True)):
        values[f"{prefix}{i}"] = value
        out.append(f"${prefix}{i}{tail}")
    return "".join(out), values


def run_sql(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object]) -> pl.DataFrame:
    """Run ``sql`` with the named parameters it uses (``$name``) taken from ``params``, as a Polars frame.

    Raises:
        QueryError: the SQL uses a name ``params`` lacks.
    """
    used = set(_PARAM.findall(sql))
    missing = sorted(used - set(params))
    if missing:
        raise QueryError(f"internal: no value for ${missing[0]}")  # pragma: no cover
    frame: pl.DataFrame = con.sql(sql, params={k: params[k] for k in used}).pl()
    return frame


def has_time_clause(text: str) -> bool:
    """True when a query's text form has a time clause (``since 7d``, ``all time``, ``between ...``)."""
    return any(c.strip() and c.split(None, 1)[0].lower() in _TIME_WORDS for c in _split(text, ";"))


def scope_query(query: Query | str | Scope | None) -> Query:
    """The query an investigation reads under the scope rule (see the module docstring).

    Raises:
        QueryError: a text that is not a query, or something that is not a query.
    """
    if query is None:
        return Query(time_range="all")
    if isinstance(query, Scope):
        return query.query
    parsed = as_query(query)
    return parsed if not isinstance(query, str) or has_time_clause(query) else parsed.since("all")


class Scope:
    """The events of one investigation run: a view over ``events``, never a copy of the store.

    ``{scope}`` in :meth:`sql` / :meth:`rows` stands for the scope's events: every canonical column
    plus ``user_key`` (the folded user address) and ``ip_key`` (the canonical IP address), read
    from ``events`` under the scope's predicate each time (DuckDB reads only the columns and rows a
    statement needs, so a big store is never materialised; only a small map of the IP addresses
    whose text is not canonical is kept as a temporary table). An investigation that reads the same
    few actions many times takes a :meth:`narrow` copy of them once. ``where_sql`` / ``params`` is
    the scope's predicate over ``events`` (named parameters ``$q<n>``), for the investigations that
    also read history before the scope (SSO state, quota baselines). Close it (or use it as a
    context manager) to drop its tables.

    Examples:
        >>> import auditlab
        >>> ws = auditlab.load("data/samples/portal_audit_export.zip")
        >>> with Scope(ws, "action is user.login") as s:
        ...     s.query.to_text(), s.count() > 0
        ('action is user.login; all time', True)
        >>> with Scope(ws) as s, s.narrow("action = 'user.login'", columns=["event_id", "user_key"]) as logins:
        ...     logins.count() == s.count("action = 'user.login'"), logins.sql("SELECT * FROM {scope}").columns
        (True, ['event_id', 'user_key'])
    """

    def __init__(self, ws: Any, query: Query | str | None = None) -> None:
        self.ws = ws
        self.con: duckdb.DuckDBPyConnection = ws.con
        self.query = scope_query(query)
        result = QueryResult(ws, self.query)
        self.bounds: tuple[datetime | None, datetime | None] = result.bounds
        where, positional = to_sql(self.query, anchor=result.anchor)
        self.where_sql, self.params = named(where, positional, "q")
        self.table = f"auditlab_scope_{uuid.uuid4().hex[:12]}"
        self._tables: list[str] = []
        self.source = self._view()

    def _view(self) -> str:
        """The scope's events as a subquery over ``events`` (and the IP map, a temporary table)."""
        ips = run_sql(
            self.con,
            # only these can differ from their canonical form: a dotted IPv4 text is already canonical
            # (Python refuses leading zeros), so the Python map sees IPv6, brackets and padding only
            f"""SELECT DISTINCT ip_address FROM events WHERE ({self.where_sql}) AND ip_address IS NOT NULL
                AND (contains(ip_address, ':') OR contains(ip_address, '[') OR ip_address <> trim(ip_address))""",  # noqa: S608
            self.params,
        )["ip_address"].to_list()
        odd = {ip: canonical_ip(ip) for ip in ips}
        odd = {k: v for k, v in odd.items() if k != v}
        join = ""
        if odd:  # a temporary table, so the view below can be read by any statement of the connection
            import pyarrow as pa

            ip_map = f"{self.table}_ip"
            arrow = pa.table(
                {"raw": list(odd), "canon": list(odd.values())},
                schema=pa.schema([("raw", pa.string()), ("canon", pa.string())]),
            )
            self.con.register(f"{ip_map}_arrow", arrow)
            try:
                self.con.execute(f"CREATE TEMP TABLE {ip_map} AS SELECT * FROM {ip_map}_arrow")  # noqa: S608
            finally:
                self.con.unregister(f"{ip_map}_arrow")
            self._tables.append(ip_map)
            join = f" LEFT JOIN {ip_map} m ON m.raw = e.ip_address"
        ip_key = "coalesce(m.canon, e.ip_address)" if join else "e.ip_address"
        return (
            f"(SELECT e.*, {fold_sql('e.user_email')} AS user_key, {ip_key} AS ip_key "  # noqa: S608
            f"FROM events e{join} WHERE ({self.where_sql}))"
        )

    def narrow(
        self, where: str, params: Mapping[str, object] | None = None, *, columns: Sequence[str] | None = None
    ) -> Scope:
        """A scope over the events of this one matching ``where``, materialised once as a temporary table.

        For an investigation that reads the same few actions many times: one scan of the store, then
        every statement reads the small table. ``columns``: the columns kept (default every canonical
        column but ``raw``, plus ``user_key`` and ``ip_key``). Close the narrowed scope to drop it
        (closing this scope also drops it).
        """
        sub = copy.copy(self)
        sub.table = f"auditlab_scope_{uuid.uuid4().hex[:12]}"
        sub._tables = [sub.table]
        select = "* EXCLUDE (raw)" if columns is None else ", ".join(f'"{c}"' for c in columns)
        sql = f"CREATE TEMP TABLE {sub.table} AS SELECT {select} FROM {self.source} WHERE ({where})"  # noqa: S608
        values = {**self.params, **(params or {})}
        self.con.execute(sql, {k: values[k] for k in set(_PARAM.findall(sql))})
        sub.source = sub.table
        self._tables.append(sub.table)
        return sub

    def sql(self, sql: str, params: Mapping[str, object] | None = None) -> pl.DataFrame:
        """Run ``sql`` (``{scope}`` stands for the scope's events) with named parameters (and the scope's)."""
        return run_sql(self.con, sql.replace("{scope}", self.source), {**self.params, **(params or {})})

    def rows(self, sql: str, params: Mapping[str, object] | None = None) -> list[tuple[Any, ...]]:
        """Like :meth:`sql`, as Python tuples (for a scalar or a few rows)."""
        sql = sql.replace("{scope}", self.source)
        values = {**self.params, **(params or {})}
        used = set(_PARAM.findall(sql))
        return self.con.execute(sql, {k: values[k] for k in used}).fetchall()

    def count(self, where: str = "TRUE") -> int:
        """How many events are in scope (and match ``where``, SQL over the scope's columns)."""
        ((n,),) = self.rows(f"SELECT count(*) FROM {{scope}} WHERE {where}")  # noqa: S608
        return int(n)

    def close(self) -> None:
        """Drop the scope's temporary tables (idempotent)."""
        while self._tables:
            self.con.execute(f"DROP TABLE IF EXISTS {self._tables.pop()}")

    def __enter__(self) -> Scope:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Scope {self.query.to_text()!r}>"


def scope_of(ws: Any, query: Query | str | Scope | None) -> tuple[Scope, bool]:
    """The scope to read and whether the caller owns it (and must close it): a given :class:`Scope` is shared."""
    if isinstance(query, Scope):
        return query, False
    return Scope(ws, query), True
