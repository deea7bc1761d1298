"""Hypothesis strategies for auditlab's property tests (queries, events).

Needs ``hypothesis`` (a dev dependency); import this module from tests only.

Examples:
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(queries())
    ... def check(q):
    ...     assert parse_query(q.to_text(), allow_unknown_actions=q.allow_unknown_actions) == q
    >>> check()
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

from auditlab.catalog import ACTIONS, TARGET_TYPES
from auditlab.filters.fields import FIELDS
from auditlab.filters.model import PRESETS, Condition, Op, Query, TimeRange
from auditlab.filters.text import parse_query  # noqa: F401  (used by the module doctest)
from auditlab.schema import EVENTS_SCHEMA

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

__all__ = [
    "BASE_TIME",
    "VALUE_POOLS",
    "conditions",
    "event_frames",
    "filter_values",
    "pool_conditions",
    "pool_queries",
    "queries",
    "time_ranges",
]

#: Events of :func:`event_frames` fall in the 48 hours from here.
BASE_TIME = datetime(2026, 10, 1, tzinfo=UTC)

_NASTY = ["' OR 1=1 --", "x'); DROP TABLE events; --", 'say "hi"', "a,b; c", " padded ", "not", "any x"]

#: Small value pools per field, shared by events and queries so that conditions hit.
#: They hold NULL-adjacent, case and Unicode traps (``İ``, final ``Σ``) and injection attempts.
VALUE_POOLS: dict[str, list[str]] = {
    "action": ["user.login", "user.logout", "user.pat.revoked", "project.created", "group.updated"],
    "outcome": ["success", "failure", "partial"],
    "user_email": [
        "alice@example.com",
        "Alice@Example.COM",
        "bob@example.org",
        "BOB@EXAMPLE.ORG",
        "İnci@x.org",
        "inci@x.org",
        "i̇nci@x.org",
        "ΑΣ@x.gr",
        "ας@x.gr",
        "ασ@x.gr",
        "ẞ@x.de",
        "ß@x.de",
        *_NASTY[:2],
    ],
    "auth_context": ["portal", "api", "cli"],
    "resource_type": ["user", "project", "group", "package"],
    "resource_name": ["alpha", "Alpha", "beta", *_NASTY],
    "group_name": ["Team A", "team a", "Team B"],
    "project_name": ["p1", "p2", "P1"],
    "package_name": ["pkg", "pkg,2"],
    "user_id": ["u1", "u2", "u3"],
    "resource_id": ["r1", "r2"],
    "group_id": ["g1", "g2", "g3"],
    "request_id": ["q1", "q2"],
    "ip_address": ["10.0.0.1", "10.0.0.2", "2001:db8::1"],
}


def filter_values(field: str) -> st.SearchStrategy[str]:
    """Values for ``field``: its pool, or any non-empty text now and then."""
    pool = st.sampled_from(VALUE_POOLS[field])
    if field == "action":
        return st.one_of(pool, st.sampled_from(sorted(ACTIONS)))
    return pool


def _text_values() -> st.SearchStrategy[str]:
    return st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)


def pool_conditions(*, fields: list[str] | None = None) -> st.SearchStrategy[Condition]:
    """Conditions whose values come from :data:`VALUE_POOLS` (they match drawn events)."""
    names = fields or list(FIELDS)

    @st.composite
    def build(draw: Any) -> Condition:
        field = draw(st.sampled_from(names))
        op = draw(st.sampled_from(list(Op)))
        n = draw(st.integers(1, 3)) if op.multi else 1
        values = draw(st.lists(filter_values(field), min_size=n, max_size=n))
        return Condition(field, op, values)

    return build()


def conditions(*, fields: list[str] | None = None) -> st.SearchStrategy[Condition]:
    """Conditions with arbitrary text values (for round trips; actions may be unknown)."""
    names = fields or list(FIELDS)

    @st.composite
    def build(draw: Any) -> Condition:
        field = draw(st.sampled_from(names))
        op = draw(st.sampled_from(list(Op)))
        n = draw(st.integers(1, 3)) if op.multi else 1
        values = draw(st.lists(st.one_of(filter_values(field), _text_values()), min_size=n, max_size=n))
        return Condition(field, op, values)

    return build()


def _datetimes(lo: datetime, hi: datetime) -> st.SearchStrategy[datetime]:
    span = int((hi - lo).total_seconds() * 1_000_000)
    return st.integers(0, span).map(lambda us: lo + timedelta(microseconds=us))


def time_ranges(
    *, lo: datetime = BASE_TIME - timedelta(days=2), hi: datetime = BASE_TIME + timedelta(days=3)
) -> st.SearchStrategy[TimeRange]:
    """Presets, ``all``, and custom ranges (open on one side or closed) between ``lo`` and ``hi``."""
    moments = _datetimes(lo, hi)

    @st.composite
    def custom(draw: Any) -> TimeRange:
        a, b = sorted([draw(moments), draw(moments)])
        if a == b:
            b = a + timedelta(microseconds=1)
        side = draw(st.sampled_from(["both", "start", "end"]))
        if side == "start":
            return TimeRange("custom", start=a)
        if side == "end":
            return TimeRange("custom", end=b)
        return TimeRange("custom", start=a, end=b)

    return st.one_of(st.sampled_from([TimeRange(p) for p in (*PRESETS, "all")]), custom())


def _queries(cond: st.SearchStrategy[Condition], max_conditions: int) -> st.SearchStrategy[Query]:
    @st.composite
    def build(draw: Any) -> Query:
        conds = draw(st.lists(cond, max_size=max_conditions))
        if any(c.field == "resource_name" for c in conds) and not any(
            c.field == "resource_type" for c in conds
        ):
            op = draw(st.sampled_from(list(Op)))
            conds.insert(0, Condition("resource_type", op, [draw(st.sampled_from(TARGET_TYPES))]))
        return Query(conds, draw(time_ranges()), allow_unknown_actions=True)

    return build()


def queries(*, max_conditions: int = 4) -> st.SearchStrategy[Query]:
    """Valid queries with arbitrary values (``allow_unknown_actions=True``)."""
    return _queries(conditions(), max_conditions)


def pool_queries(*, max_conditions: int = 4) -> st.SearchStrategy[Query]:
    """Valid queries whose values come from :data:`VALUE_POOLS`, for engine comparisons."""
    return _queries(pool_conditions(), max_conditions)


def event_frames(*, max_size: int = 40) -> st.SearchStrategy[pl.DataFrame]:
    """Canonical event frames (EVENTS_SCHEMA) with NULLs in every nullable filter field."""
    import polars as pl

    moments = _datetimes(BASE_TIME, BASE_TIME + timedelta(days=2))
    polars_types: dict[str, Any] = {"timestamp": pl.Datetime("us", "UTC"), "source_line": pl.Int64}

    @st.composite
    def build(draw: Any) -> pl.DataFrame:
        n = draw(st.integers(0, max_size))
        data: dict[str, list[Any]] = {
            "event_id": [f"e{i}" for i in range(n)],
            "timestamp": [draw(moments) for _ in range(n)],
            "source": ["strategies"] * n,
            "source_line": list(range(1, n + 1)),
        }
        for name in FIELDS:
            nullable = EVENTS_SCHEMA.field(name).nullable
            value = filter_values(name)
            data[name] = [draw(st.one_of(st.none(), value) if nullable else value) for _ in range(n)]
        schema = {f.name: polars_types.get(f.name, pl.String) for f in EVENTS_SCHEMA}
        return pl.DataFrame({name: data.get(name, [None] * n) for name in schema}, schema=schema)

    return build()
