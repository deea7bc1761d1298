"""API pushdown: what the Portal API filters, what stays local, nothing dropped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from filters_fixtures import make_con, make_frame, sql_ids
from hypothesis import given, settings

from auditlab.filters import Condition, Query, parse_query, to_portal_filters, to_portal_range
from auditlab.filters.fields import FIELDS
from auditlab.testing.strategies import pool_queries

CASES = [
    # text, API filters, residual text
    (
        "action is_not_any user.login,user.logout; all time",
        [{"filter_by": "action", "operation": "is_not_any", "values": ["user.login", "user.logout"]}],
        "all time",
    ),
    (
        "outcome is successful; auth_context is Portal; user_email is A@b.c; all time",
        [
            {"filter_by": "outcome", "operation": "is", "values": ["successful"]},
            {"filter_by": "auth_context", "operation": "is", "values": ["portal"]},
            {"filter_by": "user_email", "operation": "is", "values": ["A@b.c"]},
        ],
        "all time",
    ),
    ("outcome is_not failure; all time", [], "outcome is_not failure; all time"),
    ("outcome is_any success,failure; all time", [], "outcome is_any success,failure; all time"),
    (
        "group_id is_any g1,g2; group_id is_not g3; all time",
        [{"filter_by": "group_id", "operation": "is_any", "values": ["g1", "g2"]}],
        "group_id is_not g3; all time",
    ),
    (
        "user_id is u1; request_id is q1; resource_id is r1; all time",
        [
            {"filter_by": "user_id", "operation": "is", "values": ["u1"]},
            {"filter_by": "request_id", "operation": "is", "values": ["q1"]},
            {"filter_by": "resource_id", "operation": "is", "values": ["r1"]},
        ],
        "all time",
    ),
    ("user_id is_any u1,u2; all time", [], "user_id is_any u1,u2; all time"),
    (
        "action is user.login; action is_not user.logout; all time",
        [{"filter_by": "action", "operation": "is", "values": ["user.login"]}],
        "action is_not user.logout; all time",
    ),
    (
        "ip_address is 10.0.0.1; group_name is Team A; project_name is p; package_name is k; all time",
        [],
        "ip_address is 10.0.0.1; group_name is Team A; project_name is p; package_name is k; all time",
    ),
    # A residual Target Name keeps its Target Type condition, so the residual is a valid query.
    (
        "resource_type is project; resource_name is p1; since 7d",
        [{"filter_by": "resource_type", "operation": "is", "values": ["project"]}],
        "resource_type is project; resource_name is p1; since 7d",
    ),
]


@pytest.mark.parametrize("text, filters, residual", CASES)
def test_pushdown_cases(text: str, filters: list[dict[str, object]], residual: str) -> None:
    got, rest = to_portal_filters(parse_query(text))
    assert got == filters
    assert rest.to_text() == residual


def test_query_method_is_the_same() -> None:
    q = parse_query("action is user.login; ip_address is 10.0.0.1")
    assert q.to_portal_filters() == to_portal_filters(q)


def test_names_are_sent_as_ids_only_when_known() -> None:
    q = parse_query("group_name is_any Team A,Team B; all time")
    assert to_portal_filters(q)[0] == []
    assert to_portal_filters(q, ids={"group_name": {"Team A": ["g1"]}})[0] == []  # Team B unknown
    filters, rest = to_portal_filters(q, ids={"group_name": {"Team A": ["g1"], "Team B": ["g2", "g9"]}})
    assert filters == [{"filter_by": "group_id", "operation": "is_any", "values": ["g1", "g2", "g9"]}]
    assert rest == q  # names stay local: an id outlives a rename
    neg = parse_query("group_name is_not Team A; all time")
    assert to_portal_filters(neg, ids={"group_name": {"Team A": ["g1"]}})[0] == []
    taken = parse_query("group_id is g5; group_name is Team A; all time")
    assert to_portal_filters(taken, ids={"group_name": {"Team A": ["g1"]}})[0] == [
        {"filter_by": "group_id", "operation": "is", "values": ["g5"]}
    ]


def test_resource_name_to_id_needs_one_id() -> None:
    q = parse_query("resource_type is user; resource_name is bob; all time")
    assert to_portal_filters(q, ids={"resource_name": {"bob": ["r1", "r2"]}})[0] == [
        {"filter_by": "resource_type", "operation": "is", "values": ["user"]}  # resource_id takes `is` only
    ]


def test_time_range_for_the_api() -> None:
    anchor = datetime(2026, 10, 2, 12, tzinfo=UTC)
    assert to_portal_range(parse_query("since 7d"), anchor=anchor) == {
        "datetime_start": "2026-09-25T12:00:00Z",
        "datetime_end": "2026-10-02T12:00:00Z",
    }
    assert to_portal_range(parse_query("since 2026-01-01T00:00:00Z")) == {
        "datetime_start": "2026-01-01T00:00:00Z"
    }
    assert to_portal_range(parse_query("all time")) == {}


def _api_apply(con, filters) -> set[str]:
    """Apply API filters locally, the way the Portal is assumed to (canonical values)."""
    back = {f: {v: k for k, v in FIELDS[f].api_values.items()} for f in FIELDS}
    conds = [
        Condition(f["filter_by"], f["operation"], [back[f["filter_by"]].get(v, v) for v in f["values"]])
        for f in filters
    ]
    return sql_ids(con, Query(conds, "all", allow_unknown_actions=True))


CON = make_con(make_frame())


@settings(max_examples=100, deadline=None)
@given(pool_queries())
def test_filters_then_residual_equal_the_query(q: Query) -> None:
    # Every condition is either sent or kept: API filters AND residual select what the query selects.
    con = CON
    filters, rest = to_portal_filters(q)
    assert len({f["filter_by"] for f in filters}) == len(filters)  # each field at most once
    for f in filters:
        spec = FIELDS[f["filter_by"]]
        assert f["operation"] in spec.api_ops
        if f["operation"] in ("is", "is_not"):
            assert len(f["values"]) == 1
    anchor = datetime(2026, 10, 2, tzinfo=UTC)
    assert _api_apply(con, filters) & sql_ids(con, rest, anchor) == sql_ids(con, q, anchor)
