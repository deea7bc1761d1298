"""The field table: labels, API names, aliases, API operators."""

from __future__ import annotations

import pytest

from auditlab.errors import UnknownFieldError
from auditlab.filters import FIELDS, resolve_field
from auditlab.schema import COLUMNS

SPELLINGS = [
    ("Action", "action"),
    ("Outcome", "outcome"),
    ("User Email", "user_email"),
    ("Authentication Context", "auth_context"),
    ("Target Type", "resource_type"),
    ("target_type", "resource_type"),
    ("Target Name", "resource_name"),
    ("target_name", "resource_name"),
    ("Group Name", "group_name"),
    ("Project Name", "project_name"),
    ("Package Name", "package_name"),
    ("user_id", "user_id"),
    ("resource_id", "resource_id"),
    ("group_id", "group_id"),
    ("request_id", "request_id"),
    ("ip_address", "ip_address"),
    ("IP Address", "ip_address"),
    ("USER-EMAIL", "user_email"),
]


@pytest.mark.parametrize("spelling, name", SPELLINGS)
def test_resolves_labels_api_names_and_aliases(spelling: str, name: str) -> None:
    assert resolve_field(spelling).name == name


def test_fields_are_canonical_columns() -> None:
    assert set(FIELDS) <= set(COLUMNS)
    assert len(FIELDS) == 14


def test_api_fields_and_operators_follow_the_portal_api() -> None:
    api = {name: sorted(spec.api_ops) for name, spec in FIELDS.items() if spec.api_ops}
    all_ops = ["is", "is_any", "is_not", "is_not_any"]
    assert api == {
        "action": all_ops,
        "outcome": ["is"],
        "user_email": ["is"],
        "auth_context": ["is"],
        "resource_type": all_ops,
        "user_id": ["is"],
        "resource_id": ["is"],
        "group_id": ["is", "is_any"],
        "request_id": ["is"],
    }


def test_portal_ui_fields() -> None:
    assert [s.label for s in FIELDS.values() if s.portal_ui] == [
        "Action",
        "Outcome",
        "User Email",
        "Authentication Context",
        "Target Type",
        "Target Name",
        "Group Name",
        "Project Name",
        "Package Name",
    ]


def test_only_user_email_is_case_insensitive() -> None:
    assert [n for n, s in FIELDS.items() if s.casefold] == ["user_email"]


def test_unknown_field() -> None:
    with pytest.raises(
        UnknownFieldError, match="unknown field 'colour'; known fields: action, outcome, user_email"
    ):
        resolve_field("colour")
