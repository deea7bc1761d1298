"""The query model: operators, conditions, time ranges, validation, Portal limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from auditlab.errors import OperatorError, QueryError, UnknownActionError
from auditlab.filters import Condition, Op, Query, TimeRange


@pytest.mark.parametrize(
    "text, op",
    [
        ("is", Op.IS),
        ("IS NOT", Op.IS_NOT),
        ("is_not", Op.IS_NOT),
        ("is any", Op.IS_ANY),
        ("Is_Any", Op.IS_ANY),
        ("is not any", Op.IS_NOT_ANY),
        ("is_not_any", Op.IS_NOT_ANY),
    ],
)
def test_operator_spellings(text: str, op: Op) -> None:
    assert Op.parse(text) is op
    assert Condition("action", text, ["user.login"]).op is op


def test_operator_values_are_the_api_words() -> None:
    assert [o.value for o in Op] == ["is", "is_not", "is_any", "is_not_any"]


def test_unknown_operator() -> None:
    with pytest.raises(
        OperatorError, match="unknown operator 'contains'; use is, is_not, is_any or is_not_any"
    ):
        Condition("action", "contains", "x")


@pytest.mark.parametrize("op", ["is", "is_not"])
def test_single_value_operators_take_exactly_one(op: str) -> None:
    with pytest.raises(OperatorError, match=f"action {op} takes exactly one value, got 2"):
        Condition("action", op, ["user.login", "user.logout"])


def test_no_values() -> None:
    with pytest.raises(OperatorError, match="action is_any needs at least one value"):
        Condition("action", "is_any", [])


def test_empty_value() -> None:
    with pytest.raises(QueryError, match="action: empty value"):
        Condition("action", "is", "")


def test_values_are_normalised_and_deduplicated() -> None:
    c = Condition("outcome", "is_any", ["successful", "Success", "unsuccessful", "weird"])
    assert c.values == ("success", "failure", "weird")
    assert Condition("Authentication Context", "is", "Portal").values == ("portal",)
    assert Condition("auth_context", "is", "API").values == ("api",)
    assert Condition("user_email", "is", "Alice@X.com").values == ("Alice@X.com",)  # kept as typed


def test_a_single_string_is_one_value() -> None:
    assert Condition("project_name", "is_any", "a,b").values == ("a,b",)


def test_target_name_needs_target_type() -> None:
    with pytest.raises(
        QueryError, match=r"Target Name needs a Target Type condition \(resource_type\), as in the Portal"
    ):
        Query([Condition("target_name", "is", "x")])
    q = Query([Condition("target_type", "is_not", "user"), Condition("target_name", "is", "x")])
    assert [c.field for c in q.conditions] == ["resource_type", "resource_name"]


def test_unknown_action_suggests_catalog_entries() -> None:
    with pytest.raises(UnknownActionError) as info:
        Query([Condition("action", "is_any", ["user.login", "user.pat.revoke"])])
    assert info.value.suggestions[0] == "user.pat.revoked"
    assert "did you mean user.pat.revoked?" in str(info.value)
    with pytest.raises(UnknownActionError, match=r"unknown action 'zzz' \(not in the Portal catalog\)"):
        Query([Condition("action", "is", "zzz")])
    assert Query([Condition("action", "is", "zzz")], allow_unknown_actions=True).conditions[0].values == (
        "zzz",
    )


def test_a_field_may_appear_twice() -> None:
    q = Query().where("action", "is_not", "user.login").where("action", "is_not", "user.logout")
    assert len(q.conditions) == 2


def test_builders_return_new_queries() -> None:
    q = Query()
    q2 = q.where("outcome", "is", "failure").since("7d")
    assert q == Query() and q2.time_range == TimeRange("7d")
    assert q2.between("2026-01-01", "2026-01-02").time_range.preset == "custom"


def test_default_time_range_is_24h() -> None:
    assert Query().time_range == TimeRange() == TimeRange("24h")


def test_presets_end_at_the_anchor() -> None:
    anchor = datetime(2026, 10, 2, 0, 0, 0, 1, tzinfo=UTC)
    assert TimeRange("24h").bounds(anchor) == (anchor - timedelta(hours=24), anchor)
    assert TimeRange("7d").bounds(anchor)[0] == anchor - timedelta(days=7)
    assert TimeRange("30d").bounds(anchor)[0] == anchor - timedelta(days=30)
    assert TimeRange("all").bounds(anchor) == (None, None)


def test_presets_without_anchor_end_now() -> None:
    before = datetime.now(UTC)
    end = TimeRange("24h").bounds(None)[1]
    assert end is not None and before <= end <= datetime.now(UTC)


def test_custom_ranges_are_utc_and_ordered() -> None:
    tr = TimeRange(start="2026-10-01T02:00:00+02:00", end=datetime(2026, 10, 2))
    assert tr.start == datetime(2026, 10, 1, tzinfo=UTC) and tr.end == datetime(2026, 10, 2, tzinfo=UTC)
    assert tr.span == timedelta(days=1)
    with pytest.raises(QueryError, match="is not before end"):
        TimeRange(start="2026-10-02", end="2026-10-02")
    with pytest.raises(QueryError, match="a custom time range needs a start, an end or both"):
        TimeRange("custom")
    with pytest.raises(QueryError, match="unknown time range '1y'"):
        TimeRange("1y")


@pytest.mark.parametrize(
    "query, warnings",
    [
        (Query(time_range="30d"), []),
        (
            Query().between("2026-01-01", "2026-02-15"),
            ["the time range (45 days) exceeds the Portal UI's 30 days (the API takes 365)"],
        ),
        (
            Query().between("2025-01-01", "2026-02-15"),
            ["the time range (410 days) exceeds the Portal API's 365 days and the UI's 30"],
        ),
        (
            Query(time_range="all"),
            ["the time range is unbounded: the Portal UI shows at most 30 days, an API export 365"],
        ),
        (
            Query().between("2026-01-01", None),
            ["the time range is unbounded: the Portal UI shows at most 30 days, an API export 365"],
        ),
        (Query().where("ip_address", "is", "10.0.0.1"), ["IP Address (ip_address) is not a Portal filter"]),
        (
            Query().where("action", "is", "user.login").where("action", "is_not", "user.logout"),
            ["Action is filtered more than once: the Portal takes each field once"],
        ),
    ],
)
def test_portal_limits_are_reported_not_enforced(query: Query, warnings: list[str]) -> None:
    assert query.portal_warnings == warnings
    assert query.portal_compatible is (not warnings)


def test_frozen() -> None:
    q = Query()
    with pytest.raises(AttributeError):
        q.time_range = TimeRange("7d")  # type: ignore[misc]
    assert hash(q) == hash(Query())
