"""QueryResult: counts, pages, frames, distinct values and timelines over a workspace's events."""

from __future__ import annotations

import types
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from auditlab.errors import QueryError
from auditlab.filters import Query, parse_query
from auditlab.schema import COLUMNS, duckdb_columns
from auditlab.store.result import QueryResult, parse_bucket

NEWEST = datetime(2026, 10, 2, 12, tzinfo=UTC)
# (event_id, hours before NEWEST, action, outcome, user_email)
ROWS = [
    ("a", 0, "user.login", "failure", "Alice@Example.com"),
    ("b", 0, "user.login", "success", "alice@example.com"),  # same timestamp as "a": event_id breaks the tie
    ("c", 1, "user.logout", None, None),
    ("d", 5, "user.login", "failure", "bob@example.org"),
    ("e", 30, "user.login", "failure", "bob@example.org"),  # outside the default 24 h
    ("f", 24 * 40, "project.created", "success", "carol@example.org"),
]


@pytest.fixture()
def ws() -> types.SimpleNamespace:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE TABLE events ({duckdb_columns()})")
    con.executemany(
        "INSERT INTO events (event_id, timestamp, action, outcome, user_email, source, source_line) "
        "VALUES (?, ?, ?, ?, ?, 'fixture', 1)",
        [(i, NEWEST - timedelta(hours=h), a, o, u) for i, h, a, o, u in ROWS],
    )
    return types.SimpleNamespace(con=con)


def ids(frame: pl.DataFrame) -> list[str]:
    return frame["event_id"].to_list()


def test_default_is_the_24h_ending_at_the_newest_event(ws) -> None:
    r = QueryResult(ws)
    assert r.query == Query()
    assert r.anchor == NEWEST + timedelta(microseconds=1)
    assert r.bounds == (
        NEWEST + timedelta(microseconds=1) - timedelta(hours=24),
        NEWEST + timedelta(microseconds=1),
    )
    assert r.count() == 4 and len(r) == 4


def test_pages_are_newest_first_then_by_event_id(ws) -> None:
    r = QueryResult(ws, "all time")
    assert ids(r.page(0, size=4)) == ["a", "b", "c", "d"]
    assert ids(r.page(1, size=4)) == ["e", "f"]
    assert ids(r.page(2, size=4)) == []
    assert r.page(0).columns == list(COLUMNS)


def test_frames_are_ordered_and_limited(ws) -> None:
    r = QueryResult(ws, "action is user.login; all time")
    assert ids(r.to_polars()) == ["a", "b", "d", "e"]
    assert r.to_arrow(limit=2).column("event_id").to_pylist() == ["a", "b"]
    assert r.relation().fetchall()[0][0] == "a"


def test_text_queries_and_unknown_actions(ws) -> None:
    assert QueryResult(ws, "user_email is ALICE@EXAMPLE.COM").count() == 2
    assert QueryResult(ws, "action is user.nope", allow_unknown_actions=True).count() == 0
    with pytest.raises(QueryError, match=r"unknown action 'user\.nope'"):
        QueryResult(ws, "action is user.nope")
    with pytest.raises(QueryError, match="expected a Query or its text form, got int"):
        QueryResult(ws, 5)  # type: ignore[arg-type]


def test_an_explicit_anchor_wins(ws) -> None:
    r = QueryResult(ws, "since 24h", anchor=NEWEST - timedelta(hours=6))
    assert ids(r.to_polars()) == ["e"]  # [newest-30h, newest-6h)


def test_empty_workspace(ws) -> None:
    ws.con.execute("DELETE FROM events")
    r = QueryResult(ws)
    assert r.anchor is None and r.count() == 0 and r.page(0).height == 0


def test_sql_is_parameterised_and_reusable(ws) -> None:
    r = QueryResult(ws, "outcome is_not failure; action is_any user.login,user.logout; all time")
    sql, params = r.sql()
    assert sql == (
        'SELECT * FROM events WHERE ("outcome" IS NULL OR "outcome" <> ?) AND "action" IN (?, ?) '
        "ORDER BY timestamp DESC, event_id"
    )
    assert params == ["failure", "user.login", "user.logout"]
    assert [row[0] for row in ws.con.execute(sql, params).fetchall()] == ["b", "c"]


def test_distinct_counts_values_for_pickers(ws) -> None:
    r = QueryResult(ws, "all time")
    assert r.distinct("Outcome").rows() == [("failure", 3), ("success", 2)]
    assert r.distinct("action", limit=1).rows() == [("user.login", 4)]
    assert QueryResult(ws).distinct("user_email").rows() == [
        ("Alice@Example.com", 1),
        ("alice@example.com", 1),
        ("bob@example.org", 1),
    ]
    with pytest.raises(QueryError, match="unknown field 'colour'"):
        r.distinct("colour")


def test_timeline_buckets_in_utc(ws) -> None:
    r = QueryResult(ws)
    t = r.timeline("1h")
    assert t.columns == ["bucket", "outcome", "count"]
    assert t.rows() == [
        (datetime(2026, 10, 2, 7, tzinfo=UTC), "failure", 1),
        (datetime(2026, 10, 2, 11, tzinfo=UTC), None, 1),
        (datetime(2026, 10, 2, 12, tzinfo=UTC), "failure", 1),
        (datetime(2026, 10, 2, 12, tzinfo=UTC), "success", 1),
    ]
    assert r.timeline("1d", by=None).rows() == [(datetime(2026, 10, 2, tzinfo=UTC), 4)]
    assert QueryResult(ws, "all time").timeline("1mo", by="action")["count"].sum() == 6


@pytest.mark.parametrize("bucket", ["", "h", "0h", "1y", "1 fortnight", "-1h"])
def test_bad_buckets(bucket: str) -> None:
    with pytest.raises(QueryError, match="bad time bucket"):
        parse_bucket(bucket)


@pytest.mark.parametrize(
    "call", [lambda r: r.page(-1), lambda r: r.page(0, size=0), lambda r: r.to_polars(limit=-1)]
)
def test_bad_pages(ws, call) -> None:
    with pytest.raises(QueryError):
        call(QueryResult(ws))


SAMPLE = Path(__file__).parents[2] / "data" / "samples" / "portal_audit_export.zip"


@pytest.mark.skipif(not SAMPLE.exists(), reason="data/samples not generated")
def test_on_the_sample_workspace() -> None:
    import auditlab

    ws = auditlab.load(str(SAMPLE))
    r = ws.query("outcome is failure; since 30d")
    assert r.query == parse_query("outcome is failure; since 30d")
    frame = ws.to_polars()
    newest = frame["timestamp"].max()
    expected = frame.filter(
        (pl.col("outcome") == "failure") & (pl.col("timestamp") > newest - timedelta(days=30))
    ).height
    assert r.count() == expected > 0
    assert r.timeline("1d")["count"].sum() == expected
    assert ws.query().count() > 0  # an old export is not empty on opening
    top = r.page(0, size=10)
    assert top["timestamp"].to_list() == sorted(top["timestamp"].to_list(), reverse=True)
