"""JSON form of queries: pinned shape, round trip, bad input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

from auditlab.errors import OperatorError, QueryError, UnknownFieldError
from auditlab.filters import (
    Query,
    parse_query,
    query_from_dict,
    query_from_json,
    query_to_dict,
    query_to_json,
)
from auditlab.testing.strategies import queries


def test_shape_is_pinned() -> None:
    q = parse_query(
        'user_email is A@B.c; resource_type is_any user; resource_name is "x,y"; '
        "since 2026-10-01T00:00:00.25Z"
    )
    assert query_to_dict(q) == {
        "version": 1,
        "conditions": [
            {"field": "user_email", "op": "is", "values": ["A@B.c"]},
            {"field": "resource_type", "op": "is_any", "values": ["user"]},
            {"field": "resource_name", "op": "is", "values": ["x,y"]},
        ],
        "time_range": {"preset": "custom", "start": "2026-10-01T00:00:00.250000Z", "end": None},
        "allow_unknown_actions": False,
    }


def test_query_methods_delegate() -> None:
    q = parse_query("outcome is failure; since 30d")
    assert Query.from_json(q.to_json()) == q
    assert Query.from_dict(q.to_dict()) == q


def test_missing_keys_take_defaults() -> None:
    assert query_from_dict({}) == Query()
    assert query_from_json(
        '{"conditions": [{"field": "Outcome", "op": "is not", "values": ["successful"]}]}'
    ) == (parse_query("outcome is_not success; since 24h"))


@pytest.mark.parametrize(
    "data, error, message",
    [
        ("[]", QueryError, "a query must be a JSON object, got list"),
        ("{", QueryError, "query JSON does not parse"),
        ('{"version": 2}', QueryError, "unsupported query format version 2"),
        ('{"extra": 1}', QueryError, "unknown query keys: extra"),
        ('{"conditions": {}}', QueryError, "'conditions' must be a list"),
        (
            '{"conditions": [{"field": "action", "op": "is"}]}',
            QueryError,
            "needs exactly field, op and values",
        ),
        (
            '{"conditions": [{"field": "action", "op": "is", "values": "x"}]}',
            QueryError,
            "values must be a list",
        ),
        (
            '{"conditions": [{"field": "colour", "op": "is", "values": ["x"]}]}',
            UnknownFieldError,
            "unknown field 'colour'",
        ),
        (
            '{"conditions": [{"field": "action", "op": "like", "values": ["x"]}]}',
            OperatorError,
            "unknown operator 'like'",
        ),
        (
            '{"conditions": [{"field": "action", "op": "is", "values": [1]}]}',
            QueryError,
            "values must be strings, got 1",
        ),
        ('{"time_range": {"preset": "90d"}}', QueryError, "unknown time range '90d'"),
        (
            '{"time_range": {"preset": "7d", "start": "2026-01-01"}}',
            QueryError,
            "time range '7d' takes no start or end",
        ),
        ('{"time_range": {"preset": "custom", "start": 5}}', QueryError, "not a date-time: 5"),
        ('{"allow_unknown_actions": "yes"}', QueryError, "'allow_unknown_actions' must be true or false"),
    ],
)
def test_bad_json_is_a_query_error(data: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        query_from_json(data)


@settings(max_examples=200, deadline=None)
@given(queries())
def test_json_round_trip(q: Query) -> None:
    text = query_to_json(q)
    assert query_from_json(text) == q
    assert json.loads(text) == query_to_dict(q)
