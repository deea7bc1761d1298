"""A small fixed event table (with NULLs, mixed case and injection strings) in DuckDB and Polars."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import polars as pl

from auditlab.filters import Query, to_polars, to_sql
from auditlab.schema import EVENTS_SCHEMA, duckdb_columns

INJECT_1 = "' OR 1=1 --"
INJECT_2 = "x'); DROP TABLE events; --"

# event_id, timestamp, action, outcome, user_email, auth_context, resource_type, resource_name, group_name, ip
ROWS = [
    (
        "e1",
        "2026-10-01T10:00:00",
        "user.login",
        "success",
        "alice@example.com",
        "portal",
        "user",
        "alice",
        None,
        "10.0.0.1",
    ),
    (
        "e2",
        "2026-10-01T11:00:00",
        "user.login",
        "failure",
        "Alice@Example.COM",
        "api",
        "user",
        None,
        None,
        "10.0.0.2",
    ),
    ("e3", "2026-10-01T12:00:00", "user.pat.revoked", None, None, None, None, None, None, None),
    (
        "e4",
        "2026-09-20T00:00:00",
        "project.created",
        "success",
        "bob@example.org",
        "portal",
        "project",
        INJECT_1,
        "Team A",
        "10.0.0.1",
    ),
    (
        "e5",
        "2026-10-02T00:00:00",
        "user.logout",
        "failure",
        "İnci@x.org",
        "api",
        "group",
        INJECT_2,
        INJECT_1,
        "2001:db8::1",
    ),
]
NAMES = [
    "event_id",
    "timestamp",
    "action",
    "outcome",
    "user_email",
    "auth_context",
    "resource_type",
    "resource_name",
    "group_name",
    "ip_address",
]
NEWEST = datetime(2026, 10, 2, tzinfo=UTC)


def make_frame() -> pl.DataFrame:
    cols = {name: [row[i] for row in ROWS] for i, name in enumerate(NAMES)}
    cols["timestamp"] = [datetime.fromisoformat(t).replace(tzinfo=UTC) for t in cols["timestamp"]]
    cols["source"] = ["fixture"] * len(ROWS)
    cols["source_line"] = list(range(1, len(ROWS) + 1))
    schema = {
        f.name: pl.Datetime("us", "UTC")
        if f.name == "timestamp"
        else (pl.Int64 if f.name == "source_line" else pl.String)
        for f in EVENTS_SCHEMA
    }
    return pl.DataFrame({n: cols.get(n, [None] * len(ROWS)) for n in schema}, schema=schema)


def make_con(frame: pl.DataFrame, con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """``frame`` as the ``events`` table of ``con`` (a new connection by default), replacing any."""
    con = con or duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE OR REPLACE TABLE events ({duckdb_columns()})")
    con.register("incoming", frame.to_arrow())
    con.execute("INSERT INTO events SELECT * FROM incoming")
    con.unregister("incoming")
    return con


def sql_ids(con: duckdb.DuckDBPyConnection, q: Query, anchor: datetime | None = None) -> set[str]:
    where, params = to_sql(q, anchor=anchor)
    return {r[0] for r in con.execute(f"SELECT event_id FROM events WHERE {where}", params).fetchall()}


def polars_ids(frame: pl.DataFrame, q: Query, anchor: datetime | None = None) -> set[str]:
    return set(frame.filter(to_polars(q, anchor=anchor))["event_id"].to_list())
