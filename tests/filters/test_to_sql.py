"""The SQL compiler: a case table (text -> SQL, params, matching events), injection, NULLs."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from filters_fixtures import INJECT_1, INJECT_2, polars_ids, sql_ids

from auditlab.filters import Condition, Query, parse_query, to_sql
from auditlab.filters.model import format_datetime, parse_datetime

CASES = json.loads((Path(__file__).parents[1] / "cases" / "filters.json").read_text(encoding="utf-8"))


def _anchor(case: dict[str, object]) -> datetime | None:
    raw = case.get("anchor")
    return parse_datetime(str(raw)) if raw else None


def _plain(params: list[object]) -> list[object]:
    return [format_datetime(p) if isinstance(p, datetime) else p for p in params]


@pytest.mark.parametrize("case", CASES, ids=[c["text"] for c in CASES])
def test_compiles_as_in_the_case_table(case: dict[str, object]) -> None:
    sql, params = to_sql(parse_query(str(case["text"])), anchor=_anchor(case))
    assert (sql, _plain(params)) == (case["sql"], case["params"])


@pytest.mark.parametrize("case", CASES, ids=[c["text"] for c in CASES])
def test_case_table_matches_the_same_events_in_duckdb_and_polars(case, con, frame) -> None:
    q, anchor = parse_query(str(case["text"])), _anchor(case)
    assert sorted(sql_ids(con, q, anchor)) == case["ids"]
    assert sorted(polars_ids(frame, q, anchor)) == case["ids"]


@pytest.mark.parametrize("value", [INJECT_1, INJECT_2, "a' OR 'a'='a", "\\'; SELECT 1; --", '"; --'])
def test_values_never_enter_the_sql_text(value: str) -> None:
    q = Query(
        [Condition("resource_type", "is", "group"), Condition("resource_name", "is_any", [value, "x"])], "all"
    )
    sql, params = to_sql(q)
    assert value not in sql and "'" not in sql.replace("'ABCDEFGHIJKLMNOPQRSTUVWXYZ'", "")
    assert params == ["group", value, "x"]


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"resource_type is project; resource_name is {INJECT_1}; all time", {"e4"}),
        (f"group_name is {INJECT_1}; all time", {"e5"}),
        ('resource_type is group; resource_name is "x\'); DROP TABLE events; --"; all time', {"e5"}),
        (
            'resource_type is_any user,project,group; resource_name is_not_any "x\'); DROP TABLE events; --","\' OR 1=1 --"; all time',
            {"e1", "e2"},
        ),
    ],
)
def test_injection_strings_match_literally_and_the_table_survives(con, text: str, expected: set[str]) -> None:
    assert sql_ids(con, parse_query(text)) == expected
    assert con.execute("SELECT count(*) FROM events").fetchall() == [(5,)]


def test_plain_sql_not_equal_drops_nulls_but_is_not_keeps_them(con, frame) -> None:
    # The engines' own != and NOT IN drop NULLs: the reason is_not/is_not_any add "IS NULL OR".
    naive = {r[0] for r in con.execute("SELECT event_id FROM events WHERE outcome <> 'failure'").fetchall()}
    assert naive == {"e1", "e4"}
    naive_in = {
        r[0] for r in con.execute("SELECT event_id FROM events WHERE outcome NOT IN ('failure')").fetchall()
    }
    assert naive_in == {"e1", "e4"}
    import polars as pl

    assert set(frame.filter(pl.col("outcome") != "failure")["event_id"]) == {"e1", "e4"}
    assert set(frame.filter(~pl.col("outcome").is_in(["failure"]))["event_id"]) == {"e1", "e4"}
    q = parse_query("outcome is_not failure; all time")
    assert sql_ids(con, q) == polars_ids(frame, q) == {"e1", "e3", "e4"}
    q = parse_query("outcome is_not_any failure; all time")
    assert sql_ids(con, q) == polars_ids(frame, q) == {"e1", "e3", "e4"}


def test_is_and_is_any_do_not_match_missing_values(con, frame) -> None:
    q = parse_query("outcome is_any success,failure,partial; all time")
    assert "e3" not in sql_ids(con, q) | polars_ids(frame, q)


def test_newest_event_is_inside_a_preset_anchored_just_after_it(con, frame) -> None:
    from datetime import timedelta

    from filters_fixtures import NEWEST

    q = parse_query("since 24h")
    assert "e5" not in sql_ids(con, q, NEWEST)  # end is exclusive
    assert "e5" in sql_ids(con, q, NEWEST + timedelta(microseconds=1))
    assert "e5" in polars_ids(frame, q, NEWEST + timedelta(microseconds=1))
