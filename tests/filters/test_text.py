"""The one-line text form: readings, canonical writing, errors, and parse(format(q)) == q."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from auditlab.errors import OperatorError, QueryError, UnknownActionError, UnknownFieldError
from auditlab.filters import Condition, Op, Query, TimeRange, format_query, parse_condition, parse_query
from auditlab.testing.strategies import queries

# text as typed -> canonical text form
READINGS = [
    ("", "since 24h"),
    ("since 24h", "since 24h"),
    (
        "Action is_any user.login,user.sso.saml.login; outcome is failure; since 7d",
        "action is_any user.login,user.sso.saml.login; outcome is failure; since 7d",
    ),
    (
        "ACTION IS NOT ANY user.login , user.logout ;  LAST 30D",
        "action is_not_any user.login,user.logout; since 30d",
    ),
    ("User Email is Alice@Example.com", "user_email is Alice@Example.com; since 24h"),
    (
        "Authentication Context is API; Outcome is successful",
        "auth_context is api; outcome is success; since 24h",
    ),
    (
        "Target Type is not project; Target Name is My  Project",
        "resource_type is_not project; resource_name is My  Project; since 24h",
    ),
    (
        "target_type is_any user; target_name is any a,b",
        "resource_type is_any user; resource_name is_any a,b; since 24h",
    ),
    ('group_name is "Team, A"; all time', 'group_name is "Team, A"; all time'),
    ('project_name is " padded "; all', 'project_name is " padded "; all time'),
    ('package_name is "say \\"hi\\""', 'package_name is "say \\"hi\\""; since 24h'),
    ('project_name is "a;b"', 'project_name is "a;b"; since 24h'),
    ('project_name is "not"', 'project_name is "not"; since 24h'),
    ('project_name is "any thing"', 'project_name is "any thing"; since 24h'),
    ("project_name is anything", "project_name is anything; since 24h"),
    ("project_name is nothing", "project_name is nothing; since 24h"),
    ("project_name is not_x", 'project_name is "not_x"; since 24h'),  # quoted: starts with an operator word
    ('project_name is "line\\nbreak"', 'project_name is "line\\nbreak"; since 24h'),
    ("ip_address is 10.0.0.1; since all", "ip_address is 10.0.0.1; all time"),
    (
        "between 2026-10-01T00:00:00Z and 2026-10-02T00:00:00Z",
        "between 2026-10-01T00:00:00Z and 2026-10-02T00:00:00Z",
    ),
    (
        "between 2026-10-01T02:00:00+02:00 and 2026-10-02",
        "between 2026-10-01T00:00:00Z and 2026-10-02T00:00:00Z",
    ),
    ("since 2026-10-01T00:00:00.5Z", "since 2026-10-01T00:00:00.500000Z"),
    ("until 2026-10-01", "until 2026-10-01T00:00:00Z"),
    ("outcome is failure;;", "outcome is failure; since 24h"),
]


@pytest.mark.parametrize("text, canonical", READINGS)
def test_reads_and_writes_canonically(text: str, canonical: str) -> None:
    q = parse_query(text)
    assert format_query(q) == canonical
    assert parse_query(canonical) == q


ERRORS = [
    ("colour is red", UnknownFieldError, r"unknown field 'colour'; known fields: action, outcome"),
    (
        "action equals user.login",
        QueryError,
        r"cannot read filter 'action equals user.login': expected FIELD OP VALUES",
    ),
    ("action", QueryError, r"cannot read filter 'action': expected FIELD OP VALUES"),
    ("action is", QueryError, r"missing value in 'action is'"),
    ("action is not", QueryError, r"missing value in 'action is not'"),
    ("action is ", QueryError, r"missing value in 'action is'"),
    ("action is user.login,user.logout", OperatorError, r"action is takes exactly one value, got 2"),
    ("outcome is_any a,,b", QueryError, r"empty value in 'outcome is_any a,,b'"),
    ("outcome is_any a,", QueryError, r"empty value"),
    ('project_name is "open', QueryError, r"unterminated quote"),
    ('project_name is a"b', QueryError, r"a value with a quote must be quoted"),
    ('project_name is "a" b', QueryError, r"bad quoted value"),
    ("action is user.pat.revoke", UnknownActionError, r"did you mean user\.pat\.revoked\?"),
    (
        "resource_name is x",
        QueryError,
        r"Target Name needs a Target Type condition \(resource_type\), as in the Portal",
    ),
    ("since 7d; since 30d", QueryError, r"more than one time range"),
    ("since yesterday", QueryError, r"not an ISO 8601 date-time: 'yesterday'"),
    ("between 2026-10-02 and 2026-10-01", QueryError, r"is not before end"),
    ("between 2026-10-01", QueryError, r"cannot read time range 'between 2026-10-01'"),
]


@pytest.mark.parametrize("text, error, message", ERRORS)
def test_rejects_with_a_clear_message(text: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        parse_query(text)


def test_unknown_actions_can_be_allowed() -> None:
    q = parse_query("action is user.pat.revoke", allow_unknown_actions=True)
    assert q.conditions == (Condition("action", Op.IS, "user.pat.revoke"),)


def test_labels_form_reads_back() -> None:
    q = parse_query("user_email is a@b.c; resource_type is user; resource_name is x; auth_context is api")
    text = format_query(q, labels=True)
    assert (
        text
        == "User Email is a@b.c; Target Type is user; Target Name is x; Authentication Context is api; since 24h"
    )
    assert parse_query(text) == q


def test_parse_condition_reads_one_clause() -> None:
    assert parse_condition("Group ID is any g1, g2") == Condition("group_id", "is_any", ["g1", "g2"])


def test_time_range_forms() -> None:
    assert parse_query("all time").time_range == TimeRange("all")
    assert parse_query("last 7d").time_range == TimeRange("7d")


@settings(max_examples=300, deadline=None)
@given(queries())
def test_parse_of_format_is_identity(q: Query) -> None:
    text = format_query(q)
    assert parse_query(text, allow_unknown_actions=True) == q
    assert parse_query(format_query(q, labels=True), allow_unknown_actions=True) == q
